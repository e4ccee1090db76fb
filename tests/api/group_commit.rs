//! Group commit of paid checkouts (`backend::webhook::group`, issue #13):
//! a batch fulfils the common case once each and leaves every other case
//! untouched for the one-event path; a failed batch is retried item by item,
//! so one bad item fails only itself; and over HTTP, many concurrent
//! deliveries (redeliveries among them) grant each purchase exactly once.

use backend::{
    ids::{CheckoutSessionId, EventId, PurchaseId, UserId},
    packages, purchases,
    stripe::CheckoutOutcome,
    webhook::group::{Batched, GroupCommit, PaidCheckout, fulfil_batch},
};
use domain::Cents;
use sqlx::{Connection, PgPool};

use crate::support::{TestDatabase, assert_wallet_consistent, fresh_connection, writes_so_far};

/// A user with a pending purchase of the first package, attached to the
/// checkout session `cs_test_<name>`; returns its price in cents too.
async fn pending(pool: &PgPool, name: &str) -> (UserId, PurchaseId, CheckoutSessionId, i64) {
    let user = UserId::from_uuid(
        sqlx::query_scalar(
            "insert into users (keycloak_sub, email) values ($1, $1 || '@example.com') returning id",
        )
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap(),
    );
    let package = packages::list_active(pool).await.unwrap().remove(0);
    let purchase = purchases::create_pending(pool, user, &package)
        .await
        .unwrap();
    let session: CheckoutSessionId = format!("cs_test_{name}").parse().unwrap();
    purchases::attach_checkout_session(pool, purchase, &session, None)
        .await
        .unwrap();
    let cents: i64 =
        sqlx::query_scalar("select amount_paid_cents from credit_purchases where id = $1")
            .bind(purchase)
            .fetch_one(pool)
            .await
            .unwrap();
    (user, purchase, session, cents)
}

/// `checkout.session.completed` event `evt_<event>` paying `cents` for `session`.
fn paid(event: &str, session: &CheckoutSessionId, cents: i64) -> PaidCheckout {
    PaidCheckout {
        event: format!("evt_{event}").parse::<EventId>().unwrap(),
        event_type: "checkout.session.completed".into(),
        checkout: CheckoutOutcome {
            session_id: session.clone(),
            payment_status: purchases::PaymentStatus::Paid,
            payment_intent_id: Some(format!("pi_{event}").parse().unwrap()),
            client_reference_id: None,
            amount_total: Some(Cents::new(cents).unwrap()),
            currency: Some("usd".into()),
            livemode: false,
            expired: false,
        },
    }
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn a_batch_fulfils_the_common_case_once_and_leaves_the_rest_untouched() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let (alice, alice_purchase, alice_session, price) = pending(&pool, "alice").await;
    let (bob, _, bob_session, _) = pending(&pool, "bob").await;
    let (_, _, carol_session, _) = pending(&pool, "carol").await;
    let (_, _, dave_session, _) = pending(&pool, "dave").await;
    let unknown: CheckoutSessionId = "cs_test_nobody".parse().unwrap();
    let mut live = paid("dave", &dave_session, price);
    live.checkout.livemode = true;

    let items = [
        paid("bob", &bob_session, price),
        paid("alice", &alice_session, price),
        // The same event twice in one batch: once.
        paid("alice", &alice_session, price),
        // Another event for a session this batch completes: not the common case.
        paid("alice_again", &alice_session, price),
        // Paid another amount: for review, on the one-event path.
        paid("carol", &carol_session, price + 1),
        paid("nobody", &unknown, price),
        live,
    ];
    let refs: Vec<&PaidCheckout> = items.iter().collect();
    let outcomes = fulfil_batch(&pool, &refs, false).await.unwrap();

    let credits: i64 = scalar(
        &pool,
        "select amount_credits from credit_purchases order by created_at limit 1",
    )
    .await;
    assert!(matches!(outcomes[0], Batched::Applied { user_id, .. } if user_id == bob));
    assert_eq!(
        outcomes[1],
        Batched::Applied {
            purchase_id: alice_purchase,
            user_id: alice,
            credits
        }
    );
    assert_eq!(
        &outcomes[2..],
        [
            Batched::Duplicate,
            Batched::Fallback,
            Batched::Fallback,
            Batched::Fallback,
            Batched::Fallback
        ]
    );
    let events: Vec<String> =
        sqlx::query_scalar("select event_id from stripe_webhook_events order by event_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(events, ["evt_alice", "evt_bob"], "fallbacks leave no event");
    let statuses: Vec<(String, String)> = sqlx::query_as(
        "select stripe_checkout_session_id, status from credit_purchases order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        statuses,
        [
            ("cs_test_alice".into(), "completed".into()),
            ("cs_test_bob".into(), "completed".into()),
            ("cs_test_carol".into(), "pending".into()),
            ("cs_test_dave".into(), "pending".into()),
        ]
    );
    assert_eq!(scalar(&pool, "select count(*) from credit_ledger").await, 2);
    assert_eq!(
        scalar(
            &pool,
            "select count(*) from audit_log where action = 'purchase.completed' and actor = 'stripe_webhook'"
        )
        .await,
        2
    );
    let intent: String =
        sqlx::query_scalar("select stripe_payment_intent_id from credit_purchases where id = $1")
            .bind(alice_purchase)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(intent, "pi_alice");

    // The same batch again: nothing new.
    let again = fulfil_batch(&pool, &refs[..2], false).await.unwrap();
    assert_eq!(again, [Batched::Duplicate, Batched::Duplicate]);
    assert_wallet_consistent(&pool).await;
}

#[tokio::test]
async fn a_failed_batch_is_retried_item_by_item_so_one_bad_item_fails_alone() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let mut items = Vec::new();
    for n in 0..10 {
        let (_, _, session, price) = pending(&pool, &format!("buyer{n}")).await;
        items.push(paid(&format!("buyer{n}"), &session, price));
    }
    // A row that cannot be written (as a corrupt row or a broken trigger would).
    sqlx::raw_sql(
        "create function poison() returns trigger language plpgsql as $$
         begin
             if new.stripe_checkout_session_id = 'cs_test_buyer6' and new.status = 'completed' then
                 raise exception 'poisoned row';
             end if;
             return new;
         end $$;
         create trigger poison before update on credit_purchases
             for each row execute function poison();",
    )
    .execute(&pool)
    .await
    .unwrap();

    let group = GroupCommit::new(pool.clone(), false);
    // Every delivery is queued before the workers run: one batch of ten.
    let answers =
        futures_util::future::join_all(items.iter().map(|item| group.fulfil(item.clone()))).await;

    for (n, answer) in answers.iter().enumerate() {
        if n == 6 {
            assert!(answer.is_err(), "the poisoned item fails: {answer:?}");
        } else {
            assert!(
                matches!(answer, Ok(Batched::Applied { .. })),
                "item {n}: {answer:?}"
            );
        }
    }
    let counts = group.counts();
    assert_eq!(counts.failed, 1, "{counts:?}");
    assert_eq!(counts.batches, 9, "each retried on its own: {counts:?}");
    assert_eq!(
        scalar(
            &pool,
            "select count(*) from credit_purchases where status = 'completed'"
        )
        .await,
        9
    );
    assert_eq!(
        scalar(
            &pool,
            "select count(*) from stripe_webhook_events where event_id = 'evt_buyer6'"
        )
        .await,
        0,
        "the failed delivery is not recorded, so Stripe's retry finds it new"
    );

    // Mended, Stripe's retry goes through.
    sqlx::raw_sql("drop trigger poison on credit_purchases")
        .execute(&pool)
        .await
        .unwrap();
    let retried = group.fulfil(items[6].clone()).await.unwrap();
    assert!(matches!(retried, Batched::Applied { .. }), "{retried:?}");
    assert_eq!(
        scalar(&pool, "select count(*) from credit_ledger").await,
        10
    );
    assert_wallet_consistent(&pool).await;
}

