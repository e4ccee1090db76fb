//! Dashboard figures for a period of whole UTC days, beside the period of
//! the same length just before it.
//!
//! How purchases are counted:
//! - **Revenue**, **purchases**, **credits sold**: purchases that were paid
//!   (`completed`, `partially_refunded` or `refunded`), in the period in which
//!   they completed (`completed_at`), at the amount paid.
//! - **Refunds**: what has been refunded so far of those same purchases,
//!   whenever the refund happened; **net** = revenue − refunds. A later refund
//!   therefore lowers the net of the period the purchase was made in.
//! - **Conversion**: of the checkouts started in the period (`created_at`,
//!   any status), the share that got paid.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use domain::{Cents, Credits, PurchaseStatus};
use sqlx::PgPool;

use super::{
    AdminError,
    filter::{FIRST_DAY, LAST_DAY, day_start},
};

/// Whole UTC days `from..=to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatsPeriod {
    from: NaiveDate,
    to: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadPeriod {
    #[error("the period must not end before it starts")]
    Reversed,
    #[error("the period must be at most {} days", StatsPeriod::MAX_DAYS)]
    TooLong,
    #[error("the period must lie between {FIRST_DAY} and {LAST_DAY}")]
    OutOfRange,
}

impl StatsPeriod {
    /// The longest period the dashboard computes (about three years).
    pub const MAX_DAYS: i64 = 1100;
    /// The dashboard's default: the last 30 days, today included.
    pub const DEFAULT_DAYS: u64 = 30;

    /// Whole days `from..=to`, both within [`FIRST_DAY`]..=[`LAST_DAY`]
    /// (so the previous period and the day after `to` never overflow).
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, BadPeriod> {
        if from < FIRST_DAY || to > LAST_DAY {
            return Err(BadPeriod::OutOfRange);
        }
        if to < from {
            return Err(BadPeriod::Reversed);
        }
        if (to - from).num_days() + 1 > Self::MAX_DAYS {
            return Err(BadPeriod::TooLong);
        }
        Ok(StatsPeriod { from, to })
    }

    /// The `days` days ending with `today` (`days` ≥ 1).
    pub fn last_days(today: NaiveDate, days: u64) -> Self {
        let days = days.clamp(1, Self::MAX_DAYS as u64);
        StatsPeriod {
            from: today - Days::new(days - 1),
            to: today,
        }
    }

    /// The last 30 days up to today (UTC).
    pub fn default_for(now: DateTime<Utc>) -> Self {
        Self::last_days(now.date_naive(), Self::DEFAULT_DAYS)
    }

    pub fn from(&self) -> NaiveDate {
        self.from
    }

    pub fn to(&self) -> NaiveDate {
        self.to
    }

    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The period of the same length that ends the day before this one starts.
    pub fn previous(&self) -> Self {
        let to = self.from - Days::new(1);
        StatsPeriod {
            from: to - Days::new(self.days() as u64 - 1),
            to,
        }
    }

    /// `[start of the first day, start of the day after the last)`.
    pub fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (day_start(self.from), day_start(self.to + Days::new(1)))
    }
}

/// Headline figures for one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    /// Paid purchases completed in the period, at the amount paid.
    pub revenue: Cents,
    /// Refunded so far of those purchases.
    pub refunds: Cents,
    /// `revenue − refunds`.
    pub net: Cents,
    /// How many paid purchases completed in the period.
    pub purchases: i64,
    /// Credits those purchases granted.
    pub credits_sold: Credits,
    /// Checkouts started in the period, whatever became of them.
    pub checkouts_started: i64,
    /// Of those, how many got paid.
    pub checkouts_paid: i64,
}

impl Figures {
    /// `checkouts_paid ÷ checkouts_started` in 0..=1; `None` without checkouts.
    pub fn conversion(&self) -> Option<f64> {
        (self.checkouts_started > 0)
            .then(|| self.checkouts_paid as f64 / self.checkouts_started as f64)
    }
}

/// One day of the revenue chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyRevenue {
    pub day: NaiveDate,
    pub revenue: Cents,
    pub refunds: Cents,
    pub net: Cents,
    pub purchases: i64,
}

/// Paid purchases of one package in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSales {
    pub package_code: String,
    /// The catalogue's current name (the purchase's own when the package is gone).
    pub package_name: String,
    pub purchases: i64,
    pub revenue: Cents,
    pub refunds: Cents,
    pub credits: Credits,
}

