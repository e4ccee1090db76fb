//! The admin dashboard's service functions against a real database: figures
//! and chart data against hand-computed values, the purchase table's
//! filters, sorts and pages, the CSV export, manual adjustments and the demo
//! seeding.

use crate::support::TestDatabase;
use backend::{
    admin::{
        self, AdjustmentError, AdjustmentReason, CreditAdjustment, Cursor, Page, PurchaseFilter,
        PurchaseQuery, PurchaseSort, SortDirection, SortKey, StatsPeriod, UserSearch,
    },
    ids::{PurchaseId, UserId},
};
use chrono::{DateTime, NaiveDate, Utc};
use domain::{Cents, Credits, PackageCode, PurchaseStatus};
use futures_util::TryStreamExt;
use sqlx::PgPool;
use uuid::Uuid;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

async fn user(pool: &PgPool, sub: &str, email: &str, name: &str) -> UserId {
    UserId::from_uuid(
        sqlx::query_scalar(
            "insert into users (keycloak_sub, email, name) values ($1, $2, $3) returning id",
        )
        .bind(sub)
        .bind(email)
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap(),
    )
}

/// `(package code, name, credits, cents)` of the seeded catalogue.
fn package(code: &str) -> (&'static str, i64, i64) {
    match code {
        "starter" => ("Starter Pack", 1_000, 1_000),
        "standard" => ("Standard Pack", 5_000, 4_500),
        "pro" => ("Pro Pack", 10_000, 8_000),
        "enterprise" => ("Enterprise Pack", 50_000, 35_000),
        other => panic!("{other}"),
    }
}

struct Row<'a> {
    user: UserId,
    code: &'a str,
    status: &'a str,
    refunded: i64,
    created: &'a str,
    completed: Option<&'a str>,
}