#[tokio::test]
async fn concurrent_deliveries_coalesce_into_batches_and_each_purchase_grants_once() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let mut items = Vec::new();
    for n in 0..40 {
        let (_, _, session, price) = pending(&pool, &format!("many{n}")).await;
        items.push(paid(&format!("many{n}"), &session, price));
    }
    let group = GroupCommit::new(pool.clone(), false);
    // Each event delivered three times, all at once, from several tasks.
    let tasks: Vec<_> = (0..3)
        .flat_map(|_| items.iter().cloned())
        .map(|item| {
            let group = group.clone();
            tokio::spawn(async move { group.fulfil(item).await })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Batched::Applied { .. } => applied += 1,
            Batched::Duplicate => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(applied, 40);
    let counts = group.counts();
    assert_eq!(counts.deliveries, 120, "{counts:?}");
    assert!(
        counts.batches < 120,
        "deliveries shared batches: {counts:?}"
    );
    assert_eq!(
        scalar(
            &pool,
            "select count(*) from credit_ledger where source = 'purchase'"
        )
        .await,
        40
    );
    assert_eq!(
        scalar(&pool, "select count(*) from stripe_webhook_events").await,
        40
    );
    assert_wallet_consistent(&pool).await;
}

/// Its statements take the batch's arrays as parameters; left to choose,
/// PostgreSQL planned them again on every call (a third of a one-item
/// batch's time). Each finds its rows by a unique key, so the generic plan
/// loses nothing.
#[tokio::test]
async fn fulfil_checkouts_keeps_generic_plans() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let config: Vec<String> = sqlx::query_scalar(
        "select coalesce(proconfig, '{}') from pg_proc where proname = 'fulfil_checkouts'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(config, ["plan_cache_mode=force_generic_plan"]);
}

/// A grant changes the user's balance row once. The ledger's BEFORE
/// trigger used to lock it with a no-op upsert, a second version of the row
/// (and, being the transaction's own, a second foreign-key check) for every
/// ledger row; the lock is a `select … for update` now.
#[tokio::test]
async fn a_fulfilment_writes_the_balance_row_once() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let (alice, _, first, price) = pending(&pool, "alice").await;
    let (_, second_purchase, second, _) = pending(&pool, "alice_again").await;
    sqlx::query("update credit_purchases set user_id = $1 where id = $2")
        .bind(alice)
        .bind(second_purchase)
        .execute(&pool)
        .await
        .unwrap();
    // Her first grant creates her balance row.
    let outcomes = fulfil_batch(&pool, &[&paid("first", &first, price)], false)
        .await
        .unwrap();
    assert!(matches!(outcomes[..], [Batched::Applied { .. }]));

    let mut conn = fresh_connection(&pool).await;
    let mut tx = conn.begin().await.unwrap();
    let rows: Vec<(i32, String)> = sqlx::query_as(
        "select item, outcome from fulfil_checkouts('{evt_second}', '{checkout.session.completed}', \
         array[$1], '{pi_second}', array[$2::bigint], '{usd}', '{false}', false)",
    )
    .bind(second.as_str())
    .bind(price)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(rows, [(1, "applied".to_owned())]);
    assert_eq!(writes_so_far(&mut tx, "credit_balances").await, (0, 1));
    assert_eq!(writes_so_far(&mut tx, "credit_purchases").await, (0, 1));
    tx.commit().await.unwrap();
    assert_eq!(
        scalar(&pool, "select count(*) from credit_ledger").await,
        2,
        "both purchases granted"
    );
    assert_wallet_consistent(&pool).await;
}