/// Everything the dashboard's header, chart and package breakdown show.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardStats {
    pub period: StatsPeriod,
    pub current: Figures,
    /// The same figures for [`StatsPeriod::previous`].
    pub previous: Figures,
    /// Every day of the period, oldest first, zero on days without sales.
    pub daily: Vec<DailyRevenue>,
    /// Best-selling (by revenue) first.
    pub by_package: Vec<PackageSales>,
}

/// The figures, chart and breakdown for `period`, from the daily rollups
/// and their pending deltas (`purchase_rollup_parts`, summed as they are):
/// a few thousand rows for any period.
pub async fn stats(pool: &PgPool, period: StatsPeriod) -> Result<DashboardStats, AdminError> {
    stats_from(pool, period, Source::Rollups).await
}

/// [`stats`] recomputed from every purchase in the period: what the rollups
/// must always equal (the tests check it).
pub async fn recompute(pool: &PgPool, period: StatsPeriod) -> Result<DashboardStats, AdminError> {
    stats_from(pool, period, Source::Purchases).await
}

/// Folds the rollups' pending deltas into the daily rows (readers see the
/// same sums before and after); returns how many deltas it folded.
pub async fn compact_rollups(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select purchase_rollups_compact()")
        .fetch_one(pool)
        .await
}

/// [`compact_rollups`] every `every`, for as long as the process runs.
pub async fn compact_rollups_every(pool: PgPool, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(error) = compact_rollups(&pool).await {
            tracing::error!(error = %crate::error_chain(&error), "purchase rollup compaction failed");
        }
    }
}

/// Where the figures are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Rollups,
    Purchases,
}

async fn stats_from(
    pool: &PgPool,
    period: StatsPeriod,
    source: Source,
) -> Result<DashboardStats, AdminError> {
    Ok(DashboardStats {
        period,
        current: figures(pool, period, source).await?,
        previous: figures(pool, period.previous(), source).await?,
        daily: daily(pool, period, source).await?,
        by_package: by_package(pool, period, source).await?,
    })
}

fn cents(value: i64) -> Result<Cents, AdminError> {
    Ok(Cents::new(value)?)
}

/// `$1`..`$2` (timestamps of whole days) as rollup days.
const ROLLUP_DAYS: &str =
    "day >= ($1 at time zone 'UTC')::date and day < ($2 at time zone 'UTC')::date";

async fn figures(
    pool: &PgPool,
    period: StatsPeriod,
    source: Source,
) -> Result<Figures, AdminError> {
    let (start, end) = period.bounds();
    let sql = match source {
        Source::Rollups => format!(
            "select coalesce(sum(revenue_cents) filter (where status = any($3)), 0)::bigint,
                    coalesce(sum(refunded_cents) filter (where status = any($3)), 0)::bigint,
                    coalesce(sum(paid) filter (where status = any($3)), 0)::bigint,
                    coalesce(sum(credits) filter (where status = any($3)), 0)::bigint,
                    coalesce(sum(started), 0)::bigint,
                    coalesce(sum(started) filter (where status = any($3)), 0)::bigint
             from purchase_rollup_parts where {ROLLUP_DAYS}"
        ),
        Source::Purchases => "with paid as (
                 select amount_paid_cents, refunded_cents, amount_credits from credit_purchases
                 where status = any($3) and completed_at >= $1 and completed_at < $2
             ), started as (
                 select status from credit_purchases where created_at >= $1 and created_at < $2
             )
             select (select coalesce(sum(amount_paid_cents), 0)::bigint from paid),
                    (select coalesce(sum(refunded_cents), 0)::bigint from paid),
                    (select count(*) from paid),
                    (select coalesce(sum(amount_credits), 0)::bigint from paid),
                    (select count(*) from started),
                    (select count(*) from started where status = any($3))"
            .to_owned(),
    };
    let (revenue, refunds, purchases, credits, started, paid): (i64, i64, i64, i64, i64, i64) =
        sqlx::query_as(&sql)
            .bind(start)
            .bind(end)
            .bind(PurchaseStatus::paid_statuses())
            .fetch_one(pool)
            .await?;
    Ok(Figures {
        revenue: cents(revenue)?,
        refunds: cents(refunds)?,
        net: cents(revenue - refunds)?,
        purchases,
        credits_sold: Credits::signed(credits),
        checkouts_started: started,
        checkouts_paid: paid,
    })
}

