//! Webhook flows end to end: the Stripe emulator delivers signed events to
//! the real app over HTTP (once, again, or fifty times at once), and the
//! tests look at what the user sees (balance, history) and at the ledger.
//! Every test ends by checking the ledger rules across the whole database.

use crate::support::world::{CARD_DELAYED_FAIL, CARD_DELAYED_OK, CARD_OK, World, world};
use futures_util::future::join_all;
use serde_json::{Value, json};

const COMPLETED: &str = "checkout.session.completed";
const ASYNC_SUCCEEDED: &str = "checkout.session.async_payment_succeeded";
const ASYNC_FAILED: &str = "checkout.session.async_payment_failed";
const EXPIRED: &str = "checkout.session.expired";
const REFUNDED: &str = "charge.refunded";
const REFUND_UPDATED: &str = "charge.refund.updated";
const DISPUTE_CREATED: &str = "charge.dispute.created";
const DISPUTE_CLOSED: &str = "charge.dispute.closed";

fn purchase(amount: i64) -> (String, i64) {
    ("purchase".to_owned(), amount)
}

fn refund(amount: i64) -> (String, i64) {
    ("refund".to_owned(), amount)
}

fn dispute(amount: i64) -> (String, i64) {
    ("dispute".to_owned(), amount)
}