async fn purchase(pool: &PgPool, n: usize, row: Row<'_>) -> PurchaseId {
    let (name, credits, cents) = package(row.code);
    PurchaseId::from_uuid(
        sqlx::query_scalar(
            "insert into credit_purchases
                 (user_id, package_code, package_name, amount_credits, amount_paid_cents, status,
                  refunded_cents, stripe_checkout_session_id, stripe_payment_intent_id, created_at, completed_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id",
        )
        .bind(row.user)
        .bind(row.code)
        .bind(name)
        .bind(credits)
        .bind(cents)
        .bind(row.status)
        .bind(row.refunded)
        .bind(format!("cs_test_{n}"))
        .bind(row.completed.map(|_| format!("pi_test_{n}")))
        .bind(at(row.created))
        .bind(row.completed.map(at))
        .fetch_one(pool)
        .await
        .unwrap(),
    )
}

struct Seeded {
    alice: UserId,
    bob: UserId,
    carol: UserId,
    /// Every purchase, by its name in the comments below.
    ids: std::collections::HashMap<&'static str, PurchaseId>,
}

/// The hand-computed data set. Current period 2026-03-01..=2026-03-10,
/// previous 2026-02-19..=2026-02-28 (UTC).
async fn seed(pool: &PgPool) -> Seeded {
    let alice = user(pool, "sub-alice", "alice@example.com", "Alice Anderson").await;
    let bob = user(pool, "sub-bob", "bob@example.com", "Bob Brown").await;
    // A name that a spreadsheet would run as a formula, with a comma and quotes.
    let carol = user(pool, "sub-carol", "carol@corp.test", "=Carol, \"CEO\"").await;
    let rows: [(&str, Row); 12] = [
        (
            "P1",
            Row {
                user: alice,
                code: "starter",
                status: "completed",
                refunded: 0,
                created: "2026-03-01T10:00:00Z",
                completed: Some("2026-03-01T10:05:00Z"),
            },
        ),
        (
            "P2",
            Row {
                user: alice,
                code: "standard",
                status: "partially_refunded",
                refunded: 900,
                created: "2026-03-02T12:00:00Z",
                completed: Some("2026-03-02T12:01:00Z"),
            },
        ),
        // Completes just after midnight: a sale of 03-03.
        (
            "P3",
            Row {
                user: bob,
                code: "pro",
                status: "refunded",
                refunded: 8_000,
                created: "2026-03-02T23:59:00Z",
                completed: Some("2026-03-03T00:00:30Z"),
            },
        ),
        (
            "P4",
            Row {
                user: bob,
                code: "starter",
                status: "expired",
                refunded: 0,
                created: "2026-03-04T08:00:00Z",
                completed: None,
            },
        ),
        (
            "P5",
            Row {
                user: carol,
                code: "enterprise",
                status: "completed",
                refunded: 0,
                created: "2026-03-05T09:00:00Z",
                completed: Some("2026-03-05T09:03:00Z"),
            },
        ),
        (
            "P6",
            Row {
                user: carol,
                code: "starter",
                status: "pending",
                refunded: 0,
                created: "2026-03-10T23:00:00Z",
                completed: None,
            },
        ),
        (
            "P7",
            Row {
                user: alice,
                code: "standard",
                status: "failed",
                refunded: 0,
                created: "2026-03-06T15:00:00Z",
                completed: None,
            },
        ),
        // Started in the previous period, completed in the current one.
        (
            "P8",
            Row {
                user: bob,
                code: "starter",
                status: "completed",
                refunded: 0,
                created: "2026-02-28T23:50:00Z",
                completed: Some("2026-03-01T00:10:00Z"),
            },
        ),
        // Started in the current period, completed after it.
        (
            "P9",
            Row {
                user: alice,
                code: "starter",
                status: "completed",
                refunded: 0,
                created: "2026-03-10T23:59:59Z",
                completed: Some("2026-03-11T00:00:01Z"),
            },
        ),
        (
            "Q1",
            Row {
                user: alice,
                code: "pro",
                status: "completed",
                refunded: 0,
                created: "2026-02-20T10:00:00Z",
                completed: Some("2026-02-20T10:01:00Z"),
            },
        ),
        (
            "Q2",
            Row {
                user: bob,
                code: "starter",
                status: "expired",
                refunded: 0,
                created: "2026-02-21T10:00:00Z",
                completed: None,
            },
        ),
        // Long before both periods.
        (
            "R1",
            Row {
                user: carol,
                code: "pro",
                status: "completed",
                refunded: 0,
                created: "2026-01-01T10:00:00Z",
                completed: Some("2026-01-01T10:01:00Z"),
            },
        ),
    ];
    let mut ids = std::collections::HashMap::new();
    for (n, (name, row)) in rows.into_iter().enumerate() {
        ids.insert(name, purchase(pool, n, row).await);
    }
    Seeded {
        alice,
        bob,
        carol,
        ids,
    }
}

#[tokio::test]
async fn figures_and_chart_match_hand_computed_values() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    seed(&pool).await;
    let period = StatsPeriod::new(day("2026-03-01"), day("2026-03-10")).unwrap();

    let stats = admin::stats(&pool, period).await.unwrap();

    // Paid and completed 03-01..=03-10: P1 10.00, P2 45.00 (9.00 refunded),
    // P3 80.00 (all refunded), P5 350.00, P8 10.00.
    let current = stats.current;
    assert_eq!(current.revenue, Cents::new(49_500).unwrap());
    assert_eq!(current.refunds, Cents::new(8_900).unwrap());
    assert_eq!(current.net, Cents::new(40_600).unwrap());
    assert_eq!(current.purchases, 5);
    assert_eq!(current.credits_sold, Credits::signed(67_000));
    // Started 03-01..=03-10: P1-P7 and P9 (8); paid of those: P1, P2, P3, P5, P9.
    assert_eq!((current.checkouts_started, current.checkouts_paid), (8, 5));
    assert_eq!(current.conversion(), Some(0.625));

    // Previous period 02-19..=02-28: Q1 paid; started Q1, Q2, P8 (P8 paid later).
    let previous = stats.previous;
    assert_eq!(previous.revenue, Cents::new(8_000).unwrap());
    assert_eq!(previous.refunds, Cents::ZERO);
    assert_eq!(previous.purchases, 1);
    assert_eq!(previous.credits_sold, Credits::signed(10_000));
    assert_eq!(
        (previous.checkouts_started, previous.checkouts_paid),
        (3, 2)
    );

    // Every day of the period, zeros included.
    let daily: Vec<(String, i64, i64, i64, i64)> = stats
        .daily
        .iter()
        .map(|d| {
            (
                d.day.to_string(),
                d.revenue.get(),
                d.refunds.get(),
                d.net.get(),
                d.purchases,
            )
        })
        .collect();
    let expected = [
        ("2026-03-01", 2_000, 0, 2_000, 2),
        ("2026-03-02", 4_500, 900, 3_600, 1),
        ("2026-03-03", 8_000, 8_000, 0, 1),
        ("2026-03-04", 0, 0, 0, 0),
        ("2026-03-05", 35_000, 0, 35_000, 1),
        ("2026-03-06", 0, 0, 0, 0),
        ("2026-03-07", 0, 0, 0, 0),
        ("2026-03-08", 0, 0, 0, 0),
        ("2026-03-09", 0, 0, 0, 0),
        ("2026-03-10", 0, 0, 0, 0),
    ]
    .map(|(d, r, f, n, p)| (d.to_owned(), r, f, n, p));
    assert_eq!(daily, expected);
    let chart_total: i64 = stats.daily.iter().map(|d| d.revenue.get()).sum();
    assert_eq!(chart_total, current.revenue.get());

    let by_package: Vec<(&str, &str, i64, i64, i64, i64)> = stats
        .by_package
        .iter()
        .map(|p| {
            (
                p.package_code.as_str(),
                p.package_name.as_str(),
                p.purchases,
                p.revenue.get(),
                p.refunds.get(),
                p.credits.get(),
            )
        })
        .collect();
    assert_eq!(
        by_package,
        [
            ("enterprise", "Enterprise Pack", 1, 35_000, 0, 50_000),
            ("pro", "Pro Pack", 1, 8_000, 8_000, 10_000),
            ("standard", "Standard Pack", 1, 4_500, 900, 5_000),
            ("starter", "Starter Pack", 2, 2_000, 0, 2_000),
        ]
    );

    // An empty period: zeros, no conversion.
    let empty = admin::stats(
        &pool,
        StatsPeriod::new(day("2025-06-01"), day("2025-06-07")).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(empty.current.revenue, Cents::ZERO);
    assert_eq!(empty.current.conversion(), None);
    assert_eq!(empty.daily.len(), 7);
}

fn query(
    filter: PurchaseFilter,
    key: SortKey,
    direction: SortDirection,
    page: Page,
) -> PurchaseQuery {
    PurchaseQuery {
        filter,
        sort: PurchaseSort { key, direction },
        page,
    }
}

const ALL: Page = Page::Offset {
    limit: 500,
    offset: 0,
};

async fn ids(pool: &PgPool, q: &PurchaseQuery) -> Vec<PurchaseId> {
    admin::list_purchases(pool, q)
        .await
        .unwrap()
        .rows
        .into_iter()
        .map(|p| p.id)
        .collect()
}

#[tokio::test]
async fn filters_sorting_and_pages_return_the_right_rows() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let s = seed(&pool).await;
    let named = |names: &[&str]| -> Vec<PurchaseId> { names.iter().map(|n| s.ids[n]).collect() };
    let newest_first =
        |filter: PurchaseFilter| query(filter, SortKey::CreatedAt, SortDirection::Desc, ALL);

    // Everything, newest first.
    let all = ids(&pool, &newest_first(PurchaseFilter::default())).await;
    assert_eq!(
        all,
        named(&[
            "P9", "P6", "P7", "P5", "P4", "P3", "P2", "P1", "P8", "Q2", "Q1", "R1"
        ])
    );
    assert_eq!(
        admin::count_purchases(&pool, &PurchaseFilter::default())
            .await
            .unwrap(),
        12
    );

    // By status, package, dates (inclusive UTC days) and user.
    let status = PurchaseFilter {
        status: Some(PurchaseStatus::Completed),
        ..Default::default()
    };
    assert_eq!(
        ids(&pool, &newest_first(status.clone())).await,
        named(&["P9", "P5", "P1", "P8", "Q1", "R1"])
    );
    assert_eq!(admin::count_purchases(&pool, &status).await.unwrap(), 6);
    let starter = PurchaseFilter {
        package: Some(PackageCode::parse("starter").unwrap()),
        ..Default::default()
    };
    assert_eq!(
        ids(&pool, &newest_first(starter)).await,
        named(&["P9", "P6", "P4", "P1", "P8", "Q2"])
    );
    let one_day = PurchaseFilter {
        created_from: Some(day("2026-03-02")),
        created_to: Some(day("2026-03-02")),
        ..Default::default()
    };
    assert_eq!(
        ids(&pool, &newest_first(one_day)).await,
        named(&["P3", "P2"])
    );
    let search = |text: &str| PurchaseFilter {
        user: Some(UserSearch::parse(text).unwrap()),
        ..Default::default()
    };
    assert_eq!(
        ids(&pool, &newest_first(search("BOB@"))).await,
        named(&["P4", "P3", "P8", "Q2"])
    );
    assert_eq!(
        ids(&pool, &newest_first(search("corp.test"))).await,
        named(&["P6", "P5", "R1"])
    );
    let carol_id_part = &s.carol.to_string()[9..18];
    assert_eq!(
        ids(&pool, &newest_first(search(carol_id_part))).await,
        named(&["P6", "P5", "R1"])
    );
    assert_eq!(ids(&pool, &newest_first(search("Anderson"))).await.len(), 5);
    assert!(
        ids(&pool, &newest_first(search("%"))).await.is_empty(),
        "% is no wildcard"
    );
    // Filters combine.
    let combined = PurchaseFilter {
        status: Some(PurchaseStatus::Completed),
        package: Some(PackageCode::parse("starter").unwrap()),
        created_from: Some(day("2026-03-01")),
        user: Some(UserSearch::parse("alice").unwrap()),
        ..Default::default()
    };
    assert_eq!(
        ids(&pool, &newest_first(combined.clone())).await,
        named(&["P9", "P1"])
    );
    assert_eq!(admin::count_purchases(&pool, &combined).await.unwrap(), 2);

    // By amount, both ways; ties ordered by id the same way.
    let by_amount = ids(
        &pool,
        &query(
            PurchaseFilter::default(),
            SortKey::Amount,
            SortDirection::Desc,
            ALL,
        ),
    )
    .await;
    let rows = admin::list_purchases(
        &pool,
        &query(
            PurchaseFilter::default(),
            SortKey::Amount,
            SortDirection::Desc,
            ALL,
        ),
    )
    .await
    .unwrap()
    .rows;
    let mut expected: Vec<(i64, Uuid)> = rows
        .iter()
        .map(|p| (p.amount_paid.get(), p.id.as_uuid()))
        .collect();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(
        by_amount,
        expected
            .iter()
            .map(|(_, id)| PurchaseId::from_uuid(*id))
            .collect::<Vec<_>>()
    );
    assert_eq!(by_amount[0], s.ids["P5"]);
    let ascending = ids(
        &pool,
        &query(
            PurchaseFilter::default(),
            SortKey::Amount,
            SortDirection::Asc,
            ALL,
        ),
    )
    .await;
    assert_eq!(
        ascending,
        by_amount.iter().rev().copied().collect::<Vec<_>>()
    );

    // Keyset pages of 5 and offset pages of 5 walk the same rows as one big page, for every sort.
    for key in [SortKey::CreatedAt, SortKey::Amount] {
        for direction in [SortDirection::Desc, SortDirection::Asc] {
            let whole = ids(
                &pool,
                &query(PurchaseFilter::default(), key, direction, ALL),
            )
            .await;
            let mut walked = Vec::new();
            let mut after = None;
            loop {
                let page = admin::list_purchases(
                    &pool,
                    &query(
                        PurchaseFilter::default(),
                        key,
                        direction,
                        Page::Keyset { limit: 5, after },
                    ),
                )
                .await
                .unwrap();
                assert!(page.rows.len() <= 5);
                walked.extend(page.rows.iter().map(|p| p.id));
                match page.next_cursor {
                    // Through the text form, as the URL carries it.
                    Some(cursor) => after = Some(cursor.to_string().parse::<Cursor>().unwrap()),
                    None => break,
                }
            }
            assert_eq!(walked, whole, "keyset {key:?} {direction:?}");
            let mut by_offset = Vec::new();
            for offset in (0..15).step_by(5) {
                by_offset.extend(
                    ids(
                        &pool,
                        &query(
                            PurchaseFilter::default(),
                            key,
                            direction,
                            Page::Offset { limit: 5, offset },
                        ),
                    )
                    .await,
                );
            }
            assert_eq!(by_offset, whole, "offset {key:?} {direction:?}");
        }
    }

    // A filtered keyset walk stays inside the filter.
    let first = admin::list_purchases(
        &pool,
        &query(
            status.clone(),
            SortKey::Amount,
            SortDirection::Desc,
            Page::Keyset {
                limit: 4,
                after: None,
            },
        ),
    )
    .await
    .unwrap();
    let second = admin::list_purchases(
        &pool,
        &query(
            status.clone(),
            SortKey::Amount,
            SortDirection::Desc,
            Page::Keyset {
                limit: 4,
                after: first.next_cursor,
            },
        ),
    )
    .await
    .unwrap();
    assert_eq!((first.rows.len(), second.rows.len()), (4, 2));
    assert!(second.next_cursor.is_none());
    assert!(
        second
            .rows
            .iter()
            .all(|p| p.status == PurchaseStatus::Completed)
    );

    // A cursor from another sort is refused.
    let mismatch = admin::list_purchases(
        &pool,
        &query(
            PurchaseFilter::default(),
            SortKey::CreatedAt,
            SortDirection::Desc,
            Page::Keyset {
                limit: 4,
                after: first.next_cursor,
            },
        ),
    )
    .await;
    assert!(matches!(mismatch, Err(admin::AdminError::CursorMismatch)));

    // Rows carry the buyer and the purchase's own fields.
    let p2 = admin::list_purchases(&pool, &newest_first(PurchaseFilter::default()))
        .await
        .unwrap()
        .rows
        .into_iter()
        .find(|p| p.id == s.ids["P2"])
        .unwrap();
    assert_eq!(p2.user_id, s.alice);
    assert_eq!(
        (p2.user_email.as_deref(), p2.user_name.as_deref()),
        (Some("alice@example.com"), Some("Alice Anderson"))
    );
    assert_eq!(
        (p2.package_code.as_str(), p2.package_name.as_str()),
        ("standard", "Standard Pack")
    );
    assert_eq!(
        (
            p2.amount_paid.get(),
            p2.refunded.get(),
            p2.amount_credits.get()
        ),
        (4_500, 900, 5_000)
    );
    assert_eq!(p2.status, PurchaseStatus::PartiallyRefunded);
    assert_eq!(p2.stripe_payment_id.as_deref(), Some("pi_test_1"));
    let _ = s.bob;
}

