//! Grants an admin gives (promotional credits, to one user or to every
//! subscriber of a tier), and the sweep that expires grants and holds.

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{Credits, ids::UserId};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    admin::AdjustmentReason,
    audit::{self, Actor},
};

/// Who receives promotional credits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromotionTarget {
    User(UserId),
    /// Every user whose subscription on this tier is live (trialing,
    /// active or past due).
    Tier(String),
}

/// Promotional credits as an admin grants them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPromotion {
    pub target: PromotionTarget,
    /// Per user: 1 to [`Credits::MAX_ADJUSTMENT`].
    pub amount: Credits,
    pub reason: AdjustmentReason,
    /// `None`: they never expire.
    pub expires_at: Option<DateTime<Utc>>,
    /// The same id grants once (a retried form).
    pub request_id: Uuid,
}

#[derive(Debug, thiserror::Error)]
pub enum PromotionError {
    #[error("promotional credits must be from 1 to {max} per user")]
    Amount { max: i64 },
    #[error("the expiry must be in the future")]
    ExpiryInPast,
    #[error("there is no user {0}")]
    UnknownUser(UserId),
    #[error("there is no tier {0:?}")]
    UnknownTier(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// What a promotion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promoted {
    /// Users who received the credits now (a repeated request: none).
    pub users: u64,
    pub amount_each: i64,
}

/// Grants `promotion` as `admin`: one ledger row (source `promotional`)
/// per user, its grant expiring at `expires_at`, and one audit row, in one
/// transaction.
pub async fn grant_promotional(
    pool: &PgPool,
    admin: UserId,
    promotion: &NewPromotion,
) -> Result<Promoted, PromotionError> {
    let amount = promotion.amount.get();
    if !(1..=Credits::MAX_ADJUSTMENT).contains(&amount) {
        return Err(PromotionError::Amount {
            max: Credits::MAX_ADJUSTMENT,
        });
    }
    if promotion.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(PromotionError::ExpiryInPast);
    }
    let mut tx = pool.begin().await?;
    let (users, tier): (Vec<UserId>, Option<&str>) = match &promotion.target {
        PromotionTarget::User(user) => {
            let exists: bool =
                sqlx::query_scalar("select exists (select 1 from users where id = $1)")
                    .bind(user)
                    .fetch_one(&mut *tx)
                    .await?;
            if !exists {
                return Err(PromotionError::UnknownUser(*user));
            }
            (vec![*user], None)
        }
        PromotionTarget::Tier(code) => {
            let exists: bool = sqlx::query_scalar(
                "select exists (select 1 from subscription_tiers where tier_code = $1)",
            )
            .bind(code)
            .fetch_one(&mut *tx)
            .await?;
            if !exists {
                return Err(PromotionError::UnknownTier(code.clone()));
            }
            let users = sqlx::query_scalar(
                "select distinct user_id from subscriptions \
                 where tier_code = $1 and status in ('trialing', 'active', 'past_due') \
                 order by user_id",
            )
            .bind(code)
            .fetch_all(&mut *tx)
            .await?;
            (users, Some(code.as_str()))
        }
    };
    // In user order, so two promotions lock balance rows in the same order.
    let inserted = sqlx::query(
        "insert into credit_ledger (user_id, amount, source, reference, description, grant_kind, expires_at) \
         select u, $2, 'promotional', 'promotional:' || $3 || ':' || u, $4, 'promotional', $5 \
         from unnest($1::uuid[]) as u order by u \
         on conflict on constraint credit_ledger_reference_key do nothing",
    )
    .bind(&users)
    .bind(amount)
    .bind(promotion.request_id.to_string())
    .bind(promotion.reason.as_str())
    .bind(promotion.expires_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted > 0 {
        audit::record(
            &mut tx,
            audit::NewEntry {
                actor: Actor::Admin(admin),
                action: "credits.promotional_granted",
                user: match &promotion.target {
                    PromotionTarget::User(user) => Some(*user),
                    PromotionTarget::Tier(_) => None,
                },
                purchase: None,
                ledger: None,
                details: json!({
                    "amount": amount,
                    "users": inserted,
                    "tier": tier,
                    "reason": promotion.reason.as_str(),
                    "expires_at": promotion.expires_at,
                    "request_id": promotion.request_id,
                }),
                occurred_at: None,
            },
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(admin = %admin, users = inserted, amount, "promotional credits granted");
    Ok(Promoted {
        users: inserted,
        amount_each: amount,
    })
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub grants_expired: u64,
    pub credits_expired: i64,
    pub holds_expired: u64,
    pub keys_forgotten: u64,
}

/// How many grants or holds one sweep handles at most.
const SWEEP_BATCH: i64 = 1000;

/// Expires what is due: each grant past its expiry gives back its unused
/// remainder through the ledger (once, even with several instances
/// sweeping at once), holds past their TTL are marked expired (the
/// available balance already ignored them), and idempotency keys older
/// than 48 hours are forgotten.
pub async fn sweep(pool: &PgPool) -> Result<SweepReport, sqlx::Error> {
    let mut report = SweepReport::default();
    let due: Vec<Uuid> = sqlx::query_scalar(
        "select id from credit_grants where remaining > 0 and expires_at <= now() \
         order by expires_at limit $1",
    )
    .bind(SWEEP_BATCH)
    .fetch_all(pool)
    .await?;
    for grant in due {
        // One transaction per grant: it locks that user's balance row only.
        let taken: Option<i64> = sqlx::query_scalar("select wallet_expire_grant($1)")
            .bind(grant)
            .fetch_one(pool)
            .await?;
        if let Some(credits) = taken {
            report.grants_expired += 1;
            report.credits_expired += credits;
        }
    }
    report.holds_expired = sqlx::query(
        "update credit_holds set status = 'expired', settled_at = now() where id in ( \
             select id from credit_holds where status = 'open' and expires_at <= now() \
             order by expires_at limit $1 for update skip locked)",
    )
    .bind(SWEEP_BATCH)
    .execute(pool)
    .await?
    .rows_affected();
    report.keys_forgotten = sqlx::query(
        "delete from wallet_requests where (client_id, key) in ( \
             select client_id, key from wallet_requests \
             where created_at < now() - interval '48 hours' limit $1)",
    )
    .bind(SWEEP_BATCH * 10)
    .execute(pool)
    .await?
    .rows_affected();
    if report != SweepReport::default() {
        tracing::info!(
            grants = report.grants_expired,
            credits = report.credits_expired,
            holds = report.holds_expired,
            keys = report.keys_forgotten,
            "wallet sweep"
        );
    }
    Ok(report)
}

/// Sweeps every `every`, for as long as the process runs.
pub async fn sweep_every(pool: PgPool, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(error) = sweep(&pool).await {
            tracing::error!(error = %crate::error_chain(&error), "wallet sweep failed");
        }
    }
}
