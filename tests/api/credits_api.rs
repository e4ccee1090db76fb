//! Buying credits end to end over HTTP: the real app, the Stripe emulator
//! (hosted pay page, signed webhooks) and the dev identity provider.

use crate::support::world::{KEY, world, world_with};
use backend::catalogue;
use serde_json::{Value, json};

#[tokio::test]
async fn a_whole_purchase_through_the_hosted_page() {
    let world = world().await;
    let alice = world.token("alice").await;
    assert_eq!(world.balance(&alice).await, 0);

    let (checkout_url, session_id) = world.buy(&alice, "starter").await;
    assert!(
        checkout_url.starts_with(&world.emulator.base_url),
        "{checkout_url}"
    );
    let paid = world.pay(&checkout_url, "4242424242424242").await;
    assert_eq!(paid.status(), 303);
    let location = paid.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&world.app.url("/credits?session_id=")),
        "{location}"
    );
    assert!(location.ends_with(&session_id), "{location}");

    world.wait_for_balance(&alice, 1_000).await;
    let (status, history) = world
        .api(&alice, reqwest::Method::GET, "/credits/history", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["status"], "completed");
    assert_eq!(history[0]["amount_credits"], 1_000);
    assert_eq!(history[0]["amount_paid"], 10.0);
    assert!(
        history[0]["stripe_payment_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("pi_"))
    );
}

