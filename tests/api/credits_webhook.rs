//! The credits webhook against the real app and database, with events made
//! by the Stripe emulator (so their JSON is what Stripe's SDK types expect)
//! and signed here with an HMAC written independently of the app.

use crate::support::{TestApp, spawn_app_with};
use backend::{
    ids::{CheckoutSessionId, UserId},
    packages, purchases,
    stripe::{CreditCheckout, StripeGateway},
};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use stripe_emulator::Emulator;

const CURRENT_SECRET: &str = "whsec_current_secret";
const NEXT_SECRET: &str = "whsec_next_secret";
const RETIRED_SECRET: &str = "whsec_retired_secret";
const KEY: &str = "sk_test_webhook_tests";

struct World {
    app: TestApp,
    emulator: Emulator,
    stripe: StripeGateway,
    http: reqwest::Client,
}

async fn world() -> World {
    let emulator = crate::support::stripe::start_emulator().await;
    let base = emulator.base_url.clone();
    let app = spawn_app_with(|env| {
        env.insert("STRIPE_SECRET_KEY".into(), KEY.into());
        env.insert("STRIPE_API_BASE".into(), base.clone());
        env.insert(
            "STRIPE_WEBHOOK_SECRET_CREDITS".into(),
            format!("{CURRENT_SECRET},{NEXT_SECRET}"),
        );
    })
    .await;
    let stripe = crate::support::stripe::gateway(&emulator, KEY);
    World {
        app,
        emulator,
        stripe,
        http: reqwest::Client::new(),
    }
}

impl World {
    /// A user with a pending Starter purchase and its open checkout session.
    async fn pending_purchase(&self, sub: &str) -> (UserId, CheckoutSessionId) {
        let pool = &self.app.pool;
        let user = UserId::from_uuid(
            sqlx::query_scalar("insert into users (keycloak_sub, email) values ($1, $1 || '@example.com') returning id")
                .bind(sub)
                .fetch_one(pool)
                .await
                .unwrap(),
        );
        let package = packages::list_active(pool).await.unwrap().remove(0);
        let purchase = purchases::create_pending(pool, user, &package)
            .await
            .unwrap();
        let customer = self
            .stripe
            .create_customer(user, Some("buyer@example.com"), None)
            .await
            .unwrap();
        let redirect = self
            .stripe
            .create_credit_checkout(CreditCheckout {
                purchase_id: purchase,
                user_id: user,
                customer_id: &customer,
                price_id: &"price_seed_credits_starter".parse().unwrap(),
                package_code: package.code.as_str(),
                credits: package.credits,
                success_url: "http://127.0.0.1:3000/credits?session_id={CHECKOUT_SESSION_ID}",
                cancel_url: "http://127.0.0.1:3000/credits?cancelled=1",
            })
            .await
            .unwrap();
        purchases::attach_checkout_session(
            pool,
            purchase,
            &redirect.session_id,
            Some(customer.as_str()),
        )
        .await
        .unwrap();
        (user, redirect.session_id)
    }

    /// Pays the session on the emulator and returns the `checkout.session.completed` event it emitted.
    async fn pay(&self, session: &CheckoutSessionId) -> Value {
        let paid = self
            .http
            .post(format!(
                "{}/_emulator/checkout/sessions/{session}/pay",
                self.emulator.base_url
            ))
            .form(&[("card", "4242424242424242")])
            .send()
            .await
            .unwrap();
        assert!(paid.status().is_success(), "pay: {}", paid.status());
        self.event("checkout.session.completed", session.as_str())
            .await
    }

    async fn event(&self, event_type: &str, object_id: &str) -> Value {
        let events: Value = self
            .http
            .get(format!(
                "{}/v1/events?type={event_type}&limit=100",
                self.emulator.base_url
            ))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        events["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["data"]["object"]["id"] == object_id)
            .cloned()
            .unwrap_or_else(|| panic!("no {event_type} event for {object_id}"))
    }

    async fn deliver(&self, body: &str, signature: Option<String>) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .post(self.app.url("/api/v1/billing/credits/webhook"))
            .body(body.to_owned());
        if let Some(signature) = signature {
            request = request.header("Stripe-Signature", signature);
        }
        request.send().await.unwrap()
    }

    async fn balance(&self, user: UserId) -> i64 {
        crate::support::stripe::balance_of(&self.app.pool, user).await
    }

    async fn status(&self, session: &CheckoutSessionId) -> String {
        crate::support::stripe::purchase_status(&self.app.pool, session).await
    }
}

