//! Benchmark, run on demand (not part of the test suite):
//!
//! ```sh
//! cargo test --test api admin_scale -- --ignored --nocapture
//! ```
//!
//! Fills a fresh database with a million purchases across 10,000 users over a
//! year, then times the admin dashboard's queries through the real service
//! functions: the first page of each sort, a page deep in the table (keyset),
//! filtered pages, the count, the figures and the CSV's first rows. It prints
//! the timings; it asserts only that the answers are right.

use std::time::{Duration, Instant};

use crate::support::TestDatabase;
use backend::admin::{self, FilterParams, Page, PurchaseQuery, StatsPeriod};
use futures_util::StreamExt;

const PURCHASES: i64 = 1_000_000;

/// Runs `work` three times (the first also warms PostgreSQL's cache) and
/// prints the best time; returns the last answer.
async fn timed<T>(label: &str, work: impl AsyncFn() -> T) -> T {
    let mut best = Duration::MAX;
    let mut answer = None;
    for _ in 0..3 {
        let started = Instant::now();
        answer = Some(work().await);
        best = best.min(started.elapsed());
    }
    println!("{label:<48} {:>8.1} ms", best.as_secs_f64() * 1000.0);
    answer.expect("ran")
}

#[tokio::test]
#[ignore = "benchmark: fills a database with a million purchases (about a minute)"]
async fn admin_queries_at_a_million_purchases() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let started = Instant::now();
    sqlx::raw_sql(&format!(
        "insert into users (keycloak_sub, email, name)
             select 'bench-' || n, 'user' || n || '@example.com', 'User ' || n
             from generate_series(1, 10000) n;
         insert into credit_purchases (user_id, package_code, package_name, amount_credits,
                 amount_paid_cents, status, refunded_cents, created_at, completed_at,
                 stripe_checkout_session_id, stripe_payment_intent_id)
             select u.id, p.code, p.name, p.credits, p.cents,
                    s.status,
                    case s.status when 'refunded' then p.cents when 'partially_refunded' then p.cents / 2 else 0 end,
                    t.at,
                    case when s.status in ('completed', 'refunded', 'partially_refunded') then t.at + interval '2 minutes' end,
                    'cs_bench_' || n, 'pi_bench_' || n
             from generate_series(1, {PURCHASES}) n
             cross join lateral (select now() - (n % 365) * interval '1 day' - (n % 1440) * interval '1 minute' as at) t
             cross join lateral (select (array['starter','standard','pro','enterprise'])[1 + n % 4] as code) c
             cross join lateral (select c.code,
                     initcap(c.code) || ' Pack' as name,
                     (array[1000, 5000, 10000, 50000])[1 + n % 4]::bigint as credits,
                     (array[1000, 4500, 8000, 35000])[1 + n % 4]::bigint as cents) p
             cross join lateral (select (array['completed','completed','completed','completed','completed',
                     'completed','pending','failed','expired','refunded','partially_refunded'])[1 + n % 11] as status) s
             join users u on u.keycloak_sub = 'bench-' || (1 + n % 10000);
         analyze;"
    ))
    .execute(&pool)
    .await
    .expect("bench data");
    println!(
        "inserted {PURCHASES} purchases in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let params = |status: Option<&str>, package: Option<&str>, user: Option<&str>, sort: &str| {
        admin::parse_filter(&FilterParams {
            status: status.map(str::to_owned),
            package: package.map(str::to_owned),
            user: user.map(str::to_owned),
            sort: Some(sort.to_owned()),
            ..FilterParams::default()
        })
        .unwrap()
    };
    let page = |filter, sort, after| PurchaseQuery {
        filter,
        sort,
        page: Page::Keyset { limit: 25, after },
    };

    let (all, by_date) = params(None, None, None, "created_at");
    let first = timed("first page, newest first", async || {
        admin::list_purchases(&pool, &page(all.clone(), by_date, None)).await
    })
    .await
    .unwrap();
    assert_eq!(first.rows.len(), 25);
    // Walk 400 pages in (10,000 rows), then time the next one.
    let mut cursor = first.next_cursor;
    for _ in 0..400 {
        cursor = admin::list_purchases(&pool, &page(all.clone(), by_date, cursor))
            .await
            .unwrap()
            .next_cursor;
    }
    let deep = timed("page 401 (keyset)", async || {
        admin::list_purchases(&pool, &page(all.clone(), by_date, cursor)).await
    })
    .await
    .unwrap();
    assert_eq!(deep.rows.len(), 25);

    let (_, by_amount) = params(None, None, None, "amount");
    timed("first page, by amount", async || {
        admin::list_purchases(&pool, &page(all.clone(), by_amount, None)).await
    })
    .await
    .unwrap();
    let (completed_starter, sort) = params(Some("completed"), Some("starter"), None, "created_at");
    let rows = timed("completed Starter purchases", async || {
        admin::list_purchases(&pool, &page(completed_starter.clone(), sort, None)).await
    })
    .await
    .unwrap();
    assert!(rows.rows.iter().all(|r| r.package_code == "starter"));
    let (one_user, sort) = params(None, None, Some("user4242@example.com"), "created_at");
    let rows = timed("one user's purchases (e-mail search)", async || {
        admin::list_purchases(&pool, &page(one_user.clone(), sort, None)).await
    })
    .await
    .unwrap();
    assert_eq!(rows.rows.len(), 25);

    let total = timed("count, unfiltered", async || {
        admin::count_purchases(&pool, &all).await
    })
    .await
    .unwrap();
    assert_eq!(total, PURCHASES);
    timed("count, completed Starter", async || {
        admin::count_purchases(&pool, &completed_starter).await
    })
    .await
    .unwrap();
    timed("count, one user", async || {
        admin::count_purchases(&pool, &one_user).await
    })
    .await
    .unwrap();

    for days in [7, 30, 90] {
        let period = StatsPeriod::last_days(chrono::Utc::now().date_naive(), days);
        let stats = timed(
            &format!("figures, chart and packages, {days} days"),
            async || admin::stats(&pool, period).await,
        )
        .await
        .unwrap();
        assert!(stats.current.purchases > 0);
    }

    let started = Instant::now();
    let csv: Vec<_> = admin::export_csv(pool.clone(), completed_starter, sort)
        .take(1001)
        .collect()
        .await;
    println!(
        "{:<48} {:>8.1} ms",
        "CSV: header and first 1,000 rows",
        started.elapsed().as_secs_f64() * 1000.0
    );
    assert_eq!(csv.len(), 1001);
}
