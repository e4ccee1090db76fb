//! The admin dashboard's subscription figures: live plans by tier, monthly
//! recurring revenue (a yearly price counted as a twelfth), new and
//! churned subscriptions in a period beside the previous one, and who is
//! past due.

use chrono::{DateTime, Utc};
use domain::{BillingCycle, Cents, subscription::monthly_recurring};
use rust_decimal::Decimal;
use sqlx::PgPool;

use super::SubscriptionError;
use crate::{admin::StatsPeriod, ids::UserId};

/// Live plans of one tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierCount {
    pub tier_code: String,
    pub tier_name: String,
    pub live: i64,
}

/// A subscriber whose last payment failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastDue {
    pub user_id: UserId,
    pub email: Option<String>,
    pub subscription_id: String,
    pub tier_name: Option<String>,
    pub amount: Option<Cents>,
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionStats {
    /// Every tier in display order, with its live plans.
    pub by_tier: Vec<TierCount>,
    /// Monthly recurring revenue of the live plans, in dollars (exact).
    pub mrr: Decimal,
    /// Subscriptions started in the period / the previous period.
    pub new_current: i64,
    pub new_previous: i64,
    /// Subscriptions that ended in the period / the previous period.
    pub churned_current: i64,
    pub churned_previous: i64,
    pub past_due: Vec<PastDue>,
}

const LIVE: &str = "('trialing', 'active', 'past_due', 'unpaid', 'paused')";

pub async fn stats(
    pool: &PgPool,
    period: StatsPeriod,
) -> Result<SubscriptionStats, SubscriptionError> {
    let by_tier: Vec<(String, String, i64)> = sqlx::query_as(&format!(
        "select t.tier_code, t.tier_name, count(s.stripe_subscription_id) \
         from subscription_tiers t \
         left join subscriptions s on s.tier_code = t.tier_code and s.status in {LIVE} \
         group by t.tier_code, t.tier_name, t.display_order order by t.display_order"
    ))
    .fetch_all(pool)
    .await?;
    let revenue: Vec<(Option<String>, i64)> = sqlx::query_as(
        "select billing_cycle, coalesce(sum(amount_cents), 0)::bigint from subscriptions \
         where status in ('trialing', 'active', 'past_due') group by billing_cycle",
    )
    .fetch_all(pool)
    .await?;
    let mut mrr = Decimal::ZERO;
    for (cycle, cents) in revenue {
        let cycle = cycle
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or(BillingCycle::Monthly);
        let amount = Cents::new(cents).map_err(|e| SubscriptionError::Corrupt(e.to_string()))?;
        mrr += monthly_recurring(amount, cycle);
    }
    let count = |sql: &'static str, period: StatsPeriod| async move {
        let (start, end) = period.bounds();
        sqlx::query_scalar::<_, i64>(sql)
            .bind(start)
            .bind(end)
            .fetch_one(pool)
            .await
    };
    const NEW: &str =
        "select count(*) from subscriptions where started_at >= $1 and started_at < $2";
    const CHURNED: &str = "select count(*) from subscriptions \
         where status in ('canceled', 'incomplete_expired') and coalesce(ended_at, canceled_at) >= $1 \
         and coalesce(ended_at, canceled_at) < $2";
    let past_due = sqlx::query_as::<_, (UserId, Option<String>, String, Option<String>, Option<i64>, Option<DateTime<Utc>>)>(
        "select s.user_id, u.email, s.stripe_subscription_id, t.tier_name, s.amount_cents, s.current_period_start \
         from subscriptions s join users u on u.id = s.user_id \
         left join subscription_tiers t on t.tier_code = s.tier_code \
         where s.status in ('past_due', 'unpaid') order by s.current_period_start nulls last limit 100",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(user_id, email, subscription_id, tier_name, amount, since)| PastDue {
        user_id,
        email,
        subscription_id,
        tier_name,
        amount: amount.and_then(|a| Cents::new(a).ok()),
        since,
    })
    .collect();
    Ok(SubscriptionStats {
        by_tier: by_tier
            .into_iter()
            .map(|(tier_code, tier_name, live)| TierCount {
                tier_code,
                tier_name,
                live,
            })
            .collect(),
        mrr,
        new_current: count(NEW, period).await?,
        new_previous: count(NEW, period.previous()).await?,
        churned_current: count(CHURNED, period).await?,
        churned_previous: count(CHURNED, period.previous()).await?,
        past_due,
    })
}