/// The payment intent that paid `session_id`, as Stripe knows it.
async fn payment_intent(world: &World, session_id: &str) -> String {
    world
        .stripe_get(&format!("/v1/checkout/sessions/{session_id}"))
        .await["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_webhook_before_the_return_leaves_one_grant_and_a_completed_purchase() {
    let world = world().await;
    let alice = world.token("alice").await;
    let session = world.buy_and_pay(&alice, "starter", CARD_OK).await;
    let completed = world.event(COMPLETED, "id", &session).await;
    world.wait_for_delivery(&completed).await;
    assert_eq!(world.balance(&alice).await, 1_000);

    // The browser comes back to the success page after the webhook did the work.
    let (status, confirmed) = world.confirm(&alice, &session).await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["status"], "completed");

    assert_eq!(world.balance(&alice).await, 1_000);
    assert_eq!(world.ledger_for(&session).await, [purchase(1_000)]);
    let history = world.history(&alice).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["status"], "completed");
    assert!(history[0]["completed_at"].is_string(), "{}", history[0]);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn a_redelivered_completion_event_grants_nothing_more() {
    let world = world().await;
    let alice = world.token("alice").await;
    let session = world.buy_and_pay(&alice, "starter", CARD_OK).await;
    let completed = world.event(COMPLETED, "id", &session).await;
    world.wait_for_delivery(&completed).await;
    assert_eq!(world.balance(&alice).await, 1_000);

    world.redeliver(&completed, 1, false).await;
    world.redeliver(&completed, 3, false).await;

    assert_eq!(world.balance(&alice).await, 1_000);
    assert_eq!(world.ledger_for(&session).await, [purchase(1_000)]);
    assert_eq!(world.status(&session).await, "completed");
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn fifty_simultaneous_deliveries_of_one_completion_grant_once() {
    let world = world().await;
    let alice = world.token("alice").await;
    // Hold Stripe's own delivery so the fifty copies race for the first grant.
    world.control("/webhooks/hold", json!({})).await;
    let session = world.buy_and_pay(&alice, "pro", CARD_OK).await;
    let completed = world.event(COMPLETED, "id", &session).await;
    assert_eq!(world.balance(&alice).await, 0, "a webhook was not held");

    world.redeliver(&completed, 50, true).await;

    assert_eq!(world.balance(&alice).await, 10_000);
    assert_eq!(world.ledger_for(&session).await, [purchase(10_000)]);
    assert_eq!(world.status(&session).await, "completed");

    // Stripe's own (held) delivery arrives last and changes nothing either.
    world.control("/webhooks/release", json!({})).await;
    world.wait_for_delivery(&completed).await;
    assert_eq!(world.balance(&alice).await, 10_000);
    assert_eq!(world.grants_for(&session).await, 1);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn completion_and_async_success_delivered_together_many_times_grant_once() {
    let world = world().await;
    let alice = world.token("alice").await;
    world.control("/webhooks/hold", json!({})).await;
    let session = world.buy_and_pay(&alice, "standard", CARD_DELAYED_OK).await;
    world.settle(&session, "succeeded").await;
    let completed = world.event(COMPLETED, "id", &session).await;
    let succeeded = world.event(ASYNC_SUCCEEDED, "id", &session).await;

    // Two different events about the same session, each 25 times, all at once.
    tokio::join!(
        world.redeliver(&completed, 25, true),
        world.redeliver(&succeeded, 25, true),
    );

    assert_eq!(world.balance(&alice).await, 5_000);
    assert_eq!(world.ledger_for(&session).await, [purchase(5_000)]);
    assert_eq!(world.status(&session).await, "completed");

    let released = world.control("/webhooks/release", json!({})).await;
    assert!(
        released["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["success"] == true),
        "{released}"
    );
    assert_eq!(world.balance(&alice).await, 5_000);
    assert_eq!(world.grants_for(&session).await, 1);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn the_return_racing_the_webhooks_grants_once() {
    let world = world().await;
    let alice = world.token("alice").await;
    world.control("/webhooks/hold", json!({})).await;
    let session = world.buy_and_pay(&alice, "starter", CARD_OK).await;
    let completed = world.event(COMPLETED, "id", &session).await;

    // Twenty webhook copies and ten success-page returns at the same moment.
    let returns = join_all((0..10).map(|_| world.confirm(&alice, &session)));
    let ((), returns) = tokio::join!(world.redeliver(&completed, 20, true), returns);
    for (status, confirmed) in returns {
        assert_eq!(status, 200, "{confirmed}");
        assert_eq!(confirmed["status"], "completed");
    }

    assert_eq!(world.balance(&alice).await, 1_000);
    assert_eq!(world.ledger_for(&session).await, [purchase(1_000)]);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn a_delayed_payment_grants_nothing_until_it_settles_then_grants_once() {
    let world = world().await;
    let alice = world.token("alice").await;
    let session = world.buy_and_pay(&alice, "starter", CARD_DELAYED_OK).await;

    let completed = world.event(COMPLETED, "id", &session).await;
    let event = world.stripe_get(&format!("/v1/events/{completed}")).await;
    assert_eq!(event["data"]["object"]["payment_status"], "unpaid");
    world.wait_for_delivery(&completed).await;
    assert_eq!(world.status(&session).await, "pending");
    assert_eq!(world.balance(&alice).await, 0);
    assert_eq!(world.ledger_for(&session).await, []);
    // Returning to the success page meanwhile does not grant either.
    let (status, confirmed) = world.confirm(&alice, &session).await;
    assert_eq!((status, &confirmed["status"]), (200, &json!("pending")));
    assert_eq!(world.balance(&alice).await, 0);

    world.settle(&session, "succeeded").await;
    let succeeded = world.event(ASYNC_SUCCEEDED, "id", &session).await;
    world.wait_for_delivery(&succeeded).await;
    assert_eq!(world.balance(&alice).await, 1_000);
    assert_eq!(world.status(&session).await, "completed");
    let history = world.history(&alice).await;
    assert_eq!(history[0]["status"], "completed");
    assert_eq!(
        history[0]["stripe_payment_id"],
        json!(payment_intent(&world, &session).await)
    );

    // The unpaid completion arriving again after the success changes nothing.
    world.redeliver(&completed, 2, true).await;
    world.redeliver(&succeeded, 2, true).await;
    assert_eq!(world.ledger_for(&session).await, [purchase(1_000)]);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn a_delayed_payment_that_fails_marks_the_purchase_failed_without_credits() {
    let world = world().await;
    let alice = world.token("alice").await;
    let session = world
        .buy_and_pay(&alice, "starter", CARD_DELAYED_FAIL)
        .await;
    let completed = world.event(COMPLETED, "id", &session).await;
    world.wait_for_delivery(&completed).await;
    assert_eq!(world.status(&session).await, "pending");

    world.settle(&session, "failed").await;
    let failed = world.event(ASYNC_FAILED, "id", &session).await;
    world.wait_for_delivery(&failed).await;

    assert_eq!(world.status(&session).await, "failed");
    assert_eq!(world.balance(&alice).await, 0);
    assert_eq!(world.ledger_for(&session).await, []);
    assert_eq!(world.history(&alice).await[0]["status"], "failed");
    let (status, confirmed) = world.confirm(&alice, &session).await;
    assert_eq!((status, &confirmed["status"]), (200, &json!("failed")));

    world.redeliver(&completed, 3, true).await;
    world.redeliver(&failed, 3, true).await;
    assert_eq!(world.status(&session).await, "failed");
    assert_eq!(world.balance(&alice).await, 0);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn an_expired_checkout_is_marked_expired_without_credits() {
    let world = world().await;
    let alice = world.token("alice").await;
    let (checkout_url, session) = world.buy(&alice, "standard").await;

    let session_now = world
        .stripe_post(&format!("/v1/checkout/sessions/{session}/expire"), &[])
        .await;
    assert_eq!(session_now["status"], "expired");
    let expired = world.event(EXPIRED, "id", &session).await;
    world.wait_for_delivery(&expired).await;

    assert_eq!(world.status(&session).await, "expired");
    assert_eq!(world.history(&alice).await[0]["status"], "expired");
    assert_eq!(world.balance(&alice).await, 0);
    assert_eq!(world.ledger_for(&session).await, []);
    // The pay page no longer takes money, and a late return grants nothing.
    assert_ne!(world.pay(&checkout_url, CARD_OK).await.status(), 303);
    let (status, confirmed) = world.confirm(&alice, &session).await;
    assert_eq!((status, &confirmed["status"]), (200, &json!("expired")));
    assert_eq!(world.balance(&alice).await, 0);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn a_full_refund_takes_every_credit_back_once() {
    let world = world().await;
    let alice = world.token("alice").await;
    let session = world.buy_and_pay(&alice, "starter", CARD_OK).await;
    world.wait_for_balance(&alice, 1_000).await;

    let stripe_refund = world.refund(&session, None).await;
    assert_eq!(stripe_refund["amount"], 1_000);
    let intent = payment_intent(&world, &session).await;
    let refunded = world.event(REFUNDED, "payment_intent", &intent).await;
    world.wait_for_delivery(&refunded).await;

    assert_eq!(world.balance(&alice).await, 0);
    assert_eq!(world.status(&session).await, "refunded");
    assert_eq!(world.history(&alice).await[0]["status"], "refunded");
    assert_eq!(
        world.ledger_for(&session).await,
        [purchase(1_000), refund(-1_000)]
    );

    world.redeliver(&refunded, 1, false).await;
    world.redeliver(&refunded, 10, true).await;
    assert_eq!(world.balance(&alice).await, 0);
    assert_eq!(
        world.ledger_for(&session).await,
        [purchase(1_000), refund(-1_000)]
    );
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn partial_refunds_take_back_their_share_and_add_up_to_the_purchase() {
    let world = world().await;
    let alice = world.token("alice").await;
    // Standard: 5,000 credits for $45.00, so a third of the money is 1,666.67 credits.
    let session = world.buy_and_pay(&alice, "standard", CARD_OK).await;
    world.wait_for_balance(&alice, 5_000).await;
    let intent = payment_intent(&world, &session).await;

    world.refund(&session, Some(1_500)).await;
    let first = world.event(REFUNDED, "payment_intent", &intent).await;
    world.wait_for_delivery(&first).await;
    assert_eq!(
        world.balance(&alice).await,
        3_334,
        "rounded down per refund"
    );
    assert_eq!(world.status(&session).await, "partially_refunded");
    assert_eq!(
        world.history(&alice).await[0]["status"],
        "partially_refunded"
    );

    // The rest of the money: the rest of the credits, whatever the rounding was.
    world.refund(&session, None).await;
    let both = world.events(REFUNDED, "payment_intent", &intent).await;
    assert_eq!(both.len(), 2, "{both:?}");
    let second = both[1].clone();
    assert_eq!(both[0], first);
    world.wait_for_delivery(&second).await;
    assert_eq!(world.balance(&alice).await, 0);
    assert_eq!(world.status(&session).await, "refunded");
    let ledger = world.ledger_for(&session).await;
    assert_eq!(ledger, [purchase(5_000), refund(-1_666), refund(-3_334)]);

    // Both refund events again, the older one last: nothing moves.
    tokio::join!(
        world.redeliver(&first, 5, true),
        world.redeliver(&second, 5, true),
    );
    world.redeliver(&first, 1, false).await;
    assert_eq!(world.balance(&alice).await, 0);
    assert_eq!(world.status(&session).await, "refunded");
    assert_eq!(world.ledger_for(&session).await, ledger);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn a_refund_reported_before_the_completion_still_takes_the_credits_back() {
    let world = world().await;
    let alice = world.token("alice").await;
    world.control("/webhooks/hold", json!({})).await;
    let session = world.buy_and_pay(&alice, "starter", CARD_OK).await;
    world.refund(&session, None).await;
    let intent = payment_intent(&world, &session).await;
    let refunded = world.event(REFUNDED, "payment_intent", &intent).await;
    let completed = world.event(COMPLETED, "id", &session).await;

    // Stripe does not promise an order: the refund's event comes first.
    world
        .control(
            "/webhooks/release",
            json!({ "order": [refunded.clone(), completed.clone()] }),
        )
        .await;
    world.wait_for_delivery(&refunded).await;
    world.wait_for_delivery(&completed).await;

    assert_eq!(
        world.balance(&alice).await,
        0,
        "credits kept for money that went back"
    );
    assert_eq!(world.status(&session).await, "refunded");
    world.assert_ledger_consistent().await;
}

/// Every credits event the emulator emitted so far.
async fn all_credit_events(world: &World) -> Vec<String> {
    let mut ids = Vec::new();
    for event_type in ["checkout.session.*", REFUNDED] {
        let list = world
            .stripe_get(&format!("/v1/events?type={event_type}&limit=100"))
            .await;
        let data = list["data"].as_array().unwrap();
        assert!(
            list["has_more"] == false,
            "more than 100 {event_type} events"
        );
        ids.extend(data.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
    }
    ids
}

/// Alice: a purchase kept, one partly refunded, a delayed payment that fails.
async fn alices_day(world: &World, token: &str) -> Vec<String> {
    let kept = world.buy_and_pay(token, "starter", CARD_OK).await;
    let refunded = world.buy_and_pay(token, "standard", CARD_OK).await;
    world.wait_for_status(&refunded, "completed").await;
    world.refund(&refunded, Some(1_500)).await;
    let failed = world.buy_and_pay(token, "pro", CARD_DELAYED_FAIL).await;
    world.settle(&failed, "failed").await;
    world.wait_for_status(&kept, "completed").await;
    world.wait_for_status(&refunded, "partially_refunded").await;
    world.wait_for_status(&failed, "failed").await;
    vec![kept, refunded, failed]
}

/// Bob: a delayed payment that succeeds, an abandoned checkout, a full refund.
async fn bobs_day(world: &World, token: &str) -> Vec<String> {
    let delayed = world.buy_and_pay(token, "pro", CARD_DELAYED_OK).await;
    let (_, abandoned) = world.buy(token, "starter").await;
    let refunded = world.buy_and_pay(token, "standard", CARD_OK).await;
    world.settle(&delayed, "succeeded").await;
    world
        .stripe_post(&format!("/v1/checkout/sessions/{abandoned}/expire"), &[])
        .await;
    world.wait_for_status(&refunded, "completed").await;
    world.refund(&refunded, None).await;
    world.wait_for_status(&delayed, "completed").await;
    world.wait_for_status(&abandoned, "expired").await;
    world.wait_for_status(&refunded, "refunded").await;
    vec![delayed, abandoned, refunded]
}

#[tokio::test]
async fn every_balance_equals_its_ledger_after_a_busy_day_for_two_users() {
    let world = world().await;
    let alice = world.token("alice").await;
    let bob = world.token("bob").await;

    let (alices, bobs) = tokio::join!(alices_day(&world, &alice), bobs_day(&world, &bob));

    // Alice keeps 1,000 and 5,000 - 1,666; Bob keeps his 10,000.
    assert_eq!(world.balance(&alice).await, 4_334);
    assert_eq!(world.balance(&bob).await, 10_000);
    world.assert_ledger_consistent().await;

    // Every event of the day delivered again, three times each, all at once.
    let events = all_credit_events(&world).await;
    for event in &events {
        world.wait_for_delivery(event).await;
    }
    join_all(events.iter().map(|event| world.redeliver(event, 3, true))).await;

    assert_eq!(world.balance(&alice).await, 4_334);
    assert_eq!(world.balance(&bob).await, 10_000);
    let statuses: Vec<String> = join_all(alices.iter().chain(&bobs).map(|s| world.status(s))).await;
    assert_eq!(
        statuses,
        [
            "completed",
            "partially_refunded",
            "failed",
            "completed",
            "expired",
            "refunded"
        ]
    );
    for session in alices.iter().chain(&bobs) {
        assert!(world.grants_for(session).await <= 1, "{session}");
    }
    let history: Vec<Value> = world.history(&bob).await;
    assert_eq!(history.len(), 3);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn a_payment_of_another_amount_grants_nothing_and_waits_for_an_admin() {
    let world = world().await;
    let admin = world.token("admin").await;
    let alice = world.token("alice").await;
    // The starter pack costs $10.00; Stripe's session charges $5.00.
    let (checkout_url, session) = world.buy(&alice, "starter").await;
    world
        .amend_session(&session, json!({ "amount_total": 500 }))
        .await;
    assert_eq!(world.pay(&checkout_url, CARD_OK).await.status(), 303);
    let completed = world.event(COMPLETED, "id", &session).await;
    world.wait_for_delivery(&completed).await;

    assert_eq!(world.status(&session).await, "needs_review");
    assert_eq!(world.balance(&alice).await, 0);
    assert_eq!(world.ledger_for(&session).await, []);
    // Redelivered, and confirmed on return: still nothing granted.
    world.redeliver(&completed, 3, true).await;
    let (status, confirmed) = world.confirm(&alice, &session).await;
    assert_eq!(
        (status, &confirmed["status"]),
        (200, &json!("needs_review"))
    );
    assert_eq!(world.balance(&alice).await, 0);

    // The admin API lists it with the reason.
    let purchase = world.purchase_id(&session).await;
    let listed = world.needs_review(&admin).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], purchase.as_str());
    assert_eq!(listed[0]["status"], "needs_review");
    assert_eq!(
        listed[0]["review_reason"],
        "Stripe collected $5.00, but the purchase costs $10.00"
    );
    let (_, detail) = world
        .api(
            &admin,
            reqwest::Method::GET,
            &format!("/credits/admin/purchases/{purchase}"),
            None,
        )
        .await;
    let held = detail["audit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "purchase.needs_review")
        .cloned()
        .unwrap_or_else(|| panic!("no needs_review audit row: {detail}"));
    assert_eq!(held["details"]["reason"], "amount_mismatch");
    assert_eq!(held["details"]["amount_total_cents"], 500);
    assert_eq!(held["details"]["expected_amount_cents"], 1_000);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn the_return_checks_currency_and_mode_before_the_webhook_does() {
    let world = world().await;
    let alice = world.token("alice").await;
    // Webhooks wait, so the success-page return is the first to see each payment.
    world.control("/webhooks/hold", json!({})).await;
    let mut sessions = Vec::new();
    for changes in [json!({ "currency": "eur" }), json!({ "livemode": true })] {
        let (checkout_url, session) = world.buy(&alice, "starter").await;
        world.amend_session(&session, changes).await;
        assert_eq!(world.pay(&checkout_url, CARD_OK).await.status(), 303);
        let (status, confirmed) = world.confirm(&alice, &session).await;
        assert_eq!(
            (status, &confirmed["status"]),
            (200, &json!("needs_review"))
        );
        sessions.push(session);
    }
    let reasons: Vec<String> = sqlx::query_scalar(
        "select review_reason from credit_purchases where stripe_checkout_session_id = any($1) \
         order by created_at",
    )
    .bind(&sessions)
    .fetch_all(&world.app.pool)
    .await
    .unwrap();
    assert_eq!(
        reasons,
        [
            "Stripe collected EUR, but the purchase is in USD",
            "the session was paid in live mode, but this is a test account",
        ]
    );
    // The webhooks arrive late: still nothing granted.
    world.control("/webhooks/release", json!({})).await;
    for session in &sessions {
        let completed = world.event(COMPLETED, "id", session).await;
        world.wait_for_delivery(&completed).await;
        assert_eq!(world.status(session).await, "needs_review");
        assert_eq!(world.ledger_for(session).await, []);
    }
    assert_eq!(world.balance(&alice).await, 0);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn a_payment_after_the_purchase_expired_waits_for_an_admin_instead_of_vanishing() {
    let world = world().await;
    let admin = world.token("admin").await;
    let alice = world.token("alice").await;
    let (checkout_url, session) = world.buy(&alice, "standard").await;
    world
        .stripe_post(&format!("/v1/checkout/sessions/{session}/expire"), &[])
        .await;
    let expired = world.event(EXPIRED, "id", &session).await;
    world.wait_for_delivery(&expired).await;
    assert_eq!(world.status(&session).await, "expired");

    // The money arrives anyway.
    world
        .amend_session(&session, json!({ "reopen": true }))
        .await;
    assert_eq!(world.pay(&checkout_url, CARD_OK).await.status(), 303);
    let completed = world.event(COMPLETED, "id", &session).await;
    world.wait_for_delivery(&completed).await;

    assert_eq!(world.status(&session).await, "needs_review");
    assert_eq!(world.balance(&alice).await, 0);
    assert_eq!(world.ledger_for(&session).await, []);
    let listed = world.needs_review(&admin).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        listed[0]["review_reason"],
        "the payment arrived after the purchase was marked expired"
    );
    assert!(
        listed[0]["stripe_payment_id"]
            .as_str()
            .is_some_and(|p| p.starts_with("pi_"))
    );
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn a_refund_that_fails_gives_the_credits_back_once() {
    let world = world().await;
    let alice = world.token("alice").await;
    let session = world.buy_and_pay(&alice, "starter", CARD_OK).await;
    world.wait_for_balance(&alice, 1_000).await;
    let intent = payment_intent(&world, &session).await;
    let refund_id = world.refund(&session, None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refunded = world.event(REFUNDED, "payment_intent", &intent).await;
    world.wait_for_delivery(&refunded).await;
    assert_eq!(world.balance(&alice).await, 0);
    assert_eq!(world.status(&session).await, "refunded");

    // The card was closed: the refund fails and the money is ours again.
    let failed = world.fail_refund(&refund_id).await;
    assert_eq!(
        (
            &failed["object"],
            &failed["status"],
            &failed["payment_intent"]
        ),
        (&json!("refund"), &json!("failed"), &json!(intent))
    );
    let updated = world.event(REFUND_UPDATED, "id", &refund_id).await;
    world.wait_for_delivery(&updated).await;
    assert_eq!(world.balance(&alice).await, 1_000);
    assert_eq!(world.status(&session).await, "completed");
    let ledger = [purchase(1_000), refund(-1_000), refund(1_000)];
    assert_eq!(world.ledger_for(&session).await, ledger);

    // Delivered again, one after another and all at once, and the same
    // failure under a new event id, also all at once: given back once.
    world.redeliver(&updated, 2, false).await;
    world.redeliver(&updated, 10, true).await;
    let copy = world
        .control(
            "/events",
            json!({ "type": REFUND_UPDATED, "object": failed }),
        )
        .await;
    let copy = copy["id"].as_str().unwrap().to_owned();
    world.redeliver(&copy, 10, true).await;
    assert_eq!(world.balance(&alice).await, 1_000);
    assert_eq!(world.ledger_for(&session).await, ledger);
    world.assert_ledger_consistent().await;

    // Refunded again for real: the same refunded total as before, taken once more.
    world.refund(&session, None).await;
    let again = world.events(REFUNDED, "payment_intent", &intent).await;
    assert_eq!(again.len(), 2, "{again:?}");
    world.wait_for_delivery(&again[1]).await;
    assert_eq!(world.balance(&alice).await, 0);
    assert_eq!(world.status(&session).await, "refunded");
    assert_eq!(
        world.ledger_for(&session).await,
        [
            purchase(1_000),
            refund(-1_000),
            refund(1_000),
            refund(-1_000)
        ]
    );
    world.redeliver(&refunded, 3, true).await;
    world.redeliver(&again[1], 3, true).await;
    assert_eq!(world.balance(&alice).await, 0);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn a_dispute_takes_the_remaining_credits_back_and_a_won_one_restores_them() {
    let world = world().await;
    let alice = world.token("alice").await;
    // Standard: 5,000 credits for $45.00; $15.00 refunded first leaves 3,334.
    let session = world.buy_and_pay(&alice, "standard", CARD_OK).await;
    world.wait_for_balance(&alice, 5_000).await;
    let intent = payment_intent(&world, &session).await;
    world.refund(&session, Some(1_500)).await;
    world.wait_for_status(&session, "partially_refunded").await;
    assert_eq!(world.balance(&alice).await, 3_334);

    let opened = world.dispute(&session).await;
    assert_eq!(opened["object"], "dispute");
    assert_eq!(opened["amount"], 3_000);
    assert_eq!(opened["payment_intent"], json!(intent));
    assert_eq!(opened["status"], "needs_response");
    assert!(opened["charge"].as_str().unwrap().starts_with("ch_"));
    let dispute_id = opened["id"].as_str().unwrap().to_owned();
    let created = world.event(DISPUTE_CREATED, "id", &dispute_id).await;
    world.wait_for_delivery(&created).await;

    assert_eq!(world.balance(&alice).await, 0);
    assert_eq!(world.status(&session).await, "disputed");
    assert_eq!(world.history(&alice).await[0]["status"], "disputed");
    let taken = [purchase(5_000), refund(-1_666), dispute(-3_334)];
    assert_eq!(world.ledger_for(&session).await, taken);
    world.redeliver(&created, 10, true).await;
    assert_eq!(world.ledger_for(&session).await, taken);
    world.assert_ledger_consistent().await;

    // The admin pages show the disputed purchase.
    let admin = world.token("admin").await;
    let purchase_id = world.purchase_id(&session).await;
    for path in [
        format!("/admin/credits/purchases/{purchase_id}"),
        "/admin/credits?status=disputed".to_owned(),
    ] {
        let (status, html, _) = world.page(Some(&admin), &path).await;
        assert_eq!(status, 200, "{path}");
        assert!(html.contains(r#"data-status="disputed""#), "{path}");
    }

    world.close_dispute(&dispute_id, "won").await;
    let closed = world.event(DISPUTE_CLOSED, "id", &dispute_id).await;
    world.wait_for_delivery(&closed).await;
    assert_eq!(world.balance(&alice).await, 3_334);
    assert_eq!(world.status(&session).await, "partially_refunded");
    let restored = [
        purchase(5_000),
        refund(-1_666),
        dispute(-3_334),
        dispute(3_334),
    ];
    assert_eq!(world.ledger_for(&session).await, restored);

    // Both events again, all at once: nothing moves.
    tokio::join!(
        world.redeliver(&created, 5, true),
        world.redeliver(&closed, 5, true),
    );
    assert_eq!(world.balance(&alice).await, 3_334);
    assert_eq!(world.ledger_for(&session).await, restored);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn a_lost_dispute_keeps_the_credits_taken() {
    let world = world().await;
    let alice = world.token("alice").await;
    let session = world.buy_and_pay(&alice, "starter", CARD_OK).await;
    world.wait_for_balance(&alice, 1_000).await;

    let dispute_id = world.dispute(&session).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = world.event(DISPUTE_CREATED, "id", &dispute_id).await;
    world.wait_for_delivery(&created).await;
    assert_eq!(world.balance(&alice).await, 0);
    assert_eq!(world.status(&session).await, "disputed");

    world.close_dispute(&dispute_id, "lost").await;
    let closed = world.event(DISPUTE_CLOSED, "id", &dispute_id).await;
    world.wait_for_delivery(&closed).await;
    world.redeliver(&closed, 5, true).await;
    assert_eq!(world.balance(&alice).await, 0);
    assert_eq!(world.status(&session).await, "disputed");
    assert_eq!(
        world.ledger_for(&session).await,
        [purchase(1_000), dispute(-1_000)]
    );
    world.assert_ledger_consistent().await;
}
