//! The migrations build the schema the product relies on, from an empty database.

use crate::support::TestDatabase;

#[tokio::test]
async fn migrations_seed_the_four_default_packages() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;

    let rows: Vec<(String, String, i64, i64, i32, i32, bool)> = sqlx::query_as(
        "select package_code, package_name, credits, price_cents, discount_percentage, display_order, is_active \
         from credit_packages order by display_order",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected = [
        ("starter", "Starter Pack", 1_000, 1_000, 0, 1),
        ("standard", "Standard Pack", 5_000, 4_500, 10, 2),
        ("pro", "Pro Pack", 10_000, 8_000, 20, 3),
        ("enterprise", "Enterprise Pack", 50_000, 35_000, 30, 4),
    ];
    assert_eq!(rows.len(), expected.len());
    for (row, (code, name, credits, cents, discount, order)) in rows.iter().zip(expected) {
        assert_eq!(
            (row.0.as_str(), row.1.as_str(), row.2, row.3, row.4, row.5),
            (code, name, credits, cents, discount, order)
        );
        assert!(row.6, "{code} is active");
    }

    let active = backend::packages::list_active(&pool).await.unwrap();
    assert_eq!(
        active
            .iter()
            .map(|p| p.price.to_string())
            .collect::<Vec<_>>(),
        ["$10.00", "$45.00", "$80.00", "$350.00"]
    );
}

#[tokio::test]
async fn migrations_seed_subscription_tiers_and_create_the_session_table() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;

    let tiers: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
        "select tier_code, price_monthly_cents, price_yearly_cents from subscription_tiers order by display_order",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        tiers,
        [
            ("trial".into(), 100, None),
            ("starter".into(), 1_900, Some(19_000)),
            ("professional".into(), 4_900, Some(49_000)),
            ("enterprise".into(), 9_900, Some(99_000)),
        ]
    );

    let sessions: i64 = sqlx::query_scalar("select count(*) from tower_sessions.session")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
}

#[tokio::test]
async fn migrating_twice_is_a_no_op() {
    let db = TestDatabase::new();
    db.migrated_pool().await;
    let pool = db.migrated_pool().await;
    let packages: i64 = sqlx::query_scalar("select count(*) from credit_packages")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(packages, 4);
}

#[tokio::test]
async fn the_ledger_is_append_only_and_keeps_the_balance() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let user: uuid::Uuid =
        sqlx::query_scalar("insert into users (keycloak_sub) values ('sub-1') returning id")
            .fetch_one(&pool)
            .await
            .unwrap();
    let insert = |amount: i64, reference: &'static str| {
        sqlx::query_scalar::<_, i64>(
            "insert into credit_ledger (user_id, amount, source, reference) values ($1, $2, 'adjustment', $3) \
             returning balance_after",
        )
        .bind(user)
        .bind(amount)
        .bind(reference)
        .fetch_one(&pool)
    };
    assert_eq!(insert(1_000, "ref-1").await.unwrap(), 1_000);
    assert_eq!(insert(-250, "ref-2").await.unwrap(), 750);

    let duplicate = insert(1_000, "ref-1").await.unwrap_err();
    let constraint = duplicate
        .as_database_error()
        .and_then(|e| e.constraint())
        .map(str::to_owned);
    assert_eq!(constraint.as_deref(), Some("credit_ledger_reference_key"));

    for statement in [
        "update credit_ledger set amount = 5",
        "delete from credit_ledger",
        "truncate credit_ledger cascade",
    ] {
        assert!(
            sqlx::query(statement).execute(&pool).await.is_err(),
            "{statement} was allowed"
        );
    }

    let (balance, sum): (i64, i64) = sqlx::query_as(
        "select b.balance, (select sum(amount)::bigint from credit_ledger where user_id = b.user_id) \
         from credit_balances b where b.user_id = $1",
    )
    .bind(user)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((balance, sum), (750, 750));
}

#[tokio::test]
async fn a_checkout_session_belongs_to_one_purchase_only() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let user: uuid::Uuid =
        sqlx::query_scalar("insert into users (keycloak_sub) values ('sub-2') returning id")
            .fetch_one(&pool)
            .await
            .unwrap();
    let insert = || {
        sqlx::query(
            "insert into credit_purchases (user_id, package_code, package_name, amount_credits, amount_paid_cents, \
             stripe_checkout_session_id) values ($1, 'starter', 'Starter Pack', 1000, 1000, 'cs_test_1')",
        )
        .bind(user)
        .execute(&pool)
    };
    insert().await.unwrap();
    let error = insert().await.unwrap_err();
    assert_eq!(
        error.as_database_error().and_then(|e| e.constraint()),
        Some("credit_purchases_stripe_checkout_session_id_key")
    );
    let bad_status = sqlx::query("update credit_purchases set status = 'paid'")
        .execute(&pool)
        .await;
    assert!(bad_status.is_err(), "an unknown status was stored");
}
