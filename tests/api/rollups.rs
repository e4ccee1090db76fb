//! The admin figures and counts read daily rollups maintained by triggers
//! (migration `…_purchase_rollups.sql`). Whatever happens to purchases
//! (inserts one by one or in bulk, status changes, refunds, moved completion
//! times, deletes) and whenever the deltas are compacted, every figure, the
//! chart, the package breakdown and every count equal a recomputation from
//! the purchases themselves.

use backend::admin::{self, PurchaseFilter, StatsPeriod};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use domain::{PackageCode, PurchaseStatus};
use proptest::{prelude::*, test_runner::TestRunner};
use sqlx::PgPool;

use crate::support::{TestDatabase, proptest_cases};

/// The first day purchases are made on; they span [`DAYS`] days from it.
fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
}
const DAYS: i64 = 8;
/// Seeded catalogue codes, and one no longer in the catalogue.
const CODES: [&str; 3] = ["starter", "pro", "retired"];

#[derive(Debug, Clone)]
enum Step {
    /// A purchase created `hour` hours after the first day began, in
    /// `status`, completed `completed_after` hours later (if at all).
    Insert {
        hour: i64,
        code: usize,
        renamed: bool,
        status: PurchaseStatus,
        completed_after: Option<i64>,
        cents: i64,
    },
    /// Many purchases in one statement.
    Bulk {
        count: i64,
        status: PurchaseStatus,
    },
    /// The `n`th purchase (modulo how many exist) moves to `status`, with
    /// `refunded_share` quarters of its price refunded and perhaps another
    /// completion time.
    Change {
        n: usize,
        status: PurchaseStatus,
        refunded_share: i64,
        completed_after: Option<i64>,
    },
    /// Every pending purchase expires, in one statement.
    ExpirePending,
    Delete {
        n: usize,
    },
    Compact,
}

fn status() -> impl Strategy<Value = PurchaseStatus> {
    prop::sample::select(PurchaseStatus::ALL.to_vec())
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..DAYS * 24, 0..CODES.len(), any::<bool>(), status(), prop::option::of(0..72i64), 0..10_000i64)
            .prop_map(|(hour, code, renamed, status, completed_after, cents)| Step::Insert {
                hour, code, renamed, status, completed_after, cents,
            }),
        1 => (1..40i64, status()).prop_map(|(count, status)| Step::Bulk { count, status }),
        3 => (any::<usize>(), status(), 0..=4i64, prop::option::of(0..72i64)).prop_map(
            |(n, status, refunded_share, completed_after)| Step::Change { n, status, refunded_share, completed_after }
        ),
        1 => Just(Step::ExpirePending),
        1 => any::<usize>().prop_map(|n| Step::Delete { n }),
        1 => Just(Step::Compact),
    ]
}

#[test]
fn the_rollups_always_equal_a_recomputation_from_the_purchases() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = TestDatabase::new();
    let pool = runtime.block_on(database.migrated_pool());
    let mut runner = TestRunner::new(ProptestConfig {
        cases: proptest_cases(16),
        ..ProptestConfig::default()
    });
    runner
        .run(&prop::collection::vec(step(), 1..30), |steps| {
            runtime.block_on(run(&pool, steps))
        })
        .unwrap();
}