#[tokio::test]
async fn returning_before_the_webhook_grants_once() {
    let world = world().await;
    let alice = world.token("alice").await;
    world.control("/webhooks/hold", json!({})).await;

    let (checkout_url, session_id) = world.buy(&alice, "standard").await;
    assert_eq!(
        world.pay(&checkout_url, "4242424242424242").await.status(),
        303
    );
    // Back on the success page before Stripe's webhook arrives.
    let (status, purchase) = world
        .api(
            &alice,
            reqwest::Method::POST,
            &format!("/credits/checkout/{session_id}/confirm"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{purchase}");
    assert_eq!(purchase["status"], "completed");
    assert_eq!(world.balance(&alice).await, 5_000);

    // Now the webhook (and a duplicate of it) arrive: nothing more is granted.
    // Release answers once every held delivery has been answered.
    let released = world.control("/webhooks/release", json!({})).await;
    let released = released["data"].as_array().unwrap();
    assert!(!released.is_empty());
    assert!(
        released.iter().all(|a| a["success"] == true),
        "{released:?}"
    );
    assert_eq!(world.balance(&alice).await, 5_000);
    let entries = crate::support::stripe::ledger_entries(&world.app.pool).await;
    assert_eq!(entries, 1);
}

#[tokio::test]
async fn a_declined_card_leaves_the_purchase_pending_without_credits() {
    let world = world().await;
    let alice = world.token("alice").await;
    let (checkout_url, session_id) = world.buy(&alice, "starter").await;
    let declined = world.pay(&checkout_url, "4000000000000002").await;
    assert!(
        declined
            .text()
            .await
            .unwrap()
            .contains("Your card was declined.")
    );

    let (status, purchase) = world
        .api(
            &alice,
            reqwest::Method::POST,
            &format!("/credits/checkout/{session_id}/confirm"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(purchase["status"], "pending");
    assert_eq!(world.balance(&alice).await, 0);
}

#[tokio::test]
async fn one_user_cannot_see_or_confirm_another_users_purchase() {
    let world = world().await;
    let alice = world.token("alice").await;
    let bob = world.token("bob").await;
    let (checkout_url, session_id) = world.buy(&alice, "starter").await;
    world.pay(&checkout_url, "4242424242424242").await;
    world.wait_for_balance(&alice, 1_000).await;

    let (status, _) = world
        .api(
            &bob,
            reqwest::Method::POST,
            &format!("/credits/checkout/{session_id}/confirm"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (_, history) = world
        .api(&bob, reqwest::Method::GET, "/credits/history", None)
        .await;
    assert_eq!(history, json!([]));
    assert_eq!(world.balance(&bob).await, 0);
}

#[tokio::test]
async fn purchase_input_is_checked() {
    let world = world().await;
    let alice = world.token("alice").await;
    let post = |body: Value| {
        world.api(
            &alice,
            reqwest::Method::POST,
            "/credits/purchase",
            Some(body),
        )
    };

    let (status, body) = post(json!({ "package_code": "platinum" })).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("unknown_package"))
    );
    sqlx::query("update credit_packages set is_active = false where package_code = 'enterprise'")
        .execute(&world.app.pool)
        .await
        .unwrap();
    assert_eq!(post(json!({ "package_code": "enterprise" })).await.0, 404);
    for field in ["success_url", "cancel_url"] {
        let (status, body) =
            post(json!({ "package_code": "starter", field: "https://evil.example/phish" })).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (422, Some("invalid_redirect")),
            "{field}"
        );
    }
    let pending: i64 = sqlx::query_scalar("select count(*) from credit_purchases")
        .fetch_one(&world.app.pool)
        .await
        .unwrap();
    assert_eq!(pending, 0, "a refused request left a purchase behind");

    // Anonymous callers are refused on every credits endpoint.
    for path in ["/credits/packages", "/credits/history", "/credits/balance"] {
        let response = world
            .http
            .get(world.app.url(&format!("/api/v1/billing{path}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
    let anonymous = world
        .http
        .post(world.app.url("/api/v1/billing/credits/purchase"))
        .json(&json!({"package_code": "starter"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn packages_list_active_ones_and_inactive_only_for_admins() {
    let world = world().await;
    let alice = world.token("alice").await;
    let admin = world.token("admin").await;
    sqlx::query("update credit_packages set is_active = false where package_code = 'enterprise'")
        .execute(&world.app.pool)
        .await
        .unwrap();

    let (status, packages) = world
        .api(&alice, reqwest::Method::GET, "/credits/packages", None)
        .await;
    assert_eq!(status, 200);
    let codes: Vec<&str> = packages
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["package_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["starter", "standard", "pro"]);
    assert_eq!(packages[1]["price_usd"], 45.0);
    assert_eq!(packages[1]["price_cents"], 4_500);
    assert_eq!(packages[1]["discount_percentage"], 10);
    // Dollars are written exactly from the cents, never through a float.
    let raw = world
        .http
        .get(world.app.url("/api/v1/billing/credits/packages"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        raw.contains(r#""price_usd":45.00,"price_cents":4500"#),
        "{raw}"
    );
    assert!(
        packages[0]["stripe_price_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("price_"))
    );

    assert_eq!(
        world
            .api(
                &alice,
                reqwest::Method::GET,
                "/credits/packages?include_inactive=true",
                None
            )
            .await
            .0,
        403
    );
    let (status, all) = world
        .api(
            &admin,
            reqwest::Method::GET,
            "/credits/packages?include_inactive=true",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(all.as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn catalogue_sync_is_idempotent_and_a_price_change_makes_a_new_price() {
    let world = world().await;
    let price_of = |code: &'static str| {
        let pool = world.app.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "select stripe_price_id from credit_packages where package_code = $1",
            )
            .bind(code)
            .fetch_one(&pool)
            .await
            .unwrap()
            .unwrap()
        }
    };
    let before = price_of("pro").await;
    catalogue::sync(&world.app.pool, &world.stripe)
        .await
        .unwrap();
    assert_eq!(
        price_of("pro").await,
        before,
        "a second sync changed the price"
    );

    sqlx::query("update credit_packages set price_cents = 7500 where package_code = 'pro'")
        .execute(&world.app.pool)
        .await
        .unwrap();
    catalogue::sync(&world.app.pool, &world.stripe)
        .await
        .unwrap();
    let after = price_of("pro").await;
    assert_ne!(after, before);
    let old: Value = world
        .http
        .get(format!("{}/v1/prices/{before}", world.emulator.base_url))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(old["active"], false, "the old price was not archived");
}

#[tokio::test]
async fn checkouts_and_confirmations_are_rate_limited_per_user() {
    let world = world_with(|env| {
        env.insert("RATE_LIMIT_BURST".into(), "2".into());
        env.insert("RATE_LIMIT_PERIOD_SECS".into(), "3600".into());
    })
    .await;
    let alice = world.token("alice").await;
    let bob = world.token("bob").await;
    let purchase = |token: String| {
        let world = &world;
        async move {
            world
                .http
                .post(world.app.url("/api/v1/billing/credits/purchase"))
                .bearer_auth(token)
                .json(&json!({ "package_code": "starter" }))
                .send()
                .await
                .unwrap()
        }
    };
    let purchases = |user: &'static str| {
        let pool = world.app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from credit_purchases p join users u on u.id = p.user_id \
                 where u.email = $1",
            )
            .bind(format!("{user}@example.com"))
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };

    let (_, session) = world.buy(&alice, "starter").await;
    world.buy(&alice, "starter").await;
    // The third checkout within the period is refused before Stripe or the database.
    let refused = purchase(alice.clone()).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["code"], "rate_limited");
    assert!(error["detail"].as_str().unwrap().contains("seconds"));
    assert_eq!(purchases("alice").await, 2);

    // The Buy button's server function shares the limit.
    let buy_credits = <app::credits::BuyCredits as leptos::server_fn::ServerFn>::PATH;
    let refused = world
        .http
        .post(world.app.url(buy_credits))
        .bearer_auth(&alice)
        .form(&[("package_code", "starter")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(purchases("alice").await, 2);

    // Another user is not affected.
    assert_eq!(purchase(bob.clone()).await.status(), 200);
    assert_eq!(purchases("bob").await, 1);

    // Confirming has its own bucket: two pass, the third waits.
    for _ in 0..2 {
        let (status, body) = world.confirm(&alice, &session).await;
        assert_eq!(status, 200, "{body}");
    }
    let refused = world
        .http
        .post(world.app.url(&format!(
            "/api/v1/billing/credits/checkout/{session}/confirm"
        )))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["code"], "rate_limited");
}

/// Every refusal of the JSON API is the contract's `{"detail", "code"}`,
/// including what axum's extractors reject before a handler runs, and bad
/// input is 422 whatever its kind: not JSON, not sent as JSON, or JSON that
/// breaks a rule (the contract lists no 400 or 415 for the API).
#[tokio::test]
async fn malformed_requests_are_refused_in_the_json_error_contract() {
    let world = world().await;
    let token = world.token("alice").await;
    let url = |path: &str| world.app.url(&format!("/api/v1/billing{path}"));
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            world
                .http
                .post(url("/credits/purchase"))
                .header("content-type", "application/json")
                .body("{not json"),
            422,
            "invalid_body",
        ),
        (
            world
                .http
                .post(url("/credits/purchase"))
                .header("content-type", "text/plain")
                .body(r#"{"package_code":"starter"}"#),
            422,
            "unsupported_media_type",
        ),
        (
            world
                .http
                .post(url("/credits/purchase"))
                .json(&json!({ "package": 1 })),
            422,
            "invalid_body",
        ),
        (
            world.http.get(url("/credits/history?limit=abc")),
            422,
            "invalid_query",
        ),
        (
            world
                .http
                .get(url("/credits/packages?include_inactive=maybe")),
            422,
            "invalid_query",
        ),
        (
            world.http.delete(url("/credits/balance")),
            405,
            "method_not_allowed",
        ),
        (world.http.get(url("/no/such/thing")), 404, "not_found"),
    ];
    for (request, status, code) in cases {
        let response = request.bearer_auth(&token).send().await.unwrap();
        let got = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
        assert_eq!(content_type.as_deref(), Some("application/json"));
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn a_checkout_says_how_long_it_waited_on_stripe() {
    let world = world().await;
    let alice = world.token("alice").await;
    let response = world
        .http
        .post(world.app.url("/api/v1/billing/credits/purchase"))
        .bearer_auth(&alice)
        .json(&json!({"package_code": "starter"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let timing = response
        .headers()
        .get("server-timing")
        .expect("a Server-Timing header")
        .to_str()
        .unwrap()
        .to_owned();
    // `stripe;dur=…;desc="Stripe API", app;dur=…;desc="Ops-Center Credits"`
    let duration = |metric: &str| -> f64 {
        timing
            .split(", ")
            .find_map(|part| part.strip_prefix(&format!("{metric};dur=")))
            .and_then(|rest| rest.split(';').next())
            .and_then(|ms| ms.parse().ok())
            .unwrap_or_else(|| panic!("no {metric} in {timing:?}"))
    };
    // A customer and a session were created on the emulator: time was spent there.
    assert!(duration("stripe") > 0.0, "{timing}");
    assert!(duration("app") > 0.0, "{timing}");
}