/// A minimal RFC 4180 reader for the test: fields of each record.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    records
}

#[tokio::test]
async fn the_csv_holds_exactly_the_filtered_rows_in_order() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let s = seed(&pool).await;
    let filter = PurchaseFilter {
        created_from: Some(day("2026-03-01")),
        created_to: Some(day("2026-03-10")),
        ..Default::default()
    };
    let sort = PurchaseSort {
        key: SortKey::Amount,
        direction: SortDirection::Desc,
    };
    let table = admin::list_purchases(
        &pool,
        &PurchaseQuery {
            filter: filter.clone(),
            sort,
            page: ALL,
        },
    )
    .await
    .unwrap()
    .rows;

    let chunks: Vec<String> = admin::export_csv(pool.clone(), filter, sort)
        .try_collect()
        .await
        .unwrap();
    let text = chunks.concat();
    assert!(text.ends_with("\r\n"));
    let records = parse_csv(&text);
    assert_eq!(records[0], admin::csv::COLUMNS);
    let rows = &records[1..];
    assert_eq!(rows.len(), table.len());
    assert_eq!(rows.len(), 8);
    for (record, purchase) in rows.iter().zip(&table) {
        assert_eq!(record.len(), admin::csv::COLUMNS.len());
        assert_eq!(record[0], purchase.id.to_string());
        assert_eq!(record[3], purchase.user_id.to_string());
        assert_eq!(record[6], purchase.package_code);
        assert_eq!(record[8], purchase.amount_credits.get().to_string());
        assert_eq!(record[9], purchase.amount_paid.to_dollars().to_string());
        assert_eq!(record[11], purchase.status.as_str());
    }
    let p2 = rows
        .iter()
        .find(|r| r[0] == s.ids["P2"].to_string())
        .unwrap();
    assert_eq!((p2[9].as_str(), p2[10].as_str()), ("45.00", "9.00"));
    assert_eq!(p2[1], "2026-03-02T12:00:00+00:00");
    // Carol's name cannot run as a formula, and its comma and quotes survive.
    let p5 = rows
        .iter()
        .find(|r| r[0] == s.ids["P5"].to_string())
        .unwrap();
    assert_eq!(p5[5], "'=Carol, \"CEO\"");
    assert!(text.contains("\"'=Carol, \"\"CEO\"\"\""));
}

