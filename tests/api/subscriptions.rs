//! Subscriptions end to end: the real app, the Stripe emulator (hosted pay
//! page, subscriptions, invoices, portal, signed webhooks to both of the
//! app's endpoints) and the dev identity provider, on a fresh database.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::world::{CARD_OK, World, world_with};

/// The subscription endpoint's secret (`STRIPE_WEBHOOK_SECRET` in `test_env`).
const SUBSCRIPTION_SECRET: &str = "whsec_test_subscriptions";

const POLL_FOR: Duration = Duration::from_secs(15);

/// A world whose emulator also delivers every event to the subscription webhook.
async fn sub_world() -> World {
    sub_world_with(|_| {}).await
}

/// [`sub_world`] with the app's environment adjusted by `configure`.
pub(crate) async fn sub_world_with(
    configure: impl FnOnce(&mut std::collections::HashMap<String, String>),
) -> World {
    let world = world_with(configure).await;
    world
        .control(
            "/webhooks",
            json!({ "url": world.app.url("/api/v1/billing/webhooks/stripe"), "secret": SUBSCRIPTION_SECRET }),
        )
        .await;
    world
}

pub(crate) async fn status(world: &World, token: &str) -> Value {
    let (code, body) = world
        .api(token, Method::GET, "/subscription-status", None)
        .await;
    assert_eq!(code, 200, "{body}");
    body
}

