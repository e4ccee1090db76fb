//! The wallet API: services spend and hold credits with client-credentials
//! tokens; grants expire; refunds of spent credits leave a debt.

use std::time::Duration;

use chrono::{DateTime, Utc};

use backend::wallet::{self, NewDebit, SpendOutcome, Spender};
use domain::{
    ids::UserId,
    wallet::{GrantKind, GrantOrder, HoldTtl, IdempotencyKey, SpendAmount, Wallet},
};
use futures_util::future::join_all;
use proptest::{prelude::*, test_runner::TestRunner};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{
    TestDatabase, assert_wallet_consistent, proptest_cases,
    world::{CARD_OK, World, world},
};

/// `POST /api/v1/billing{path}` as the service holding `token`, with an
/// `Idempotency-Key` when given: (status, body, replayed).
async fn call(
    world: &World,
    token: &str,
    path: &str,
    key: Option<&str>,
    body: Value,
) -> (u16, Value, bool) {
    let mut request = world
        .http
        .post(world.app.url(&format!("/api/v1/billing{path}")))
        .bearer_auth(token)
        .json(&body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        replayed,
    )
}

async fn spend(world: &World, token: &str, user: &str, amount: i64, key: &str) -> (u16, Value) {
    let (status, body, _) = call(
        world,
        token,
        "/credits/spend",
        Some(key),
        json!({
            "user_id": user, "amount": amount, "description": "chat completion",
            "metadata": { "service": "model-gateway", "model": "gpt-x", "units": amount },
        }),
    )
    .await;
    (status, body)
}

async fn capture(world: &World, token: &str, hold: &str, amount: i64) -> (u16, Value) {
    let (status, body, _) = call(
        world,
        token,
        &format!("/credits/holds/{hold}/capture"),
        None,
        json!({ "amount": amount }),
    )
    .await;
    (status, body)
}

async fn release(world: &World, token: &str, hold: &str) -> (u16, Value) {
    let (status, body, _) = call(
        world,
        token,
        &format!("/credits/holds/{hold}/release"),
        None,
        json!({}),
    )
    .await;
    (status, body)
}