async fn assert_ledger_invariant(pool: &PgPool) {
    let mismatches: i64 = sqlx::query_scalar(
        "select count(*) from credit_balances b \
         where b.balance <> (select coalesce(sum(amount), 0) from credit_ledger l where l.user_id = b.user_id)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        mismatches, 0,
        "a balance differs from the sum of its ledger"
    );
}

#[tokio::test]
async fn manual_adjustments_need_a_reason_land_in_ledger_and_audit_and_apply_once() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let admin_user = user(&pool, "sub-admin", "admin@example.com", "Ada Admin").await;
    let alice = user(&pool, "sub-alice", "alice@example.com", "Alice").await;
    let reason = |text: &str| AdjustmentReason::parse(text);
    assert!(matches!(reason("  "), Err(AdjustmentError::ReasonRequired)));
    assert!(matches!(
        reason(&"x".repeat(501)),
        Err(AdjustmentError::ReasonTooLong)
    ));

    let grant = CreditAdjustment {
        user: alice,
        amount: Credits::signed(2_500),
        reason: reason("Goodwill for the outage").unwrap(),
        request_id: Uuid::new_v4(),
    };
    let first = admin::adjust_credits(&pool, admin_user, &grant)
        .await
        .unwrap();
    assert!(first.applied);
    assert_eq!(first.balance_after, Credits::signed(2_500));
    // The same request again (a double submit): applied once.
    let again = admin::adjust_credits(&pool, admin_user, &grant)
        .await
        .unwrap();
    assert_eq!((again.applied, again.ledger_id), (false, first.ledger_id));
    assert_eq!(
        crate::support::stripe::balance_of(&pool, alice).await,
        2_500
    );

    let too_much = CreditAdjustment {
        amount: Credits::signed(-3_000),
        request_id: Uuid::new_v4(),
        ..grant.clone()
    };
    assert!(matches!(
        admin::adjust_credits(&pool, admin_user, &too_much).await,
        Err(AdjustmentError::WouldGoNegative { .. })
    ));
    let take = CreditAdjustment {
        amount: Credits::signed(-500),
        reason: reason("Duplicate grant").unwrap(),
        request_id: Uuid::new_v4(),
        ..grant.clone()
    };
    let taken = admin::adjust_credits(&pool, admin_user, &take)
        .await
        .unwrap();
    assert_eq!(taken.balance_after, Credits::signed(2_000));
    let zero = CreditAdjustment {
        amount: Credits::ZERO,
        request_id: Uuid::new_v4(),
        ..grant.clone()
    };
    assert!(matches!(
        admin::adjust_credits(&pool, admin_user, &zero).await,
        Err(AdjustmentError::ZeroAmount)
    ));
    let nobody = CreditAdjustment {
        user: UserId::from_uuid(Uuid::new_v4()),
        request_id: Uuid::new_v4(),
        ..grant.clone()
    };
    assert!(matches!(
        admin::adjust_credits(&pool, admin_user, &nobody).await,
        Err(AdjustmentError::UnknownUser(_))
    ));

    let ledger: Vec<(i64, String, String)> = sqlx::query_as(
        "select amount, source, description from credit_ledger where user_id = $1 order by id",
    )
    .bind(alice)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        ledger,
        [
            (2_500, "adjustment".into(), "Goodwill for the outage".into()),
            (-500, "adjustment".into(), "Duplicate grant".into())
        ]
    );
    let audit: Vec<(String, String, Option<i64>)> = sqlx::query_as(
        "select actor, action, ledger_id from audit_log where user_id = $1 order by id",
    )
    .bind(alice)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].0, format!("admin:{admin_user}"));
    assert_eq!(audit[0].1, "credits.adjusted");
    assert_eq!(audit[0].2, Some(first.ledger_id));
    assert_ledger_invariant(&pool).await;
}