async fn daily(
    pool: &PgPool,
    period: StatsPeriod,
    source: Source,
) -> Result<Vec<DailyRevenue>, AdminError> {
    let (start, end) = period.bounds();
    let sql = match source {
        Source::Rollups => format!(
            "select day, sum(revenue_cents)::bigint, sum(refunded_cents)::bigint, sum(paid)::bigint
             from purchase_rollup_parts
             where status = any($3) and {ROLLUP_DAYS}
             group by 1"
        ),
        Source::Purchases => "select (completed_at at time zone 'UTC')::date as day,
                coalesce(sum(amount_paid_cents), 0)::bigint,
                coalesce(sum(refunded_cents), 0)::bigint,
                count(*)
             from credit_purchases
             where status = any($3) and completed_at >= $1 and completed_at < $2
             group by 1"
            .to_owned(),
    };
    let rows: Vec<(NaiveDate, i64, i64, i64)> = sqlx::query_as(&sql)
        .bind(start)
        .bind(end)
        .bind(PurchaseStatus::paid_statuses())
        .fetch_all(pool)
        .await?;
    let mut by_day: BTreeMap<NaiveDate, (i64, i64, i64)> = rows
        .into_iter()
        .map(|(day, revenue, refunds, count)| (day, (revenue, refunds, count)))
        .collect();
    period
        .from
        .iter_days()
        .take_while(|day| *day <= period.to)
        .map(|day| {
            let (revenue, refunds, purchases) = by_day.remove(&day).unwrap_or_default();
            Ok(DailyRevenue {
                day,
                revenue: cents(revenue)?,
                refunds: cents(refunds)?,
                net: cents(revenue - refunds)?,
                purchases,
            })
        })
        .collect()
}

async fn by_package(
    pool: &PgPool,
    period: StatsPeriod,
    source: Source,
) -> Result<Vec<PackageSales>, AdminError> {
    let (start, end) = period.bounds();
    let sql = match source {
        Source::Rollups => format!(
            // A name counts only where something was paid under it: the
            // parts are summed per (code, name) first.
            "select t.package_code,
                    coalesce(max(c.package_name), max(t.package_name)),
                    sum(t.paid)::bigint,
                    sum(t.revenue_cents)::bigint,
                    sum(t.refunded_cents)::bigint,
                    sum(t.credits)::bigint
             from (select package_code, package_name, sum(paid) as paid,
                          sum(revenue_cents) as revenue_cents,
                          sum(refunded_cents) as refunded_cents, sum(credits) as credits
                   from purchase_rollup_parts
                   where status = any($3) and {ROLLUP_DAYS}
                   group by 1, 2
                   having sum(paid) > 0) t
             left join credit_packages c on c.package_code = t.package_code
             group by t.package_code
             order by 4 desc, 1"
        ),
        Source::Purchases => "select p.package_code,
                coalesce(max(c.package_name), max(p.package_name)),
                count(*),
                sum(p.amount_paid_cents)::bigint,
                sum(p.refunded_cents)::bigint,
                sum(p.amount_credits)::bigint
             from credit_purchases p
             left join credit_packages c on c.package_code = p.package_code
             where p.status = any($3) and p.completed_at >= $1 and p.completed_at < $2
             group by p.package_code
             order by 4 desc, 1"
            .to_owned(),
    };
    let rows: Vec<(String, String, i64, i64, i64, i64)> = sqlx::query_as(&sql)
        .bind(start)
        .bind(end)
        .bind(PurchaseStatus::paid_statuses())
        .fetch_all(pool)
        .await?;
    rows.into_iter()
        .map(
            |(package_code, package_name, purchases, revenue, refunds, credits)| {
                Ok(PackageSales {
                    package_code,
                    package_name,
                    purchases,
                    revenue: cents(revenue)?,
                    refunds: cents(refunds)?,
                    credits: Credits::signed(credits),
                })
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_previous_period_has_the_same_length_and_ends_the_day_before() {
        let period = StatsPeriod::new(day("2026-03-01"), day("2026-03-30")).unwrap();
        assert_eq!(period.days(), 30);
        let previous = period.previous();
        assert_eq!(
            (previous.from(), previous.to()),
            (day("2026-01-30"), day("2026-02-28"))
        );
        assert_eq!(
            StatsPeriod::last_days(day("2026-03-30"), 30),
            period,
            "last 30 days include today"
        );
        assert_eq!(
            StatsPeriod::new(day("2026-03-02"), day("2026-03-01")),
            Err(BadPeriod::Reversed)
        );
    }

    #[test]
    fn conversion_is_none_without_checkouts() {
        let mut figures = Figures {
            revenue: Cents::ZERO,
            refunds: Cents::ZERO,
            net: Cents::ZERO,
            purchases: 0,
            credits_sold: Credits::ZERO,
            checkouts_started: 0,
            checkouts_paid: 0,
        };
        assert_eq!(figures.conversion(), None);
        figures.checkouts_started = 4;
        figures.checkouts_paid = 3;
        assert_eq!(figures.conversion(), Some(0.75));
    }
}