/// Writes a grant through the ledger, as a purchase, an allowance or an
/// admin would, expiring at `expires_at` (`None`: never); answers its grant.
async fn grant(
    pool: &PgPool,
    user: &str,
    amount: i64,
    kind: GrantKind,
    expires_at: Option<DateTime<Utc>>,
) -> uuid::Uuid {
    let source = match kind {
        GrantKind::Paid => "purchase",
        GrantKind::Allowance => "subscription_allowance",
        GrantKind::Promotional => "promotional",
        GrantKind::Adjustment => "adjustment",
    };
    let ledger: i64 = sqlx::query_scalar(
        "insert into credit_ledger (user_id, amount, source, reference, description, expires_at) \
         values ($1::uuid, $2, $3, 'test:' || gen_random_uuid(), 'test grant', $4) returning id",
    )
    .bind(user)
    .bind(amount)
    .bind(source)
    .bind(expires_at)
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query_scalar("select id from credit_grants where ledger_id = $1")
        .bind(ledger)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn in_secs(seconds: i64) -> Option<DateTime<Utc>> {
    Some(Utc::now() + chrono::Duration::seconds(seconds))
}

/// A world with alice known to the app: (world, spender token, alice's token, alice's id).
async fn wallet_world() -> (World, String, String, String) {
    let world = world().await;
    let alice = world.token("alice").await;
    let alice_id = world.user_id(&alice).await;
    let gateway = world.idp.spender_token().await;
    (world, gateway, alice, alice_id)
}

async fn breakdown(world: &World, token: &str) -> Value {
    let (status, body) = world
        .api(token, Method::GET, "/credits/balance", None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn a_spend_debits_once_per_key_even_when_retried_concurrently() {
    let (world, gateway, alice, alice_id) = wallet_world().await;
    grant(&world.app.pool, &alice_id, 1_000, GrantKind::Paid, None).await;

    let retries = join_all((0..20).map(|_| spend(&world, &gateway, &alice_id, 300, "req-1"))).await;
    let first = &retries[0].1;
    for (status, body) in &retries {
        assert_eq!(*status, 201, "{body}");
        assert_eq!(body, first, "every retry answers the stored response");
    }
    assert_eq!(first["balance_after"], 700);
    assert_eq!(first["available"], 700);
    assert_eq!(first["funded_by"][0]["kind"], "paid");
    assert_eq!(first["funded_by"][0]["amount"], 300);
    assert_eq!(world.balance(&alice).await, 700);

    // A later retry is flagged as a replay; the same key with another body is refused.
    let (status, _, replayed) = call(
        &world,
        &gateway,
        "/credits/spend",
        Some("req-1"),
        json!({ "user_id": alice_id, "amount": 300, "description": "chat completion",
                "metadata": { "units": 300, "model": "gpt-x", "service": "model-gateway" } }),
    )
    .await;
    assert_eq!(
        (status, replayed),
        (201, true),
        "metadata key order does not matter"
    );
    let (status, body) = spend(&world, &gateway, &alice_id, 301, "req-1").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "idempotency_key_reused");

    // No key, a bad key, a bad amount, an unknown user.
    let (status, body, _) = call(
        &world,
        &gateway,
        "/credits/spend",
        None,
        json!({ "user_id": alice_id, "amount": 1 }),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("missing_idempotency_key"))
    );
    let (status, _, _) = call(
        &world,
        &gateway,
        "/credits/spend",
        Some("has space"),
        json!({ "user_id": alice_id, "amount": 1 }),
    )
    .await;
    assert_eq!(status, 422);
    let (status, body) = spend(&world, &gateway, &alice_id, 0, "req-zero").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_amount"))
    );
    let (status, body) = spend(
        &world,
        &gateway,
        &uuid::Uuid::new_v4().to_string(),
        1,
        "req-nobody",
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("unknown_user")));
    let (status, body, _) = call(
        &world,
        &gateway,
        "/credits/spend",
        Some("req-float"),
        json!({ "user_id": alice_id, "amount": 1.5 }),
    )
    .await;
    assert_eq!(status, 422, "{body}");

    // By subject too.
    let sub: String = sqlx::query_scalar("select keycloak_sub from users where id = $1::uuid")
        .bind(&alice_id)
        .fetch_one(&world.app.pool)
        .await
        .unwrap();
    let (status, body, _) = call(
        &world,
        &gateway,
        "/credits/spend",
        Some("req-sub"),
        json!({ "subject": sub, "amount": 100 }),
    )
    .await;
    assert_eq!(
        (status, body["balance_after"].as_i64()),
        (201, Some(600)),
        "{body}"
    );
    assert_eq!(world.balance(&alice).await, 600);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn a_thousand_concurrent_spends_of_one_on_five_hundred_credits_exactly_five_hundred_succeed()
{
    let (world, gateway, alice, alice_id) = wallet_world().await;
    grant(&world.app.pool, &alice_id, 500, GrantKind::Paid, None).await;

    let results = join_all((0..1000).map(|i| {
        let (world, gateway, alice_id) = (&world, &gateway, &alice_id);
        async move { spend(world, gateway, alice_id, 1, &format!("one-{i}")).await }
    }))
    .await;
    let ok = results.iter().filter(|(s, _)| *s == 201).count();
    let refused: Vec<_> = results.iter().filter(|(s, _)| *s != 201).collect();
    assert_eq!(ok, 500);
    assert_eq!(refused.len(), 500);
    for (status, body) in refused {
        assert_eq!(*status, 402, "{body}");
        assert_eq!(body["code"], "insufficient_credits");
        assert_eq!(body["available"], 0);
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("Not enough credits")
        );
    }
    assert_eq!(world.balance(&alice).await, 0);
    let usage: i64 =
        sqlx::query_scalar("select count(*) from credit_ledger where source = 'usage'")
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    assert_eq!(usage, 500);

    // As at Stripe, a refusal is the key's answer too: after a top-up the
    // same key still answers 402 (replayed); a new key spends.
    let refused_key = results.iter().position(|(s, _)| *s == 402).unwrap();
    grant(&world.app.pool, &alice_id, 10, GrantKind::Paid, None).await;
    let (status, body, replayed) = call(
        &world,
        &gateway,
        "/credits/spend",
        Some(&format!("one-{refused_key}")),
        json!({ "user_id": alice_id, "amount": 1, "description": "chat completion",
                "metadata": { "service": "model-gateway", "model": "gpt-x", "units": 1 } }),
    )
    .await;
    assert_eq!(
        (status, replayed, body["available"].as_i64()),
        (402, true, Some(0))
    );
    let (status, _) = spend(&world, &gateway, &alice_id, 1, "after-top-up").await;
    assert_eq!(status, 201);
    world.assert_ledger_consistent().await;
}