/// `t=…,v1=…`: HMAC-SHA256 over "{t}.{body}" keyed by the whole secret string.
fn sign(body: &str, secret: &str, timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let digest: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={digest}")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn a_signed_completed_event_grants_the_credits_once() {
    let world = world().await;
    let (user, session) = world.pending_purchase("alice").await;
    let event = world.pay(&session).await;
    let body = serde_json::to_string(&event).unwrap();

    let response = world
        .deliver(&body, Some(sign(&body, CURRENT_SECRET, now())))
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(world.balance(user).await, 1_000);
    assert_eq!(world.status(&session).await, "completed");

    // Redelivered, and delivered again concurrently: still one grant.
    let again = world
        .deliver(&body, Some(sign(&body, CURRENT_SECRET, now())))
        .await;
    assert_eq!(again.status(), 200);
    let deliveries =
        (0..20).map(|_| world.deliver(&body, Some(sign(&body, CURRENT_SECRET, now()))));
    for response in futures_util::future::join_all(deliveries).await {
        assert_eq!(response.status(), 200);
    }
    assert_eq!(world.balance(user).await, 1_000);
    let entries = crate::support::stripe::ledger_entries(&world.app.pool).await;
    assert_eq!(entries, 1);
    let recorded: Vec<String> = sqlx::query_scalar("select event_type from stripe_webhook_events")
        .fetch_all(&world.app.pool)
        .await
        .unwrap();
    assert_eq!(recorded, ["checkout.session.completed"]);
}