#[tokio::test]
async fn demo_seeding_is_idempotent_and_keeps_balances_equal_to_the_ledger() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let now = Utc::now();
    let first = ops_center_credits::demo::seed(&pool, now).await.unwrap();
    assert!(first.seeded);
    assert_eq!(first.purchases, ops_center_credits::demo::PURCHASES);
    let second = ops_center_credits::demo::seed(&pool, now).await.unwrap();
    assert!(!second.seeded, "a second run wrote again");

    let (purchases, users, ledger): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from credit_purchases), (select count(*) from users), (select count(*) from credit_ledger)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(purchases, ops_center_credits::demo::PURCHASES as i64);
    assert_eq!(users, 9);
    assert_eq!(ledger, first.ledger_entries as i64);
    assert_ledger_invariant(&pool).await;
    crate::support::assert_wallet_consistent(&pool).await;
    // The wallet has something to show: services' spends, alice's promotion.
    let (spends, promotions): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where source = 'usage'), count(*) filter (where source = 'promotional') from credit_ledger",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        spends >= 6 && promotions == 1,
        "{spends} spends, {promotions} promotions"
    );
    let negative: i64 =
        sqlx::query_scalar("select count(*) from credit_balances where balance < 0")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(negative, 0);
    // A realistic mix over the last 90 days, and alice (the dev IdP's subject) has some.
    let statuses: Vec<(String, i64)> =
        sqlx::query_as("select status, count(*) from credit_purchases group by 1 order by 2 desc")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(statuses[0].0, "completed");
    for status in ["expired", "failed", "refunded", "partially_refunded"] {
        assert!(
            statuses.iter().any(|(s, n)| s == status && *n > 0),
            "{status}: {statuses:?}"
        );
    }
    let alice: i64 = sqlx::query_scalar(
        "select count(*) from credit_purchases p join users u on u.id = p.user_id \
         where u.keycloak_sub = '4b1e9f62-3a7c-4d28-8e5f-6c0a1b2d3e41'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(alice > 20, "{alice}");
    let stats = admin::stats(&pool, StatsPeriod::last_days(now.date_naive(), 90))
        .await
        .unwrap();
    assert!(stats.current.revenue.get() > 0 && stats.current.refunds.get() > 0);
}

#[test]
fn demo_seeding_refuses_anything_but_a_local_development_setup() {
    use ops_center_credits::demo::{NotDev, refuse_unless_dev};
    let config = |changes: &[(&str, &str)]| {
        let mut env = crate::support::test_env("postgres://postgres@127.0.0.1:5432/x");
        for (k, v) in changes {
            env.insert((*k).into(), (*v).into());
        }
        backend::Config::from_lookup(|name| env.get(name).cloned()).unwrap()
    };
    let local = config(&[]);
    assert_eq!(refuse_unless_dev(&local, true), Ok(()));
    assert_eq!(refuse_unless_dev(&local, false), Err(NotDev::NotConfirmed));
    let public = config(&[("APP_BASE_URL", "https://credits.example.com")]);
    assert!(matches!(
        refuse_unless_dev(&public, true),
        Err(NotDev::NotLocal(_))
    ));
    let live = config(&[("STRIPE_SECRET_KEY", "sk_live_abc")]);
    assert_eq!(refuse_unless_dev(&live, true), Err(NotDev::LiveStripeKey));
}