/// One user's spends wait for each other (their balance row), nobody
/// else's do; and a spend cut off while it waited is applied once on retry.
#[tokio::test]
async fn a_busy_user_holds_up_nobody_else() {
    let (world, gateway, alice, alice_id) = wallet_world().await;
    let bob = world.token("bob").await;
    let bob_id = world.user_id(&bob).await;
    grant(&world.app.pool, &alice_id, 100, GrantKind::Paid, None).await;
    grant(&world.app.pool, &bob_id, 100, GrantKind::Paid, None).await;

    // Alice's balance row is locked, as by a long transaction of hers.
    let mut busy = world.app.pool.begin().await.unwrap();
    sqlx::query("select 1 from credit_balances where user_id = $1::uuid for update")
        .bind(&alice_id)
        .execute(&mut *busy)
        .await
        .unwrap();
    let (status, _) = tokio::time::timeout(
        Duration::from_secs(5),
        spend(&world, &gateway, &bob_id, 10, "bob-1"),
    )
    .await
    .expect("bob's spend waits for nobody");
    assert_eq!(status, 201);
    let waited = tokio::time::timeout(
        Duration::from_millis(500),
        spend(&world, &gateway, &alice_id, 10, "alice-1"),
    )
    .await;
    assert!(waited.is_err(), "alice's spend waits for her own lock");
    busy.rollback().await.unwrap();

    let (status, _) = spend(&world, &gateway, &alice_id, 10, "alice-1").await;
    assert_eq!(status, 201);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(world.balance(&alice).await, 90, "applied once");
    assert_eq!(world.balance(&bob).await, 90);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn a_hold_reserves_and_its_capture_debits_part_and_releases_the_rest() {
    let (world, gateway, alice, alice_id) = wallet_world().await;
    grant(&world.app.pool, &alice_id, 1_000, GrantKind::Paid, None).await;

    let (status, hold, _) = call(&world, &gateway, "/credits/holds", Some("gen-1"),
        json!({ "user_id": alice_id, "amount": 600, "ttl_seconds": 300, "description": "long generation",
                "metadata": { "model": "big" } })).await;
    assert_eq!(status, 201, "{hold}");
    assert_eq!(
        (hold["status"].as_str(), hold["available"].as_i64()),
        (Some("open"), Some(400))
    );
    let id = hold["hold_id"].as_str().unwrap().to_owned();

    let view = breakdown(&world, &alice).await;
    assert_eq!(
        (
            view["balance"].as_i64(),
            view["available"].as_i64(),
            view["held"].as_i64()
        ),
        (Some(1000), Some(400), Some(600))
    );
    // the held credits cannot be spent meanwhile
    let (status, body) = spend(&world, &gateway, &alice_id, 401, "during-hold").await;
    assert_eq!((status, body["available"].as_i64()), (402, Some(400)));

    // More than held is refused; capture 250 of 600.
    let (status, body) = capture(&world, &gateway, &id, 601).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_amount"))
    );
    let (status, captured) = capture(&world, &gateway, &id, 250).await;
    assert_eq!(status, 200, "{captured}");
    assert_eq!(
        (
            captured["captured"].as_i64(),
            captured["released"].as_i64(),
            captured["balance_after"].as_i64()
        ),
        (Some(250), Some(350), Some(750))
    );
    // the same capture again answers the same; another amount or a release is refused
    let (status, again) = capture(&world, &gateway, &id, 250).await;
    assert_eq!((status, &again), (200, &captured));
    let (status, body) = capture(&world, &gateway, &id, 100).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("hold_not_open"))
    );
    let (status, _) = release(&world, &gateway, &id).await;
    assert_eq!(status, 409);

    let view = breakdown(&world, &alice).await;
    assert_eq!(
        (
            view["balance"].as_i64(),
            view["available"].as_i64(),
            view["held"].as_i64()
        ),
        (Some(750), Some(750), Some(0))
    );

    // A released hold gives everything back; releasing twice is the same.
    let (_, hold, _) = call(
        &world,
        &gateway,
        "/credits/holds",
        Some("gen-2"),
        json!({ "user_id": alice_id, "amount": 700 }),
    )
    .await;
    let id = hold["hold_id"].as_str().unwrap().to_owned();
    assert_eq!(breakdown(&world, &alice).await["available"], 50);
    for _ in 0..2 {
        let (status, body) = release(&world, &gateway, &id).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("released")),
            "{body}"
        );
    }
    assert_eq!(breakdown(&world, &alice).await["available"], 750);

    // A hold belongs to its service: to another client it does not exist.
    let other = Spender {
        client_id: "another-service".into(),
    };
    let hold: domain::ids::HoldId = id.parse().unwrap();
    for outcome in [
        wallet::capture(&world.app.pool, &other, hold, 1)
            .await
            .unwrap()
            == wallet::CaptureOutcome::Unknown,
        wallet::release(&world.app.pool, &other, hold)
            .await
            .unwrap()
            == wallet::ReleaseOutcome::Unknown,
    ] {
        assert!(outcome);
    }
    let (status, body) = release(&world, &gateway, &uuid::Uuid::new_v4().to_string()).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("unknown_hold")));

    // The activity shows the capture, the holds and the grant, newest first.
    let (status, page) = world
        .api(&alice, Method::GET, "/credits/transactions", None)
        .await;
    assert_eq!(status, 200, "{page}");
    let kinds: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["hold", "debit", "hold", "grant"]);
    let capture = &page["items"][1];
    assert_eq!(
        (
            capture["amount"].as_i64(),
            capture["model"].as_str(),
            capture["hold_status"].as_str()
        ),
        (Some(-250), Some("big"), Some("captured"))
    );
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn a_hold_past_its_ttl_releases_itself() {
    let (world, gateway, alice, alice_id) = wallet_world().await;
    grant(&world.app.pool, &alice_id, 100, GrantKind::Paid, None).await;
    let (status, hold, _) = call(
        &world,
        &gateway,
        "/credits/holds",
        Some("short"),
        json!({ "user_id": alice_id, "amount": 80, "ttl_seconds": 1 }),
    )
    .await;
    assert_eq!(status, 201, "{hold}");
    let id = hold["hold_id"].as_str().unwrap().to_owned();
    assert_eq!(breakdown(&world, &alice).await["available"], 20);
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    // available again at once, before any sweep
    assert_eq!(breakdown(&world, &alice).await["available"], 100);
    let report = wallet::sweep(&world.app.pool).await.unwrap();
    assert_eq!(report.holds_expired, 1);
    let (status, body) = capture(&world, &gateway, &id, 10).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("hold_expired")));
    let (status, _) = spend(&world, &gateway, &alice_id, 100, "all").await;
    assert_eq!(status, 201);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn debits_take_the_soonest_expiring_grant_first_and_granted_before_paid() {
    let (world, gateway, alice, alice_id) = wallet_world().await;
    let pool = &world.app.pool;
    let day = 86_400;
    let (in_two_days, in_five_days) = (in_secs(2 * day), in_secs(5 * day));
    grant(pool, &alice_id, 100, GrantKind::Paid, None).await;
    grant(pool, &alice_id, 100, GrantKind::Adjustment, None).await;
    grant(pool, &alice_id, 100, GrantKind::Paid, in_five_days).await;
    grant(pool, &alice_id, 100, GrantKind::Allowance, in_five_days).await;
    grant(pool, &alice_id, 100, GrantKind::Promotional, in_two_days).await;

    let (status, spent) = spend(&world, &gateway, &alice_id, 450, "order").await;
    assert_eq!(status, 201, "{spent}");
    let funded: Vec<(&str, i64)> = spent["funded_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["amount"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        funded,
        [
            ("promotional", 100),
            ("allowance", 100),
            ("paid", 100),
            ("adjustment", 100),
            ("paid", 50)
        ]
    );

    let view = breakdown(&world, &alice).await;
    assert_eq!(
        (
            view["balance"].as_i64(),
            view["paid"].as_i64(),
            view["granted"].as_i64()
        ),
        (Some(50), Some(50), Some(0))
    );
    // The debit's funding is in the activity too.
    let (_, page) = world
        .api(
            &alice,
            Method::GET,
            "/credits/transactions?kind=debit",
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["funded_by"].as_array().unwrap().len(), 5);
    assert_eq!(page["items"][0]["service"], "model-gateway");
    for (service, count) in [("model-gateway", 1), ("another", 0)] {
        let (_, page) = world
            .api(
                &alice,
                Method::GET,
                &format!("/credits/transactions?service={service}"),
                None,
            )
            .await;
        assert_eq!(page["items"].as_array().unwrap().len(), count, "{service}");
    }
    let (status, body) = world
        .api(
            &alice,
            Method::GET,
            "/credits/transactions?kind=nonsense",
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_query"))
    );
    let csv = world
        .http
        .get(world.app.url("/api/v1/billing/credits/transactions/export"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 7, "{csv}");
    assert!(
        lines[1].contains(",debit,usage,-450,50,chat completion,model-gateway,gpt-x,"),
        "{}",
        lines[1]
    );
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn expired_grants_are_taken_back_once_even_with_two_instances_sweeping_at_once() {
    let (world, gateway, alice, alice_id) = wallet_world().await;
    let pool = &world.app.pool;
    grant(pool, &alice_id, 1_000, GrantKind::Paid, None).await;
    for _ in 0..20 {
        grant(pool, &alice_id, 50, GrantKind::Promotional, in_secs(1)).await;
    }
    // The first grants expiring within 30 days are listed.
    let view = breakdown(&world, &alice).await;
    assert_eq!(
        (
            view["expiring_soon"].as_i64(),
            view["expiring"].as_array().unwrap().len()
        ),
        (Some(1000), 20)
    );
    // Spend 120: from the promotional grants first.
    let (status, spent) = spend(&world, &gateway, &alice_id, 120, "before-expiry").await;
    assert_eq!(status, 201, "{spent}");
    assert!(
        spent["funded_by"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["kind"] == "promotional")
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    // Expired but not yet swept: not spendable.
    assert_eq!(breakdown(&world, &alice).await["available"], 1_000);

    // A second instance: its own pool on the same database.
    let other = PgPool::connect(&world.env["DATABASE_URL"]).await.unwrap();
    let (a, b) = tokio::join!(wallet::sweep(pool), wallet::sweep(&other));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.credits_expired + b.credits_expired, 20 * 50 - 120);
    let expiries: i64 =
        sqlx::query_scalar("select count(*) from credit_ledger where source = 'expiry'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(expiries, 18, "two grants were spent in full");
    assert_eq!(wallet::sweep(pool).await.unwrap().grants_expired, 0);
    assert_eq!(world.balance(&alice).await, 1_000);
    let (_, page) = world
        .api(
            &alice,
            Method::GET,
            "/credits/transactions?kind=expiry&limit=5",
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = world
        .api(
            &alice,
            Method::GET,
            &format!("/credits/transactions?kind=expiry&limit=20&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(next["items"].as_array().unwrap().len(), 13);
    assert!(next["next_cursor"].is_null());
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn a_refund_of_spent_credits_leaves_a_debt_that_blocks_spending_until_repaid() {
    let (world, gateway, alice, alice_id) = wallet_world().await;
    let session = world.buy_and_pay(&alice, "standard", CARD_OK).await; // 5,000 credits
    world.wait_for_balance(&alice, 5_000).await;
    grant(&world.app.pool, &alice_id, 1_000, GrantKind::Paid, None).await;
    // Spends 5,500: the purchase first (older), then 500 of the other grant.
    let (status, _) = spend(&world, &gateway, &alice_id, 5_500, "big").await;
    assert_eq!(status, 201);

    world.refund(&session, None).await;
    world.wait_for_balance(&alice, -4_500).await;
    let view = breakdown(&world, &alice).await;
    assert_eq!(
        (
            view["debt"].as_i64(),
            view["available"].as_i64(),
            view["paid"].as_i64()
        ),
        (Some(4_500), Some(0), Some(0))
    );
    let (status, body) = spend(&world, &gateway, &alice_id, 1, "blocked").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (402, Some("insufficient_credits"))
    );
    assert!(body["detail"].as_str().unwrap().contains("owes"), "{body}");
    let (status, _, _) = call(
        &world,
        &gateway,
        "/credits/holds",
        Some("blocked-hold"),
        json!({ "user_id": alice_id, "amount": 1 }),
    )
    .await;
    assert_eq!(status, 402);

    // The refund shows in the activity; the next purchase repays the debt first.
    let (_, page) = world
        .api(
            &alice,
            Method::GET,
            "/credits/transactions?kind=refund",
            None,
        )
        .await;
    assert_eq!(page["items"][0]["amount"], -5_000);
    // The pages say so too: alice's balance, her activity, the admin's view.
    let (status, html, _) = world.page(Some(&alice), "/credits").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"id="balance-debt""#) && html.contains("You owe 4,500 credits"));
    let (_, html, _) = world.page(Some(&alice), "/credits?tab=activity").await;
    assert!(
        html.contains(r#"data-kind="refund""#) && html.contains("chat completion"),
        "{html}"
    );
    let admin = world.token("admin").await;
    let (status, html, _) = world
        .page(
            Some(&admin),
            "/admin/credits/wallets?user=alice@example.com",
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!(r#"data-user="{alice_id}""#)),
        "{html}"
    );
    assert!(html.contains(r#"id="wallet-debt""#) && html.contains("4,500"));
    let (status, _, _) = world.page(Some(&alice), "/admin/credits/wallets").await;
    assert_eq!(status, 403);
    world.buy_and_pay(&alice, "standard", CARD_OK).await;
    world.wait_for_balance(&alice, 500).await;
    let view = breakdown(&world, &alice).await;
    assert_eq!(
        (view["debt"].as_i64(), view["available"].as_i64()),
        (Some(0), Some(500))
    );
    let (status, _) = spend(&world, &gateway, &alice_id, 500, "after").await;
    assert_eq!(status, 201);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn only_services_with_the_spender_role_spend() {
    let (world, gateway, alice, alice_id) = wallet_world().await;
    grant(&world.app.pool, &alice_id, 100, GrantKind::Paid, None).await;
    let body = json!({ "user_id": alice_id, "amount": 1 });
    // A service without the role (the sync client).
    let sync = world.idp.service_token().await;
    let (status, reply, _) = call(&world, &sync, "/credits/spend", Some("k"), body.clone()).await;
    assert_eq!((status, reply["code"].as_str()), (403, Some("forbidden")));
    // Reading: another client's token is nobody's, as on every user endpoint.
    let (status, reply) = world
        .api(
            &sync,
            Method::GET,
            &format!("/credits/balance?user_id={alice_id}"),
            None,
        )
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (401, Some("invalid_token"))
    );
    // A user, even an admin, spends through the services only.
    for token in [alice.clone(), world.token("admin").await] {
        let (status, reply, _) =
            call(&world, &token, "/credits/spend", Some("k"), body.clone()).await;
        assert_eq!(status, 403, "{reply}");
        let (status, _, _) = call(&world, &token, "/credits/holds", Some("k"), body.clone()).await;
        assert_eq!(status, 403);
    }
    // No token, a forged one.
    let (status, _, _) = call(
        &world,
        "not-a-token",
        "/credits/spend",
        Some("k"),
        body.clone(),
    )
    .await;
    assert_eq!(status, 401);
    // The spender reads a named user's wallet, and must name one.
    let (status, view) = world
        .api(
            &gateway,
            Method::GET,
            &format!("/credits/balance?user_id={alice_id}"),
            None,
        )
        .await;
    assert_eq!((status, view["available"].as_i64()), (200, Some(100)));
    let (status, _) = world
        .api(&gateway, Method::GET, "/credits/balance", None)
        .await;
    assert_eq!(status, 422);
    // A user reads only their own activity; an admin reads anyone's.
    let bob = world.token("bob").await;
    let (status, _) = world
        .api(
            &bob,
            Method::GET,
            &format!("/credits/transactions?user_id={alice_id}"),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let admin = world.token("admin").await;
    let (status, page) = world
        .api(
            &admin,
            Method::GET,
            &format!("/credits/transactions?user_id={alice_id}"),
            None,
        )
        .await;
    assert_eq!(
        (status, page["items"].as_array().map(Vec::len)),
        (200, Some(1))
    );
}

#[tokio::test]
async fn admins_grant_promotional_credits_with_an_expiry_to_a_user_or_a_tier() {
    let (world, gateway, alice, alice_id) = wallet_world().await;
    let admin = world.token("admin").await;
    let expires = (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    let request_id = uuid::Uuid::new_v4();
    let promo = json!({ "user_id": alice_id, "amount": 250, "reason": "Launch week", "expires_at": expires, "request_id": request_id });
    for expected in [1, 0] {
        let (status, body) = world
            .api(
                &admin,
                Method::POST,
                "/credits/admin/promotions",
                Some(promo.clone()),
            )
            .await;
        assert_eq!(
            (status, body["users"].as_i64()),
            (201, Some(expected)),
            "{body}"
        );
    }
    let view = breakdown(&world, &alice).await;
    assert_eq!(
        (view["granted"].as_i64(), view["expiring_soon"].as_i64()),
        (Some(250), Some(250))
    );
    assert_eq!(view["expiring"][0]["kind"], "promotional");
    // Bad input is refused and changes nothing.
    for (body, code) in [
        (
            json!({ "user_id": alice_id, "amount": 0, "reason": "Zero" }),
            "invalid_promotion",
        ),
        (
            json!({ "user_id": alice_id, "amount": 5, "reason": "Past", "expires_at": "2020-01-01T00:00:00Z" }),
            "invalid_promotion",
        ),
        (
            json!({ "tier": "nonesuch", "amount": 5, "reason": "Nobody" }),
            "unknown_tier",
        ),
        (
            json!({ "amount": 5, "reason": "Nobody" }),
            "invalid_promotion",
        ),
    ] {
        let (status, reply) = world
            .api(
                &admin,
                Method::POST,
                "/credits/admin/promotions",
                Some(body),
            )
            .await;
        assert_eq!(reply["code"], code, "{status} {reply}");
    }
    // A tier nobody is on grants nobody; users may not grant.
    let (status, body) = world
        .api(
            &admin,
            Method::POST,
            "/credits/admin/promotions",
            Some(json!({ "tier": "professional", "amount": 5, "reason": "Thanks" })),
        )
        .await;
    assert_eq!((status, body["users"].as_i64()), (201, Some(0)));
    let (status, _) = world
        .api(
            &alice,
            Method::POST,
            "/credits/admin/promotions",
            Some(promo),
        )
        .await;
    assert_eq!(status, 403);
    let (status, spent) = spend(&world, &gateway, &alice_id, 10, "promo").await;
    assert_eq!(
        (status, spent["funded_by"][0]["kind"].as_str()),
        (201, Some("promotional"))
    );
    world.assert_ledger_consistent().await;
}

// ------------------------------------------------------------ properties

#[derive(Debug, Clone)]
enum Step {
    Grant {
        amount: i64,
        expires_in_days: Option<i64>,
        kind: GrantKind,
    },
    Spend(i64),
    Refund(i64),
    Hold(i64),
    Capture(i64),
    Release,
    Expire(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1..400i64, prop::option::of(1..60i64), prop::sample::select(GrantKind::ALL.to_vec()))
            .prop_map(|(amount, expires_in_days, kind)| Step::Grant { amount, expires_in_days, kind }),
        4 => (1..300i64).prop_map(Step::Spend),
        1 => (1..300i64).prop_map(Step::Refund),
        2 => (1..200i64).prop_map(Step::Hold),
        1 => (0..200i64).prop_map(Step::Capture),
        1 => Just(Step::Release),
        1 => (0..10usize).prop_map(Step::Expire),
    ]
}

/// Random sequences of grants, spends, holds, captures, expiries and
/// refunds, run against the database and against the plain-Rust model of
/// the same rules: every outcome and balance agrees, and every invariant
/// holds after every step.
///
/// The audit after every step reads the whole database, and the ledger
/// cannot be emptied between cases, so a long soak (`PROPTEST_CASES`) moves
/// to a fresh database every [`CASES_PER_DATABASE`] cases; the one left
/// behind is audited once more as it is dropped.
#[test]
fn the_database_wallet_follows_the_model_through_random_sequences() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fresh = || {
        let database = TestDatabase::new();
        let pool = runtime.block_on(database.migrated_pool());
        (database, pool)
    };
    let current = std::cell::RefCell::new((fresh(), 0));
    let mut runner = TestRunner::new(ProptestConfig {
        cases: proptest_cases(24),
        ..ProptestConfig::default()
    });
    runner
        .run(&prop::collection::vec(step(), 1..40), |steps| {
            let pool = {
                let mut current = current.borrow_mut();
                if current.1 == CASES_PER_DATABASE {
                    *current = (fresh(), 0);
                }
                current.1 += 1;
                current.0.1.clone()
            };
            runtime.block_on(run_sequence(&pool, steps))
        })
        .unwrap();
}

/// See [`the_database_wallet_follows_the_model_through_random_sequences`].
const CASES_PER_DATABASE: u32 = 50;

/// The model test's first find: a user in debt (a refund took back credits
/// already spent) captures nothing of a hold. That moves no credits, so it
/// releases the hold; the database used to answer `insufficient`.
#[tokio::test]
async fn capturing_nothing_releases_a_hold_of_a_user_in_debt() {
    let database = TestDatabase::new();
    let pool = database.migrated_pool().await;
    let paid = |amount| Step::Grant {
        amount,
        expires_in_days: None,
        kind: GrantKind::Paid,
    };
    run_sequence(
        &pool,
        vec![
            paid(111),
            Step::Hold(1),
            paid(1),
            Step::Spend(1),
            Step::Refund(112),
            Step::Capture(0),
        ],
    )
    .await
    .unwrap();
}

async fn run_sequence(pool: &PgPool, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let user: UserId = sqlx::query_scalar(
        "insert into users (keycloak_sub) values (gen_random_uuid()::text) returning id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let spender = Spender {
        client_id: "proptest".into(),
    };
    let mut model = Wallet::default();
    let mut grant_ids: Vec<uuid::Uuid> = Vec::new();
    let mut holds: Vec<(domain::ids::HoldId, i64)> = Vec::new();
    let day = 86_400;
    // One instant for "in d days", so that equal expiries are equal.
    let base = Utc::now();
    for (n, step) in steps.into_iter().enumerate() {
        let debit = |amount: i64| NewDebit {
            user,
            amount: SpendAmount::parse(amount).unwrap(),
            description: String::new(),
            metadata: json!({}),
            key: IdempotencyKey::parse(&format!("{user}-{n}")).unwrap(),
        };
        match step {
            Step::Grant {
                amount,
                expires_in_days,
                kind,
            } => {
                let sequence = grant_ids.len() as u64;
                model.grant(
                    GrantOrder {
                        expires_at: expires_in_days.map(|d| d * day),
                        kind,
                        sequence,
                    },
                    amount,
                );
                let expires_at = expires_in_days.map(|d| base + chrono::Duration::days(d));
                grant_ids.push(grant(pool, &user.to_string(), amount, kind, expires_at).await);
            }
            Step::Spend(amount) => {
                let expected = model.spend(amount, 0);
                let outcome = wallet::spend(pool, &spender, &debit(amount)).await.unwrap();
                match (expected, outcome) {
                    (Some(funded), SpendOutcome::Done(spent)) => {
                        let got: Vec<(uuid::Uuid, i64)> = spent
                            .funded_by
                            .iter()
                            .map(|f| (f.grant_id.as_uuid(), f.amount))
                            .collect();
                        let want: Vec<(uuid::Uuid, i64)> =
                            funded.iter().map(|&(i, a)| (grant_ids[i], a)).collect();
                        prop_assert_eq!(got, want, "debit order");
                    }
                    (None, SpendOutcome::Insufficient { .. } | SpendOutcome::InDebt { .. }) => {}
                    (expected, outcome) => {
                        prop_assert!(false, "model {expected:?}, database {outcome:?}")
                    }
                }
            }
            Step::Refund(amount) => {
                model.take_back(amount, None);
                sqlx::query("insert into credit_ledger (user_id, amount, source, reference) values ($1, $2, 'refund', 'test-refund:' || gen_random_uuid())")
                    .bind(user).bind(-amount).execute(pool).await.unwrap();
            }
            Step::Hold(amount) => {
                let fits = amount <= model.available(0);
                let outcome = wallet::hold(pool, &spender, &debit(amount), HoldTtl::default())
                    .await
                    .unwrap();
                match outcome {
                    wallet::HoldOutcome::Done(held) => {
                        prop_assert!(fits, "held {amount} of {}", model.available(0));
                        model.holds.push(amount);
                        holds.push((held.hold_id, amount));
                    }
                    _ => prop_assert!(
                        !fits,
                        "refused a hold of {amount} with {} available",
                        model.available(0)
                    ),
                }
            }
            Step::Capture(part) => {
                let Some((hold, held)) = holds.pop() else {
                    continue;
                };
                let part = part.min(held);
                model.holds.pop();
                let expected = if part == 0 {
                    Some(vec![])
                } else {
                    model.spend(part, 0)
                };
                let outcome = wallet::capture(pool, &spender, hold, part).await.unwrap();
                match (expected, outcome) {
                    (Some(_), wallet::CaptureOutcome::Captured(c)) => {
                        prop_assert_eq!(c.released, held - part)
                    }
                    (None, wallet::CaptureOutcome::Insufficient { .. }) => {
                        wallet::release(pool, &spender, hold).await.unwrap();
                    }
                    (expected, outcome) => {
                        prop_assert!(false, "model {expected:?}, database {outcome:?}")
                    }
                }
            }
            Step::Release => {
                if let Some((hold, _)) = holds.pop() {
                    model.holds.pop();
                    let released = wallet::release(pool, &spender, hold).await.unwrap();
                    let done = matches!(released, wallet::ReleaseOutcome::Released { .. });
                    prop_assert!(done, "release answered {:?}", released);
                }
            }
            Step::Expire(index) => {
                let Some(&id) = grant_ids.get(index) else {
                    continue;
                };
                if model.grants[index].order.expires_at.is_none() {
                    continue;
                }
                model.grants[index].order.expires_at = Some(-1);
                model.expire(0);
                sqlx::query("update credit_grants set expires_at = now() - interval '1 second' where id = $1")
                    .bind(id).execute(pool).await.unwrap();
                wallet::sweep(pool).await.unwrap();
            }
        }
        let view = wallet::breakdown(pool, user).await.unwrap();
        prop_assert_eq!(view.balance, model.balance(), "balance");
        prop_assert_eq!(view.debt, model.debt, "debt");
        prop_assert_eq!(view.available, model.available(0).max(0), "available");
        let broken = wallet::audit::violations(pool).await.unwrap();
        prop_assert!(broken.is_empty(), "{}", broken.join("\n"));
    }
    assert_wallet_consistent(pool).await;
    Ok(())
}

#[tokio::test]
async fn the_activity_tab_charts_the_credits_used_each_day() {
    let world = world().await;
    let alice = world.token("alice").await;
    let (status, html, _) = world.page(Some(&alice), "/credits?tab=activity").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"id="usage-empty""#), "{html}");
    assert!(!html.contains(r#"id="usage-chart""#));

    world.buy_and_pay(&alice, "starter", CARD_OK).await;
    world.wait_for_balance(&alice, 1_000).await;
    let alice_id = world.user_id(&alice).await;
    let gateway = world.idp.spender_token().await;
    for (amount, key) in [(120, "use-1"), (80, "use-2")] {
        assert_eq!(spend(&world, &gateway, &alice_id, amount, key).await.0, 201);
    }
    // Yesterday's use, moved back a day, is a bar of its own (the ledger is
    // append-only: its guard trigger is skipped for this one test edit).
    let mut tx = world.app.pool.begin().await.unwrap();
    sqlx::query("set local session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "update credit_ledger set created_at = created_at - interval '1 day' \
         where source = 'usage' and amount = -80",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let (_, html, _) = world.page(Some(&alice), "/credits?tab=activity").await;
    assert!(html.contains(r#"<svg id="usage-chart""#), "{html}");
    // Thirty days, each a bar; today's and yesterday's with what was spent.
    assert_eq!(html.matches("data-day=").count(), 30);
    let today = Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap();
    assert!(
        html.contains(&format!(r#"data-day="{today}" data-value="120""#)),
        "{html}"
    );
    assert!(html.contains(&format!(r#"data-day="{yesterday}" data-value="80""#)));
    assert!(html.contains("200 credits used, per day (UTC)"));
    // The figures as a table, newest first, days without use left out.
    let table = html
        .find(r#"<th scope="row""#)
        .map(|at| html[at..].replace("<!>", ""))
        .expect("the table of figures");
    let (first, second) = (
        format!(
            r#"font-normal">{today}</th><td class="py-1 text-right tabular-nums">120 credits</td>"#
        ),
        format!(
            r#"font-normal">{yesterday}</th><td class="py-1 text-right tabular-nums">80 credits</td>"#
        ),
    );
    let (first_at, second_at) = (table.find(&first), table.find(&second));
    assert!(first_at.is_some() && first_at < second_at, "{table}");
    assert_eq!(table.matches(r#"<th scope="row""#).count(), 2, "{table}");
}