/// Polls the caller's plan until `check` holds.
pub(crate) async fn wait_for_status(
    world: &World,
    token: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + POLL_FOR;
    loop {
        let body = status(world, token).await;
        if check(&body) {
            return body;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("the plan never became {what}: {body}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts a subscription checkout; returns `(checkout_url, session_id)`.
pub(crate) async fn start(world: &World, token: &str, tier: &str, cycle: &str) -> (String, String) {
    let (code, body) = world
        .api(
            token,
            Method::POST,
            "/checkout/create",
            Some(json!({ "tier_id": tier, "billing_cycle": cycle })),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    (
        body["checkout_url"].as_str().unwrap().to_owned(),
        body["session_id"].as_str().unwrap().to_owned(),
    )
}

/// Subscribes through the hosted pay page; returns the Stripe subscription id
/// once the app knows the plan (from its webhooks).
pub(crate) async fn subscribe(world: &World, token: &str, tier: &str, cycle: &str) -> String {
    let (url, _session) = start(world, token, tier, cycle).await;
    let paid = world.pay(&url, CARD_OK).await;
    assert_eq!(paid.status(), 303, "paying for {tier}");
    let plan = wait_for_status(world, token, "active", |s| {
        s["has_active_plan"] == true && s["tier"] == tier
    })
    .await;
    plan["subscription_id"].as_str().unwrap().to_owned()
}

/// Waits until every event emitted so far has been acknowledged by both endpoints.
pub(crate) async fn settle_webhooks(world: &World) {
    let deadline = tokio::time::Instant::now() + POLL_FOR;
    loop {
        let pending = world
            .stripe_get("/v1/events?delivery_success=false&limit=100")
            .await;
        if pending["data"].as_array().unwrap().is_empty() {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("events never delivered: {pending}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn allowance_rows(world: &World) -> Vec<(String, i64)> {
    sqlx::query_as(
        "select reference, amount from credit_ledger where source = 'subscription_allowance' order by id",
    )
    .fetch_all(&world.app.pool)
    .await
    .unwrap()
}

/// Delivers `event` again `times` times at once to every endpoint (the
/// credits and the subscription webhook); every delivery must be acknowledged.
async fn redeliver_everywhere(world: &World, event: &str, times: u32) {
    let attempts = world
        .control(
            &format!("/events/{event}/deliver"),
            json!({ "times": times, "concurrent": true }),
        )
        .await;
    let attempts = attempts["data"].as_array().unwrap();
    assert_eq!(attempts.len(), 2 * times as usize, "{attempts:?}");
    for attempt in attempts {
        assert_eq!(attempt["success"], true, "{attempt}");
    }
}

/// `POST /subscription/cancel` of `sub`, at the period's end or now.
pub(crate) async fn cancel(
    world: &World,
    token: &str,
    sub: &str,
    at_period_end: bool,
) -> (u16, Value) {
    world
        .api(
            token,
            Method::POST,
            "/subscription/cancel",
            Some(json!({ "subscription_id": sub, "at_period_end": at_period_end })),
        )
        .await
}

/// `POST /subscription/upgrade` to `tier` and `cycle`, without a preview.
pub(crate) async fn change_plan(
    world: &World,
    token: &str,
    tier: &str,
    cycle: &str,
) -> (u16, Value) {
    world
        .api(
            token,
            Method::POST,
            "/subscription/upgrade",
            Some(json!({ "new_tier_id": tier, "billing_cycle": cycle })),
        )
        .await
}

pub(crate) async fn advance(world: &World, sub: &str, body: Value) -> Value {
    world
        .control(&format!("/subscriptions/{sub}/advance"), body)
        .await
}

#[tokio::test]
async fn subscribing_through_the_hosted_page_grants_the_allowance_once() {
    let world = sub_world().await;
    let alice = world.token("alice").await;
    let user_id = world.user_id(&alice).await;
    let (url, session) = start(&world, &alice, "professional", "monthly").await;
    // The session carries our user id where invoice.paid can find it early.
    let opened = world
        .stripe_get(&format!("/v1/checkout/sessions/{session}"))
        .await;
    assert_eq!(opened["mode"], "subscription");
    assert_eq!(opened["client_reference_id"], user_id.as_str());
    assert_eq!(world.pay(&url, CARD_OK).await.status(), 303);

    let plan = wait_for_status(&world, &alice, "active", |s| s["has_active_plan"] == true).await;
    assert_eq!(plan["tier"], "professional");
    assert_eq!(plan["status"], "active");
    assert_eq!(plan["billing_cycle"], "monthly");
    assert_eq!(plan["amount_cents"], 4900);
    assert_eq!(plan["amount"], "49.00");
    assert_eq!(plan["monthly_allowance"], 6000);
    assert_eq!(plan["cancel_at_period_end"], false);
    assert!(
        plan["current_period_end"].as_str().unwrap()
            > plan["current_period_start"].as_str().unwrap()
    );
    assert_eq!(plan["next_invoice_date"], plan["current_period_end"]);
    let sub = plan["subscription_id"].as_str().unwrap();
    let stripe_sub = world.stripe_get(&format!("/v1/subscriptions/{sub}")).await;
    assert_eq!(stripe_sub["metadata"]["user_id"], user_id.as_str());

    world.wait_for_balance(&alice, 6000).await;
    let paid = world.event("invoice.paid", "subscription", sub).await;
    redeliver_everywhere(&world, &paid, 3).await;
    settle_webhooks(&world).await;
    assert_eq!(world.balance(&alice).await, 6000);
    assert_eq!(allowance_rows(&world).await.len(), 1);
    world.assert_ledger_consistent().await;
    // The allowance is a grant that expires with the month it was paid for
    // (the professional tier does not roll over).
    let (kind, days): (String, f64) = sqlx::query_as(
        "select kind, extract(epoch from expires_at - created_at)::float8 / 86400 from credit_grants",
    )
    .fetch_one(&world.app.pool)
    .await
    .unwrap();
    assert_eq!(kind, "allowance");
    assert!((28.0..=31.1).contains(&days), "expires after {days} days");
    let (_, balance) = world
        .api(&alice, reqwest::Method::GET, "/credits/balance", None)
        .await;
    assert_eq!(
        (balance["granted"].as_i64(), balance["paid"].as_i64()),
        (Some(6000), Some(0))
    );

    // Cards and invoices are the caller's own, from Stripe.
    let (code, methods) = world
        .api(&alice, Method::GET, "/payment-methods", None)
        .await;
    assert_eq!(code, 200, "{methods}");
    let cards = methods["payment_methods"].as_array().unwrap();
    assert_eq!(cards.len(), 1, "{methods}");
    assert_eq!(cards[0]["last4"], "4242");
    assert_eq!(cards[0]["is_default"], true);
    let (code, invoices) = world.api(&alice, Method::GET, "/invoices", None).await;
    assert_eq!(code, 200, "{invoices}");
    let invoices = invoices["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0]["status"], "paid");
    assert_eq!(invoices[0]["total_cents"], 4900);
    assert!(invoices[0]["number"].is_string());
    let bob = world.token("bob").await;
    let (_, bobs) = world.api(&bob, Method::GET, "/invoices", None).await;
    assert_eq!(bobs["invoices"], json!([]));
}

#[tokio::test]
async fn a_second_subscription_is_refused_and_bad_plans_are_422() {
    let world = sub_world().await;
    let alice = world.token("alice").await;
    for (body, what) in [
        (
            json!({ "tier_id": "gold", "billing_cycle": "monthly" }),
            "unknown tier",
        ),
        (
            json!({ "tier_id": "trial", "billing_cycle": "yearly" }),
            "trial has no yearly price",
        ),
        (
            json!({ "tier_id": "starter", "billing_cycle": "weekly" }),
            "unknown cycle",
        ),
        (json!({ "billing_cycle": "monthly" }), "no tier"),
    ] {
        let (code, refusal) = world
            .api(&alice, Method::POST, "/checkout/create", Some(body))
            .await;
        assert_eq!(code, 422, "{what}: {refusal}");
    }
    // A checkout left open in another tab can no longer be paid once a
    // newer one is opened: one plan, one charge.
    let (older_url, older) = start(&world, &alice, "enterprise", "monthly").await;
    subscribe(&world, &alice, "starter", "monthly").await;
    let older = world
        .stripe_get(&format!("/v1/checkout/sessions/{older}"))
        .await;
    assert_eq!(older["status"], "expired");
    assert_ne!(world.pay(&older_url, CARD_OK).await.status(), 303);
    let (code, refusal) = world
        .api(
            &alice,
            Method::POST,
            "/checkout/create",
            Some(json!({ "tier_id": "enterprise", "billing_cycle": "yearly" })),
        )
        .await;
    assert_eq!(code, 409, "{refusal}");
    assert_eq!(refusal["code"], "already_subscribed");
}

#[tokio::test]
async fn renewals_grant_once_whatever_the_order_of_their_events() {
    let world = sub_world().await;
    let alice = world.token("alice").await;
    // The first invoice.paid arrives before customer.subscription.created.
    world.control("/webhooks/hold", json!({})).await;
    let (url, _) = start(&world, &alice, "starter", "yearly").await;
    assert_eq!(world.pay(&url, CARD_OK).await.status(), 303);
    world
        .control("/webhooks/release", json!({ "reverse": true }))
        .await;
    let plan = wait_for_status(&world, &alice, "active", |s| s["has_active_plan"] == true).await;
    assert_eq!(plan["billing_cycle"], "yearly");
    // A yearly invoice grants twelve months' worth.
    world.wait_for_balance(&alice, 24_000).await;
    let sub = plan["subscription_id"].as_str().unwrap().to_owned();
    let first_end = plan["current_period_end"].clone();

    // A renewal whose invoice.paid comes after, or again.
    world.control("/webhooks/hold", json!({})).await;
    advance(&world, &sub, json!({})).await;
    world
        .control("/webhooks/release", json!({ "reverse": true }))
        .await;
    world.wait_for_balance(&alice, 48_000).await;
    for paid in world.events("invoice.paid", "subscription", &sub).await {
        redeliver_everywhere(&world, &paid, 2).await;
    }
    settle_webhooks(&world).await;
    assert_eq!(world.balance(&alice).await, 48_000);
    assert_eq!(allowance_rows(&world).await.len(), 2);
    let plan = status(&world, &alice).await;
    assert_eq!(plan["current_period_start"], first_end, "{plan}");
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn an_upgrade_bills_the_previewed_proration_and_a_downgrade_waits_for_the_next_invoice() {
    let world = sub_world().await;
    let alice = world.token("alice").await;
    let sub = subscribe(&world, &alice, "starter", "monthly").await;
    world.wait_for_balance(&alice, 2000).await;

    let (code, same) = change_plan(&world, &alice, "starter", "monthly").await;
    assert_eq!(
        (code, same["code"].as_str()),
        (409, Some("same_plan")),
        "{same}"
    );

    let (code, preview) = world
        .api(
            &alice,
            Method::POST,
            "/subscription/preview",
            Some(json!({ "new_tier_id": "professional", "billing_cycle": "monthly" })),
        )
        .await;
    assert_eq!(code, 200, "{preview}");
    assert_eq!(preview["change"], "upgrade");
    let due = preview["amount_due_cents"].as_i64().unwrap();
    assert!(
        due > 0 && due <= 3000,
        "a prorated $30 difference: {preview}"
    );
    let (code, changed) = world
        .api(
            &alice,
            Method::POST,
            "/subscription/upgrade",
            Some(json!({ "new_tier_id": "professional", "billing_cycle": "monthly", "proration_date": preview["proration_date"] })),
        )
        .await;
    assert_eq!(code, 200, "{changed}");
    assert_eq!(changed["change"], "upgrade");
    assert_eq!(changed["subscription"]["tier"], "professional");
    let invoices = world
        .stripe_get(&format!("/v1/invoices?subscription={sub}&limit=100"))
        .await;
    let proration: Vec<&Value> = invoices["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["billing_reason"] == "subscription_update")
        .collect();
    assert_eq!(proration.len(), 1, "{invoices}");
    assert_eq!(
        proration[0]["amount_paid"], due,
        "the amount due matches the preview"
    );
    settle_webhooks(&world).await;
    // A proration invoice grants no allowance.
    assert_eq!(world.balance(&alice).await, 2000);

    let invoice_count = invoices["data"].as_array().unwrap().len();
    let (code, preview) = world
        .api(
            &alice,
            Method::POST,
            "/subscription/preview",
            Some(json!({ "new_tier_id": "starter", "billing_cycle": "monthly" })),
        )
        .await;
    assert_eq!(
        (code, preview["change"].as_str()),
        (200, Some("downgrade")),
        "{preview}"
    );
    assert_eq!(preview["amount_due_cents"], 0);
    let (code, changed) = change_plan(&world, &alice, "starter", "monthly").await;
    assert_eq!(
        (code, changed["change"].as_str()),
        (200, Some("downgrade")),
        "{changed}"
    );
    assert_eq!(changed["subscription"]["tier"], "starter");
    let invoices = world
        .stripe_get(&format!("/v1/invoices?subscription={sub}&limit=100"))
        .await;
    assert_eq!(
        invoices["data"].as_array().unwrap().len(),
        invoice_count,
        "nothing billed now"
    );
    // The renewal bills the lower plan and grants its allowance.
    advance(&world, &sub, json!({})).await;
    world.wait_for_balance(&alice, 4000).await;
    settle_webhooks(&world).await;
    assert_eq!(status(&world, &alice).await["amount_cents"], 1900);
}

#[tokio::test]
async fn cancel_at_period_end_ends_on_trial_and_resume_keeps_the_plan() {
    let world = sub_world().await;
    let alice = world.token("alice").await;
    let sub = subscribe(&world, &alice, "professional", "monthly").await;
    world.wait_for_balance(&alice, 6000).await;

    // Resume before the period ends keeps it.
    let (code, canceled) = world
        .api(
            &alice,
            Method::POST,
            "/subscription/cancel",
            Some(json!({ "subscription_id": sub })),
        )
        .await;
    assert_eq!(code, 200, "{canceled}");
    assert_eq!(canceled["cancel_at_period_end"], true);
    assert_eq!(canceled["has_active_plan"], true);
    assert_eq!(canceled["next_invoice_date"], Value::Null);
    let (code, again) = world
        .api(
            &alice,
            Method::POST,
            "/subscription/cancel",
            Some(json!({ "subscription_id": sub })),
        )
        .await;
    assert_eq!(
        (code, again["code"].as_str()),
        (409, Some("already_canceling"))
    );
    let (code, resumed) = world
        .api(&alice, Method::POST, "/subscription/resume", None)
        .await;
    assert_eq!(code, 200, "{resumed}");
    assert_eq!(resumed["cancel_at_period_end"], false);
    let (code, not) = world
        .api(
            &alice,
            Method::POST,
            "/subscription/resume",
            Some(json!({ "subscription_id": sub })),
        )
        .await;
    assert_eq!((code, not["code"].as_str()), (409, Some("not_canceling")));
    advance(&world, &sub, json!({})).await;
    world.wait_for_balance(&alice, 12_000).await;
    assert_eq!(status(&world, &alice).await["status"], "active");

    // Cancel, then the period ends: trial, canceled, no subscription.
    let (code, _) = cancel(&world, &alice, &sub, true).await;
    assert_eq!(code, 200);
    advance(&world, &sub, json!({})).await;
    let ended = wait_for_status(&world, &alice, "ended", |s| s["has_active_plan"] == false).await;
    assert_eq!(ended["tier"], "trial");
    assert_eq!(ended["status"], "canceled");
    assert_eq!(ended["subscription_id"], Value::Null);
    settle_webhooks(&world).await;
    assert_eq!(world.balance(&alice).await, 12_000, "credits granted stay");
    // A canceled plan can no longer be canceled.
    let (code, refusal) = world
        .api(
            &alice,
            Method::POST,
            "/subscription/cancel",
            Some(json!({ "subscription_id": sub })),
        )
        .await;
    assert_eq!(
        (code, refusal["code"].as_str()),
        (409, Some("subscription_ended"))
    );
    // And a new one may be bought.
    start(&world, &alice, "starter", "monthly").await;
}

#[tokio::test]
async fn the_success_return_shows_the_plan_and_its_allowance_before_any_webhook() {
    let world = sub_world().await;
    let alice = world.token("alice").await;
    world.control("/webhooks/hold", json!({})).await;
    let (url, session) = start(&world, &alice, "professional", "monthly").await;
    assert_eq!(world.pay(&url, CARD_OK).await.status(), 303);
    let (code, html, _) = world
        .page(
            Some(&alice),
            &format!("/billing?checkout=success&session_id={session}"),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(text_after(&html, r#"id="plan-tier""#), "Professional");
    assert_eq!(text_after(&html, r#"id="plan-balance""#), "6,000 credits");
    // The webhooks, when they come, grant nothing more.
    world.control("/webhooks/release", json!({})).await;
    settle_webhooks(&world).await;
    let rows = allowance_rows(&world).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let all: Vec<(String, String, i64)> =
        sqlx::query_as("select source, reference, amount from credit_ledger order by id")
            .fetch_all(&world.app.pool)
            .await
            .unwrap();
    assert_eq!(world.balance(&alice).await, 6000, "{all:?}");
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn canceling_now_ends_the_plan_at_once() {
    let world = sub_world().await;
    let alice = world.token("alice").await;
    let sub = subscribe(&world, &alice, "enterprise", "monthly").await;
    let (code, ended) = cancel(&world, &alice, &sub, false).await;
    assert_eq!(code, 200, "{ended}");
    assert_eq!(ended["has_active_plan"], false);
    assert_eq!(ended["tier"], "trial");
    assert_eq!(ended["status"], "canceled");
    let truth = world.stripe_get(&format!("/v1/subscriptions/{sub}")).await;
    assert_eq!(truth["status"], "canceled");
    settle_webhooks(&world).await;
    assert_eq!(status(&world, &alice).await["status"], "canceled");
}

#[tokio::test]
async fn a_failed_renewal_is_past_due_until_the_invoice_is_paid() {
    let world = sub_world().await;
    let alice = world.token("alice").await;
    let sub = subscribe(&world, &alice, "starter", "monthly").await;
    world.wait_for_balance(&alice, 2000).await;
    advance(&world, &sub, json!({ "fail": true })).await;
    wait_for_status(&world, &alice, "past_due", |s| s["status"] == "past_due").await;
    settle_webhooks(&world).await;
    assert_eq!(
        world.balance(&alice).await,
        2000,
        "an unpaid period grants nothing"
    );
    let open = world
        .stripe_get(&format!("/v1/invoices?subscription={sub}&status=open"))
        .await;
    let invoice = open["data"][0]["id"].as_str().unwrap().to_owned();
    world
        .stripe_post(&format!("/v1/invoices/{invoice}/pay"), &[])
        .await;
    wait_for_status(&world, &alice, "active again", |s| s["status"] == "active").await;
    world.wait_for_balance(&alice, 4000).await;
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn nobody_sees_or_acts_on_another_users_subscription() {
    let world = sub_world().await;
    let alice = world.token("alice").await;
    let bob = world.token("bob").await;
    let sub = subscribe(&world, &alice, "starter", "monthly").await;
    for path in ["/subscription/cancel", "/subscription/resume"] {
        let (code, refusal) = world
            .api(
                &bob,
                Method::POST,
                path,
                Some(json!({ "subscription_id": sub })),
            )
            .await;
        assert_eq!(
            (code, refusal["code"].as_str()),
            (404, Some("unknown_subscription")),
            "{path}"
        );
    }
    let (code, refusal) = change_plan(&world, &bob, "enterprise", "monthly").await;
    assert_eq!(
        (code, refusal["code"].as_str()),
        (404, Some("no_subscription"))
    );
    let bobs = status(&world, &bob).await;
    assert_eq!(bobs["status"], "none");
    assert_eq!(bobs["has_active_plan"], false);
    assert_eq!(bobs["tier"], "trial");
    let (code, _) = world
        .api(&bob, Method::GET, "/subscription-status", None)
        .await;
    assert_eq!(code, 200);
    let anonymous = world
        .http
        .get(world.app.url("/api/v1/billing/subscription-status"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(status(&world, &alice).await["cancel_at_period_end"], false);
}

#[tokio::test]
async fn the_portal_returns_to_billing_and_its_actions_reach_the_app() {
    let world = sub_world().await;
    let alice = world.token("alice").await;
    let sub = subscribe(&world, &alice, "starter", "monthly").await;
    let (code, portal) = world
        .api(&alice, Method::POST, "/portal/create", None)
        .await;
    assert_eq!(code, 200, "{portal}");
    let url = portal["portal_url"].as_str().unwrap();
    assert!(url.starts_with(&world.emulator.base_url), "{url}");
    let page = world
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let back = format!(r#"id="return" href="{}""#, world.app.url("/billing"));
    assert!(page.contains(&back), "returns to /billing: {page}");
    // Canceling in the portal reaches us through the webhook.
    let response = world
        .http
        .post(url)
        .form(&[("subscription", sub.as_str()), ("action", "cancel")])
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success() || response.status().is_redirection());
    wait_for_status(&world, &alice, "canceling", |s| {
        s["cancel_at_period_end"] == true
    })
    .await;
}

#[tokio::test]
async fn webhooks_are_verified_recorded_once_and_trial_warnings_are_kept() {
    let world = sub_world().await;
    let alice = world.token("alice").await;
    let sub = subscribe(&world, &alice, "trial", "monthly").await;
    settle_webhooks(&world).await;
    let created = world
        .event("customer.subscription.created", "id", &sub)
        .await;
    // A wrong secret is refused with 400 and changes nothing.
    let attempts = world
        .control(
            &format!("/events/{created}/deliver"),
            json!({ "secret": "whsec_other" }),
        )
        .await;
    for attempt in attempts["data"].as_array().unwrap() {
        assert_eq!(attempt["status"], 400, "{attempt}");
    }
    // The alias is the same endpoint.
    let stripe_sub = world.stripe_get(&format!("/v1/subscriptions/{sub}")).await;
    let alias = world
        .control(
            "/webhooks",
            json!({ "url": world.app.url("/api/v1/billing/webhooks/stripe/checkout"), "secret": SUBSCRIPTION_SECRET, "events": ["customer.subscription.trial_will_end"] }),
        )
        .await;
    assert!(alias["id"].is_string(), "{alias}");
    world
        .control(
            "/events",
            json!({ "type": "customer.subscription.trial_will_end", "object": stripe_sub }),
        )
        .await;
    settle_webhooks(&world).await;
    let warned: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "select trial_will_end_at from subscriptions where stripe_subscription_id = $1",
    )
    .bind(&sub)
    .fetch_one(&world.app.pool)
    .await
    .unwrap();
    assert!(warned.is_some());
    let recorded: i64 = sqlx::query_scalar(
        "select count(*) from stripe_webhook_events where endpoint = 'subscriptions' and event_type = 'customer.subscription.trial_will_end'",
    )
    .fetch_one(&world.app.pool)
    .await
    .unwrap();
    assert_eq!(
        recorded, 1,
        "recorded once though delivered to two endpoints of the same app"
    );
    // The trial tier's allowance.
    world.wait_for_balance(&alice, 100).await;
}

/// The state we store for `sub`: `(status, cancel_at_period_end, tier)`.
async fn stored(world: &World, sub: &str) -> (String, bool, Option<String>) {
    sqlx::query_as(
        "select status, cancel_at_period_end, tier_code from subscriptions where stripe_subscription_id = $1",
    )
    .bind(sub)
    .fetch_one(&world.app.pool)
    .await
    .unwrap()
}

/// Releases the held events, `first` (by type, of `sub`) before the rest.
async fn release_first(world: &World, sub: &str, first: &[&str]) {
    let mut order = Vec::new();
    for event_type in first {
        let field = if event_type.starts_with("invoice.") {
            "subscription"
        } else {
            "id"
        };
        order.extend(world.events(event_type, field, sub).await);
    }
    world
        .control("/webhooks/release", json!({ "order": order }))
        .await;
    settle_webhooks(world).await;
}

#[tokio::test]
async fn updated_before_created_and_deleted_before_updated_converge() {
    let world = sub_world().await;
    let alice = world.token("alice").await;
    world.control("/webhooks/hold", json!({})).await;
    let (url, _) = start(&world, &alice, "starter", "monthly").await;
    assert_eq!(world.pay(&url, CARD_OK).await.status(), 303);
    let sub = world.stripe_get("/v1/subscriptions?limit=1").await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    world
        .stripe_post(
            &format!("/v1/subscriptions/{sub}"),
            &[("cancel_at_period_end", "true")],
        )
        .await;
    // `updated` (set to cancel) first, then `created` (not canceling) and the rest.
    release_first(&world, &sub, &["customer.subscription.updated"]).await;
    assert_eq!(
        stored(&world, &sub).await,
        ("active".to_owned(), true, Some("starter".to_owned())),
        "the older created did not undo the newer update"
    );

    // The period ends: `deleted` first, then the `updated` that resumed it.
    world.control("/webhooks/hold", json!({})).await;
    world
        .stripe_post(
            &format!("/v1/subscriptions/{sub}"),
            &[("cancel_at_period_end", "false")],
        )
        .await;
    world
        .stripe_post(
            &format!("/v1/subscriptions/{sub}"),
            &[("cancel_at_period_end", "true")],
        )
        .await;
    advance(&world, &sub, json!({})).await;
    release_first(&world, &sub, &["customer.subscription.deleted"]).await;
    assert_eq!(
        stored(&world, &sub).await.0,
        "canceled",
        "a stale update did not revive it"
    );
    let plan = status(&world, &alice).await;
    assert_eq!(
        (plan["tier"].as_str(), plan["status"].as_str()),
        (Some("trial"), Some("canceled"))
    );
    assert_eq!(world.balance(&alice).await, 2000);
}

/// The order Stripe's events of one lifecycle may reach us in: any.
/// Whatever the order, the app ends where the emulator's subscription is.
#[tokio::test]
async fn shuffled_deliveries_converge_to_stripes_state() {
    for seed in [1u64, 2, 7, 12, 42, 99, 1234, 4096] {
        let world = sub_world().await;
        let alice = world.token("alice").await;
        world.control("/webhooks/hold", json!({})).await;
        let (url, _) = start(&world, &alice, "starter", "monthly").await;
        assert_eq!(world.pay(&url, CARD_OK).await.status(), 303);
        let subs = world.stripe_get("/v1/subscriptions?limit=10").await;
        let sub = subs["data"][0]["id"].as_str().unwrap().to_owned();
        let item = subs["data"][0]["items"]["data"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let professional: String = sqlx::query_scalar(
            "select stripe_price_id_monthly from subscription_tiers where tier_code = 'professional'",
        )
        .fetch_one(&world.app.pool)
        .await
        .unwrap();
        // Upgrade, renew, cancel at period end, then the period ends.
        world
            .stripe_post(
                &format!("/v1/subscriptions/{sub}"),
                &[
                    ("items[0][id]", &item),
                    ("items[0][price]", &professional),
                    ("proration_behavior", "always_invoice"),
                ],
            )
            .await;
        advance(&world, &sub, json!({})).await;
        world
            .stripe_post(
                &format!("/v1/subscriptions/{sub}"),
                &[("cancel_at_period_end", "true")],
            )
            .await;
        if seed % 2 == 0 {
            advance(&world, &sub, json!({})).await;
        }
        let held = world
            .http
            .get(format!(
                "{}/_emulator/webhooks/held",
                world.emulator.base_url
            ))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        let mut order: Vec<String> = held["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["event_id"].as_str().unwrap().to_owned())
            .collect();
        order.dedup();
        shuffle(&mut order, seed);
        world
            .control("/webhooks/release", json!({ "order": order }))
            .await;
        settle_webhooks(&world).await;

        let truth = world.stripe_get(&format!("/v1/subscriptions/{sub}")).await;
        let ours: (String, bool, Option<String>) = sqlx::query_as(
            "select status, cancel_at_period_end, tier_code from subscriptions where stripe_subscription_id = $1",
        )
        .bind(&sub)
        .fetch_one(&world.app.pool)
        .await
        .unwrap();
        assert_eq!(ours.0, truth["status"].as_str().unwrap(), "seed {seed}");
        assert_eq!(ours.1, truth["cancel_at_period_end"] == true, "seed {seed}");
        assert_eq!(ours.2.as_deref(), Some("professional"), "seed {seed}");
        // Two period invoices were paid (the first on starter, the renewal on
        // professional): two allowances, whatever the order; the proration
        // invoice and the end of the period grant nothing.
        assert_eq!(world.balance(&alice).await, 2000 + 6000, "seed {seed}");
        world.assert_ledger_consistent().await;
    }
}

/// A small deterministic shuffle (xorshift), so a failing seed can be replayed.
fn shuffle(items: &mut [String], seed: u64) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

#[tokio::test]
async fn admins_set_allowances_and_the_catalogue_syncs_tier_prices() {
    let world = sub_world().await;
    let admin = world.token("admin").await;
    let alice = world.token("alice").await;
    let (code, _) = world
        .api(
            &alice,
            Method::PATCH,
            "/credits/admin/tiers/starter",
            Some(json!({ "monthly_allowance": 1 })),
        )
        .await;
    assert_eq!(code, 403);
    let (code, refusal) = world
        .api(
            &admin,
            Method::PATCH,
            "/credits/admin/tiers/starter",
            Some(json!({ "monthly_allowance": -5 })),
        )
        .await;
    assert_eq!(
        (code, refusal["code"].as_str()),
        (422, Some("invalid_allowance"))
    );
    let (code, tier) = world
        .api(
            &admin,
            Method::PATCH,
            "/credits/admin/tiers/starter",
            Some(json!({ "monthly_allowance": 2500 })),
        )
        .await;
    assert_eq!(code, 200, "{tier}");
    assert_eq!(tier["monthly_allowance"], 2500);
    subscribe(&world, &alice, "starter", "monthly").await;
    world.wait_for_balance(&alice, 2500).await;

    // A changed price gets a new Stripe price; the old one is archived.
    let enterprise_price = || async {
        sqlx::query_scalar::<_, String>(
            "select stripe_price_id_monthly from subscription_tiers where tier_code = 'enterprise'",
        )
        .fetch_one(&world.app.pool)
        .await
        .unwrap()
    };
    let old = enterprise_price().await;
    backend::catalogue::sync(&world.app.pool, &world.stripe)
        .await
        .unwrap();
    let same = enterprise_price().await;
    assert_eq!(same, old, "a second sync changes nothing");
    sqlx::query(
        "update subscription_tiers set price_monthly_cents = 10900 where tier_code = 'enterprise'",
    )
    .execute(&world.app.pool)
    .await
    .unwrap();
    backend::catalogue::sync(&world.app.pool, &world.stripe)
        .await
        .unwrap();
    let new = enterprise_price().await;
    assert_ne!(new, old);
    let new_price = world.stripe_get(&format!("/v1/prices/{new}")).await;
    assert_eq!(new_price["unit_amount"], 10900);
    assert_eq!(new_price["recurring"]["interval"], "month");
    assert_eq!(new_price["lookup_key"], "tier_enterprise_monthly");
    assert_eq!(
        world.stripe_get(&format!("/v1/prices/{old}")).await["active"],
        false
    );
}

/// The text inside the element that follows `marker` in `html`, tags removed.
fn text_after(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in the page"));
    let rest = &html[start + marker.len()..];
    let rest = &rest[rest.find('>').unwrap() + 1..];
    let mut text = String::new();
    let mut in_tag = false;
    for c in rest.chars() {
        match c {
            '<' if !text.trim().is_empty() => break,
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.trim().to_owned()
}

#[tokio::test]
async fn the_billing_pages_and_the_admin_dashboard_show_plans() {
    let world = sub_world().await;
    let alice = world.token("alice").await;
    let bob = world.token("bob").await;
    let admin = world.token("admin").await;

    let (code, _, location) = world.page(None, "/billing").await;
    assert!(
        (300..400).contains(&code),
        "anonymous visitors log in first: {code}"
    );
    assert!(location.unwrap().contains("/auth/login"));
    let (code, html, _) = world.page(Some(&alice), "/billing").await;
    assert_eq!(code, 200);
    assert!(
        html.contains(r#"id="no-plan""#),
        "an empty state without a plan"
    );
    assert_eq!(text_after(&html, r#"id="header-plan""#), "No active plan");
    let (_, html, _) = world.page(Some(&alice), "/billing/plans").await;
    for tier in ["trial", "starter", "professional", "enterprise"] {
        assert!(
            html.contains(&format!(r#"data-tier="{tier}""#)),
            "{tier} on the picker"
        );
    }
    assert!(html.contains("6,000 credits / month"));

    subscribe(&world, &alice, "professional", "monthly").await;
    subscribe(&world, &bob, "starter", "yearly").await;
    world.wait_for_balance(&alice, 6000).await;
    let (_, html, _) = world.page(Some(&alice), "/billing").await;
    assert_eq!(text_after(&html, r#"id="plan-tier""#), "Professional");
    assert!(html.contains(r#"data-status="active""#));
    assert_eq!(text_after(&html, r#"id="plan-amount""#), "$49.00 / month");
    assert_eq!(text_after(&html, r#"id="plan-balance""#), "6,000 credits");
    assert!(text_after(&html, r#"id="card-on-file""#).contains("4242"));
    assert_eq!(text_after(&html, r#"id="header-plan""#), "Professional");
    assert!(html.contains(r#"class="invoice "#) || html.contains(r#"data-invoice="in_"#));
    let (_, credits, _) = world.page(Some(&alice), "/credits").await;
    assert!(credits.contains(r#"id="billing-link" href="/billing""#));

    // Bob's renewal fails: past due on the dashboard.
    let bobs = status(&world, &bob).await;
    let bob_sub = bobs["subscription_id"].as_str().unwrap().to_owned();
    advance(&world, &bob_sub, json!({ "fail": true })).await;
    wait_for_status(&world, &bob, "past_due", |s| s["status"] == "past_due").await;

    let (code, html, _) = world.page(Some(&admin), "/admin/credits").await;
    assert_eq!(code, 200);
    // $49 monthly + $190 yearly as a twelfth ($15.83) = $64.83.
    let figure = |key: &str| {
        let at = html.find(&format!(r#"data-figure="{key}""#)).unwrap();
        text_after(&html[at..], r#"data-role="current""#)
    };
    assert_eq!(figure("mrr"), "$64.83");
    assert!(html.contains(r#"<li data-tier="professional""#));
    assert_eq!(figure("new-subscriptions"), "2");
    assert!(
        html.contains(r#"id="past-due-list" data-count="1""#),
        "bob is past due"
    );
    assert!(html.contains(&format!(r#"data-subscription="{bob_sub}""#)));
    let (code, _, _) = world.page(Some(&alice), "/admin/credits").await;
    assert_eq!(code, 403);
}

/// The header's one query (the page's glance) says what the status
/// endpoint's three and the wallet's breakdown say: the balance and its
/// parts, and the live plan's tier name (none without a live plan), for
/// every pair of an older and a newer subscription in every status, a tier
/// we no longer sell and a price that is none of ours.
#[tokio::test]
async fn the_header_agrees_with_the_plan_status_for_every_status() {
    use backend::{
        ids::UserId,
        ledger,
        subscriptions::{manage, tiers},
    };
    use domain::{Credits, SubscriptionStatus};

    let db = crate::support::TestDatabase::new();
    let pool = db.migrated_pool().await;
    sqlx::query(
        "insert into subscription_tiers (tier_code, tier_name, description, price_monthly_cents, \
           price_yearly_cents, display_order) values ('gone', 'Gone', '', 100, 1000, 9)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut cases: Vec<Vec<(SubscriptionStatus, Option<&str>)>> = vec![Vec::new()];
    for older in SubscriptionStatus::ALL {
        cases.push(vec![(older, Some("starter"))]);
        for newer in SubscriptionStatus::ALL {
            cases.push(vec![
                (older, Some("professional")),
                (newer, Some("starter")),
            ]);
        }
        cases.push(vec![(older, Some("gone")), (older, None)]);
        cases.push(vec![(older, Some("no_such_tier"))]);
    }
    for (n, subscriptions) in cases.iter().enumerate() {
        let user: UserId = sqlx::query_scalar(
            "insert into users (keycloak_sub, email) values ($1, $1 || '@example.com') returning id",
        )
        .bind(format!("header-{n}"))
        .fetch_one(&pool)
        .await
        .unwrap();
        if n % 3 == 0 {
            let reference = format!("header:{n}");
            let mut conn = pool.acquire().await.unwrap();
            ledger::append(
                &mut conn,
                &ledger::NewEntry {
                    user,
                    amount: Credits::signed(n as i64 * 7 + 1),
                    source: ledger::LedgerSource::SubscriptionAllowance,
                    reference: &reference,
                    purchase: None,
                    description: "test grant",
                    created_at: None,
                    expires_at: None,
                },
            )
            .await
            .unwrap();
        }
        for (age, (status, tier)) in subscriptions.iter().enumerate() {
            sqlx::query(
                "insert into subscriptions (stripe_subscription_id, user_id, stripe_customer_id, \
                   tier_code, status, started_at, state_as_of) \
                 values ($1, $2, 'cus_header', $3, $4, now() - make_interval(days => $5), now())",
            )
            .bind(format!("sub_header_{n}_{age}"))
            .bind(user)
            .bind(tier)
            .bind(status.to_string())
            .bind(10 - age as i32)
            .execute(&pool)
            .await
            .unwrap();
        }
        let status = manage::status(&pool, user).await.unwrap();
        let expected = (
            ledger::balance(&pool, user).await.unwrap(),
            status.is_live().then(|| {
                status
                    .tier
                    .as_ref()
                    .map_or_else(|| "Trial".to_owned(), |t: &tiers::Tier| t.name.clone())
            }),
        );
        let glance = backend::account::glance(&pool, user).await.unwrap();
        assert_eq!(
            (Credits::signed(glance.wallet.balance), glance.tier),
            expected,
            "{subscriptions:?}"
        );
        assert_eq!(
            glance.wallet,
            backend::wallet::breakdown(&pool, user).await.unwrap()
        );
    }
}