async fn run(pool: &PgPool, steps: Vec<Step>) -> Result<(), TestCaseError> {
    sqlx::raw_sql("delete from credit_purchases; select purchase_rollups_compact();")
        .execute(pool)
        .await
        .unwrap();
    let user: uuid::Uuid = sqlx::query_scalar(
        "insert into users (keycloak_sub) values (gen_random_uuid()::text) returning id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let start = Utc.from_utc_datetime(&first_day().and_hms_opt(0, 0, 0).unwrap());
    for step in steps {
        apply(pool, user, start, step).await;
        check(pool).await?;
    }
    Ok(())
}

async fn apply(pool: &PgPool, user: uuid::Uuid, start: chrono::DateTime<Utc>, step: Step) {
    let paid = |status: PurchaseStatus| status.was_paid() || status == PurchaseStatus::NeedsReview;
    match step {
        Step::Insert {
            hour,
            code,
            renamed,
            status,
            completed_after,
            cents,
        } => {
            let created = start + Duration::hours(hour) + Duration::minutes(hour % 60);
            let completed = completed_after
                .filter(|_| paid(status))
                .map(|h| created + Duration::hours(h));
            let name = format!(
                "{} Pack{}",
                CODES[code],
                if renamed { " (old)" } else { "" }
            );
            sqlx::query(
                "insert into credit_purchases (user_id, package_code, package_name, amount_credits,
                     amount_paid_cents, status, created_at, completed_at, review_reason)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, case when $6 = 'needs_review' then 'amount' end)",
            )
            .bind(user)
            .bind(CODES[code])
            .bind(name)
            .bind(cents + 1)
            .bind(cents)
            .bind(status.as_str())
            .bind(created)
            .bind(completed)
            .execute(pool)
            .await
            .unwrap();
        }
        Step::Bulk { count, status } => {
            sqlx::query(
                "insert into credit_purchases (user_id, package_code, package_name, amount_credits,
                     amount_paid_cents, status, created_at, completed_at, review_reason)
                 select $1, (array['starter', 'pro', 'retired'])[1 + n % 3], 'Bulk', 10, n * 100, $2,
                        $3 + n * interval '5 hours',
                        case when $4 then $3 + n * interval '6 hours' end,
                        case when $2 = 'needs_review' then 'amount' end
                 from generate_series(1, $5) n",
            )
            .bind(user)
            .bind(status.as_str())
            .bind(start)
            .bind(paid(status))
            .bind(count)
            .execute(pool)
            .await
            .unwrap();
        }
        Step::Change {
            n,
            status,
            refunded_share,
            completed_after,
        } => {
            sqlx::query(
                "update credit_purchases set status = $2,
                     refunded_cents = amount_paid_cents * $3 / 4,
                     completed_at = case when $4::bigint is null then completed_at
                                         else created_at + $4 * interval '1 hour' end,
                     review_reason = case when $2 = 'needs_review' then 'amount' end
                 where id = (select id from credit_purchases order by created_at, id
                             offset $1 % greatest((select count(*) from credit_purchases), 1) limit 1)",
            )
            .bind((n % 1_000_000) as i64)
            .bind(status.as_str())
            .bind(refunded_share)
            .bind(completed_after)
            .execute(pool)
            .await
            .unwrap();
        }
        Step::ExpirePending => {
            sqlx::query("update credit_purchases set status = 'expired' where status = 'pending'")
                .execute(pool)
                .await
                .unwrap();
        }
        Step::Delete { n } => {
            sqlx::query(
                "delete from credit_purchases where id = (select id from credit_purchases order by created_at, id
                     offset $1 % greatest((select count(*) from credit_purchases), 1) limit 1)",
            )
            .bind((n % 1_000_000) as i64)
            .execute(pool)
            .await
            .unwrap();
        }
        Step::Compact => {
            admin::compact_rollups(pool).await.unwrap();
        }
    }
}

/// Every figure of several periods, and every count, against a recomputation.
async fn check(pool: &PgPool) -> Result<(), TestCaseError> {
    let day = |offset: i64| first_day() + Duration::days(offset);
    let periods = [(-1, DAYS + 4), (0, 0), (1, 3), (2, 2), (DAYS - 1, DAYS + 2)];
    for (from, to) in periods {
        let period = StatsPeriod::new(day(from), day(to)).unwrap();
        let rolled = admin::stats(pool, period).await.unwrap();
        let recomputed = admin::recompute(pool, period).await.unwrap();
        prop_assert_eq!(rolled, recomputed, "period {:?}", period);
    }
    let mut filters = vec![PurchaseFilter::default()];
    for status in PurchaseStatus::ALL {
        filters.push(PurchaseFilter {
            status: Some(status),
            ..PurchaseFilter::default()
        });
    }
    for code in CODES {
        filters.push(PurchaseFilter {
            package: Some(PackageCode::parse(code).unwrap()),
            created_from: Some(day(1)),
            created_to: Some(day(4)),
            ..PurchaseFilter::default()
        });
    }
    filters.push(PurchaseFilter {
        status: Some(PurchaseStatus::Completed),
        created_to: Some(day(2)),
        ..PurchaseFilter::default()
    });
    for filter in filters {
        let counted = admin::count_purchases(pool, &filter).await.unwrap();
        let exact = exact_count(pool, &filter).await;
        prop_assert_eq!(counted, exact, "filter {:?}", filter);
    }
    Ok(())
}

/// `count(*)` of the purchases `filter` matches, written out independently.
async fn exact_count(pool: &PgPool, filter: &PurchaseFilter) -> i64 {
    sqlx::query_scalar(
        "select count(*) from credit_purchases
         where ($1::text is null or status = $1)
           and ($2::text is null or package_code = $2)
           and ($3::date is null or (created_at at time zone 'UTC')::date >= $3)
           and ($4::date is null or (created_at at time zone 'UTC')::date <= $4)",
    )
    .bind(filter.status.map(PurchaseStatus::as_str))
    .bind(filter.package.as_ref().map(|c| c.as_str().to_owned()))
    .bind(filter.created_from)
    .bind(filter.created_to)
    .fetch_one(pool)
    .await
    .unwrap()
}