#[tokio::test]
async fn bad_signatures_are_refused_and_change_nothing() {
    let world = world().await;
    let (user, session) = world.pending_purchase("alice").await;
    let event = world.pay(&session).await;
    let body = serde_json::to_string(&event).unwrap();
    let altered = body.replacen("\"paid\"", "\"paid\" ", 1);
    assert_ne!(altered, body);

    let cases = [
        ("missing header", body.clone(), None, "missing_signature"),
        (
            "wrong secret",
            body.clone(),
            Some(sign(&body, "whsec_someone_else", now())),
            "invalid_signature",
        ),
        (
            "rotated-out secret",
            body.clone(),
            Some(sign(&body, RETIRED_SECRET, now())),
            "invalid_signature",
        ),
        (
            "stale timestamp",
            body.clone(),
            Some(sign(&body, CURRENT_SECRET, now() - 301)),
            "stale_signature",
        ),
        (
            "body altered after signing",
            altered,
            Some(sign(&body, CURRENT_SECRET, now())),
            "invalid_signature",
        ),
        (
            "garbage header",
            body.clone(),
            Some("t=abc,v1=zz".into()),
            "invalid_signature",
        ),
    ];
    for (case, payload, signature, code) in cases {
        let response = world.deliver(&payload, signature).await;
        assert_eq!(response.status(), 400, "{case}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], code, "{case}: {error}");
        assert!(
            error["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{case}"
        );
    }
    assert_eq!(world.balance(user).await, 0);
    assert_eq!(world.status(&session).await, "pending");

    // The second secret of the configured list is accepted (rotation).
    let response = world
        .deliver(&body, Some(sign(&body, NEXT_SECRET, now())))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(world.balance(user).await, 1_000);
}

#[tokio::test]
async fn metadata_cannot_change_the_credits_or_the_user() {
    let world = world().await;
    let (alice, session) = world.pending_purchase("alice").await;
    let (bob, _) = world.pending_purchase("bob").await;
    let mut event = world.pay(&session).await;
    event["data"]["object"]["metadata"]["credits"] = "1000000".into();
    event["data"]["object"]["metadata"]["user_id"] = bob.to_string().into();
    let body = serde_json::to_string(&event).unwrap();

    assert_eq!(
        world
            .deliver(&body, Some(sign(&body, CURRENT_SECRET, now())))
            .await
            .status(),
        200
    );
    assert_eq!(world.balance(alice).await, 1_000);
    assert_eq!(world.balance(bob).await, 0);
}

#[tokio::test]
async fn unpaid_completion_grants_nothing_and_unknown_types_are_acknowledged() {
    let world = world().await;
    let (user, session) = world.pending_purchase("alice").await;
    let mut event = world.pay(&session).await;
    event["id"] = "evt_unpaid_copy".into();
    event["data"]["object"]["payment_status"] = "unpaid".into();
    let body = serde_json::to_string(&event).unwrap();
    assert_eq!(
        world
            .deliver(&body, Some(sign(&body, CURRENT_SECRET, now())))
            .await
            .status(),
        200
    );
    assert_eq!(world.balance(user).await, 0);
    assert_eq!(world.status(&session).await, "pending");

    // An event type the credits endpoint does not handle: 2xx, nothing changes.
    let customer_event: Value = world
        .http
        .get(format!(
            "{}/v1/events?type=customer.created&limit=1",
            world.emulator.base_url
        ))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = serde_json::to_string(&customer_event["data"][0]).unwrap();
    let response = world
        .deliver(&body, Some(sign(&body, CURRENT_SECRET, now())))
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn a_database_failure_is_a_5xx_so_stripe_retries() {
    let world = world().await;
    let (_, session) = world.pending_purchase("alice").await;
    let event = world.pay(&session).await;
    let body = serde_json::to_string(&event).unwrap();
    world.app.db.drop_now().await;
    let response = world
        .deliver(&body, Some(sign(&body, CURRENT_SECRET, now())))
        .await;
    assert!(response.status().is_server_error(), "{}", response.status());
}

impl World {
    /// How many event ids the app has recorded as handled.
    async fn recorded_events(&self) -> i64 {
        sqlx::query_scalar("select count(*) from stripe_webhook_events")
            .fetch_one(&self.app.pool)
            .await
            .unwrap()
    }

    /// A real event of `event_type` as the emulator made it.
    async fn emulator_event(&self, event_type: &str) -> Value {
        let list: Value = self
            .http
            .get(format!(
                "{}/v1/events?type={event_type}&limit=1",
                self.emulator.base_url
            ))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["data"][0].clone()
    }
}

#[tokio::test]
async fn validly_signed_events_we_do_not_handle_are_acknowledged_whatever_their_shape() {
    let world = world().await;
    let (user, session) = world.pending_purchase("alice").await;
    let lean_charge = json!({
        "id": "evt_lean_charge", "object": "event", "type": "charge.succeeded",
        "created": now(), "livemode": false, "api_version": "2026-09-30.endive",
        "data": { "object": { "id": "ch_1", "object": "charge" } },
    });
    let unknown_type_other_version = json!({
        "id": "evt_from_the_future", "object": "event", "type": "v2.billing.meter_thing.created",
        "created": now(), "livemode": false, "api_version": "2031-01-01.zucchini",
        "pending_webhooks": 1, "request": { "id": null, "idempotency_key": null },
        "data": { "object": { "id": "mtr_1", "object": "v2.billing.meter_thing", "shape": [1, {}] } },
    });
    let old_version_customer = json!({
        "id": "evt_old_customer", "object": "event", "type": "customer.created",
        "created": now(), "livemode": false, "api_version": "2017-05-25",
        "data": { "object": { "id": "cus_1", "object": "customer", "sources": { "data": [] } } },
    });
    for event in [
        lean_charge,
        unknown_type_other_version,
        old_version_customer,
    ] {
        let body = serde_json::to_string(&event).unwrap();
        let response = world
            .deliver(&body, Some(sign(&body, CURRENT_SECRET, now())))
            .await;
        let status = response.status();
        assert_eq!(
            status,
            200,
            "{}: {}",
            event["type"],
            response.text().await.unwrap()
        );
    }
    assert_eq!(world.balance(user).await, 0);
    assert_eq!(world.status(&session).await, "pending");
    assert_eq!(
        world.recorded_events().await,
        0,
        "ignored events are not stored"
    );

    // A type we handle, on another API version with fields we do not know:
    // only what we read is decoded, and the purchase completes.
    let mut completed = world.pay(&session).await;
    completed["api_version"] = "2031-01-01.zucchini".into();
    completed["data"]["object"]["brand_new_field"] = json!({ "nested": [true] });
    completed["data"]["object"]
        .as_object_mut()
        .unwrap()
        .remove("currency_conversion");
    let body = serde_json::to_string(&completed).unwrap();
    let response = world
        .deliver(&body, Some(sign(&body, CURRENT_SECRET, now())))
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(world.balance(user).await, 1_000);
}

#[tokio::test]
async fn text_postgres_cannot_store_is_refused_before_the_database() {
    let world = world().await;
    let (user, session) = world.pending_purchase("alice").await;
    let completed = world.pay(&session).await;

    let mut nul_id = world.emulator_event("customer.created").await;
    nul_id["id"] = "evt_\u{0}x".into();
    let mut nul_type = nul_id.clone();
    nul_type["id"] = "evt_nul_type".into();
    nul_type["type"] = "customer.\u{0}created".into();
    let mut long_id = nul_type.clone();
    long_id["id"] = format!("evt_{}", "x".repeat(5_000)).into();
    long_id["type"] = "customer.created".into();
    let mut nul_intent = completed.clone();
    nul_intent["id"] = "evt_nul_intent".into();
    nul_intent["data"]["object"]["payment_intent"] = "pi_\u{0}".into();
    let mut nul_reference = completed.clone();
    nul_reference["id"] = "evt_nul_reference".into();
    nul_reference["data"]["object"]["client_reference_id"] = "\u{0}".into();

    for (case, event) in [
        ("NUL in the id", nul_id),
        ("NUL in the type", nul_type),
        ("an id too long to index", long_id),
        ("NUL in the payment intent", nul_intent),
        ("NUL in the client reference", nul_reference),
    ] {
        let body = serde_json::to_string(&event).unwrap();
        let response = world
            .deliver(&body, Some(sign(&body, CURRENT_SECRET, now())))
            .await;
        assert_eq!(response.status(), 400, "{case}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "invalid_payload", "{case}: {error}");
    }
    assert_eq!(world.recorded_events().await, 0);
    assert_eq!(world.balance(user).await, 0);
    assert_eq!(world.status(&session).await, "pending");
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_log where stripe_event_id is not null")
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 0);
}
