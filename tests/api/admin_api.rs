//! The admin API over HTTP: the real app, the Stripe emulator (checkout,
//! refunds, signed webhooks) and the dev identity provider (admin, alice).

use std::time::Duration;

use crate::support::world::{CARD_OK, KEY, World, world, world_with};
use reqwest::Method;
use serde_json::{Value, json};

const API: &str = "/api/v1/billing";

impl World {
    async fn call(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .request(method, self.app.url(&format!("{API}{path}")));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn wait_for<F: Fn(i64) -> bool>(&self, what: &str, sql: &str, done: F) {
        for _ in 0..100 {
            let value: i64 = sqlx::query_scalar(sql)
                .fetch_one(&self.app.pool)
                .await
                .unwrap();
            if done(value) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {what}");
    }
}

#[tokio::test]
async fn every_admin_endpoint_refuses_anonymous_callers_and_non_admins() {
    let world = world().await;
    let admin = world.token("admin").await;
    let alice = world.token("alice").await;
    // Alice exists (first request) and has a pending purchase.
    let session = world.buy(&alice, "starter").await.1;
    let purchase = world.purchase_id(&session).await;
    let alice_id = world.user_id(&alice).await;
    let starter: String = sqlx::query_scalar::<_, uuid::Uuid>(
        "select id from credit_packages where package_code = 'starter'",
    )
    .fetch_one(&world.app.pool)
    .await
    .unwrap()
    .to_string();
    let all_packages: Vec<String> = sqlx::query_scalar::<_, uuid::Uuid>(
        "select id from credit_packages order by display_order",
    )
    .fetch_all(&world.app.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|id| id.to_string())
    .collect();

    // (method, path, body, what the admin gets)
    let endpoints: Vec<(Method, String, Option<Value>, u16)> = vec![
        (Method::GET, "/credits/admin/purchases".into(), None, 200),
        (
            Method::GET,
            "/credits/admin/purchases?limit=10&offset=0&status=pending".into(),
            None,
            200,
        ),
        (
            Method::GET,
            "/credits/admin/purchases/export?status=pending".into(),
            None,
            200,
        ),
        (
            Method::GET,
            format!("/credits/admin/purchases/{purchase}"),
            None,
            200,
        ),
        (Method::GET, "/credits/admin/stats".into(), None, 200),
        (Method::GET, "/credits/admin/packages".into(), None, 200),
        (
            Method::GET,
            "/credits/packages?include_inactive=true".into(),
            None,
            200,
        ),
        (
            Method::POST,
            format!("/credits/admin/users/{alice_id}/adjustments"),
            Some(json!({ "amount": 100, "reason": "Welcome bonus" })),
            201,
        ),
        (
            Method::PUT,
            "/credits/admin/packages/order".into(),
            Some(json!({ "ids": all_packages })),
            200,
        ),
        (
            Method::POST,
            "/credits/admin/packages".into(),
            Some(
                json!({ "package_code": "team", "package_name": "Team Pack", "credits": 20000, "price_cents": 15000 }),
            ),
            201,
        ),
        (
            Method::PATCH,
            format!("/credits/admin/packages/{starter}"),
            Some(json!({ "description": "Start here." })),
            200,
        ),
        (
            Method::POST,
            format!("/credits/admin/packages/{starter}/deactivate"),
            None,
            200,
        ),
        // A pending purchase cannot be refunded: the admin gets past authorization to a 409.
        (
            Method::POST,
            format!("/credits/admin/purchases/{purchase}/refund"),
            Some(json!({})),
            409,
        ),
        (
            Method::GET,
            "/credits/admin/purchases?status=needs_review".into(),
            None,
            200,
        ),
        // Nor is it held for review: granting it is a 409 for the admin.
        (
            Method::POST,
            format!("/credits/admin/purchases/{purchase}/review"),
            Some(json!({ "action": "grant" })),
            409,
        ),
    ];
    for (method, path, body, _) in &endpoints {
        let anonymous = world.call(None, method.clone(), path, body.clone()).await;
        assert_eq!(anonymous.status(), 401, "anonymous {method} {path}");
        let refused = world
            .call(Some(&alice), method.clone(), path, body.clone())
            .await;
        assert_eq!(refused.status(), 403, "alice {method} {path}");
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["code"], "forbidden", "{path}");
        assert!(error["detail"].is_string());
    }
    // Nothing the refused callers sent changed anything.
    assert_eq!(world.balance(&alice).await, 0);
    let (_, packages) = world
        .api(&admin, Method::GET, "/credits/admin/packages", None)
        .await;
    assert_eq!(packages.as_array().unwrap().len(), 4);

    for (method, path, body, admin_status) in &endpoints {
        let response = world
            .call(Some(&admin), method.clone(), path, body.clone())
            .await;
        let status = response.status().as_u16();
        assert_eq!(
            status,
            *admin_status,
            "admin {method} {path}: {}",
            response.text().await.unwrap()
        );
    }
    assert_eq!(world.balance(&alice).await, 100);
}

#[tokio::test]
async fn an_admin_refund_and_stripes_refund_webhook_take_credits_back_once() {
    let world = world().await;
    let admin = world.token("admin").await;
    let alice = world.token("alice").await;
    let session = world.buy_and_pay(&alice, "standard", CARD_OK).await; // 5,000 credits for $45.00
    world.wait_for_balance(&alice, 5_000).await;
    let purchase = world.purchase_id(&session).await;

    // The admin refunds $9.00: a fifth of the credits go back.
    let (status, refund) = world
        .api(
            &admin,
            Method::POST,
            &format!("/credits/admin/purchases/{purchase}/refund"),
            Some(json!({ "amount_cents": 900 })),
        )
        .await;
    assert_eq!(status, 200, "{refund}");
    assert_eq!(refund["status"], "partially_refunded");
    assert_eq!(refund["amount_cents"], 900);
    assert_eq!(refund["refunded_total_cents"], 900);
    assert!(refund["refund_id"].as_str().unwrap().starts_with("re_"));
    assert_eq!(world.balance(&alice).await, 4_000);

    // Stripe's charge.refunded for the same refund arrives and is handled: nothing more.
    let refunded_events =
        "select count(*) from stripe_webhook_events where event_type = 'charge.refunded'";
    world
        .wait_for("the refund webhook", refunded_events, |n| n == 1)
        .await;
    assert_eq!(world.balance(&alice).await, 4_000);

    // A refund made in Stripe's dashboard (not through us) of the rest: only its webhook reports it.
    let intent: String = sqlx::query_scalar(
        "select stripe_payment_intent_id from credit_purchases where id = $1::uuid",
    )
    .bind(&purchase)
    .fetch_one(&world.app.pool)
    .await
    .unwrap();
    let dashboard_refund = world
        .http
        .post(format!("{}/v1/refunds", world.emulator.base_url))
        .bearer_auth(KEY)
        .form(&[("payment_intent", intent.as_str())])
        .send()
        .await
        .unwrap();
    assert!(dashboard_refund.status().is_success());
    world
        .wait_for("the second refund webhook", refunded_events, |n| n == 2)
        .await;
    assert_eq!(world.balance(&alice).await, 0);

    // Fully refunded: a further admin refund is refused before reaching Stripe.
    let (status, body) = world
        .api(
            &admin,
            Method::POST,
            &format!("/credits/admin/purchases/{purchase}/refund"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("not_refundable")),
        "{body}"
    );

    // The detail shows the whole story: one grant, two take-backs (1,000 + 4,000), the audit trail.
    let (status, detail) = world
        .api(
            &admin,
            Method::GET,
            &format!("/credits/admin/purchases/{purchase}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail["purchase"]["status"], "refunded");
    assert_eq!(detail["purchase"]["refunded_cents"], 4_500);
    assert_eq!(detail["purchase"]["user_email"], "alice@example.com");
    let amounts: Vec<i64> = detail["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [5_000, -1_000, -4_000]);
    // (The webhook may record the first refund before the admin path does: compare as a set.)
    let mut actions: Vec<&str> = detail["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "purchase.completed",
            "purchase.created",
            "purchase.refund_requested",
            "purchase.refunded",
            "purchase.refunded"
        ]
    );
    let requested = detail["audit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "purchase.refund_requested")
        .unwrap();
    assert!(
        requested["actor"].as_str().unwrap().starts_with("admin:"),
        "{requested}"
    );
    let balances_match: bool = sqlx::query_scalar(
        "select bool_and(b.balance = (select sum(amount) from credit_ledger l where l.user_id = b.user_id)) from credit_balances b",
    )
    .fetch_one(&world.app.pool)
    .await
    .unwrap();
    assert!(balances_match);

    // Unknown and malformed purchase ids are 404; bad amounts are 422.
    let (status, _) = world
        .api(
            &admin,
            Method::POST,
            &format!("/credits/admin/purchases/{}/refund", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        world
            .api(
                &admin,
                Method::GET,
                "/credits/admin/purchases/not-a-uuid",
                None
            )
            .await
            .0,
        404
    );
    let other = world.buy_and_pay(&alice, "starter", CARD_OK).await;
    world.wait_for_balance(&alice, 1_000).await;
    let other = world.purchase_id(&other).await;
    for (body, code) in [
        (json!({ "amount_cents": 1001 }), "invalid_amount"),
        (json!({ "amount_cents": 0 }), "invalid_amount"),
        (json!({ "amount_cents": -5 }), "invalid_amount"),
        (json!({ "amount": 5 }), "invalid_body"),
    ] {
        let (status, error) = world
            .api(
                &admin,
                Method::POST,
                &format!("/credits/admin/purchases/{other}/refund"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (422, Some(code)),
            "{body}: {error}"
        );
    }
}

#[tokio::test]
async fn a_refund_webhook_held_until_after_the_admin_refund_takes_nothing_more() {
    let world = world().await;
    let admin = world.token("admin").await;
    let alice = world.token("alice").await;
    let session = world.buy_and_pay(&alice, "pro", CARD_OK).await; // 10,000 credits for $80.00
    world.wait_for_balance(&alice, 10_000).await;
    let purchase = world.purchase_id(&session).await;

    // Stripe's webhook for the admin's refund is held back until the admin path has recorded
    // the refund, then delivered: it finds the same cumulative total and changes nothing.
    world.control("/webhooks/hold", json!({})).await;
    let (status, refund) = world
        .api(
            &admin,
            Method::POST,
            &format!("/credits/admin/purchases/{purchase}/refund"),
            Some(json!({ "amount_cents": 2_000 })),
        )
        .await;
    assert_eq!(status, 200, "{refund}");
    assert_eq!(world.balance(&alice).await, 7_500);
    world.control("/webhooks/release", json!({})).await;
    world
        .wait_for(
            "the held refund webhook",
            "select count(*) from stripe_webhook_events where event_type = 'charge.refunded'",
            |n| n == 1,
        )
        .await;
    assert_eq!(world.balance(&alice).await, 7_500);
    let refunds: i64 =
        sqlx::query_scalar("select count(*) from credit_ledger where source = 'refund'")
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    assert_eq!(refunds, 1);
}

#[tokio::test]
async fn catalogue_input_is_validated_with_clear_messages() {
    let world = world().await;
    let admin = world.token("admin").await;
    let create =
        |body: Value| world.api(&admin, Method::POST, "/credits/admin/packages", Some(body));

    let (status, error) = create(json!({
        "package_code": "Team Pack", "package_name": " ", "credits": 0, "price_cents": -1, "discount_percentage": 101
    }))
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (422, Some("invalid_package"))
    );
    let detail = error["detail"].as_str().unwrap();
    for message in [
        "The code must be 1–64 lowercase letters",
        "The name is required.",
        "Credits must be a positive whole number.",
        "The price must be more than $0.00.",
        "The discount must be between 0 and 100 percent.",
    ] {
        assert!(
            detail.contains(message),
            "{message:?} missing from {detail:?}"
        );
    }
    let (status, error) = create(json!({ "package_code": "pro", "package_name": "Another Pro", "credits": 1, "price_cents": 100 })).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("duplicate_code"))
    );
    assert_eq!(
        error["detail"],
        "A package with the code \"pro\" exists already."
    );
    let (status, error) = create(json!({ "package_code": "x", "credits": 1 })).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (422, Some("invalid_body")),
        "{error}"
    );

    // A valid one is created at the end of the order, with a Stripe price.
    let (status, team) = create(json!({
        "package_code": "team", "package_name": "Team Pack", "description": "For small teams.",
        "credits": 20000, "price_cents": 15000, "discount_percentage": 25, "is_popular": true
    }))
    .await;
    assert_eq!(status, 201, "{team}");
    assert_eq!(
        (team["display_order"].as_i64(), team["price_usd"].as_f64()),
        (Some(5), Some(150.0))
    );
    assert!(
        team["stripe_price_id"]
            .as_str()
            .unwrap()
            .starts_with("price_")
    );

    // Updates are validated the same way; the code cannot be changed; unknown ids are 404.
    let id = team["id"].as_str().unwrap();
    let (status, error) = world
        .api(
            &admin,
            Method::PATCH,
            &format!("/credits/admin/packages/{id}"),
            Some(json!({ "discount_percentage": -1 })),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (422, Some("invalid_package"))
    );
    assert_eq!(
        error["detail"],
        "The discount must be between 0 and 100 percent."
    );
    let (status, _) = world
        .api(
            &admin,
            Method::PATCH,
            &format!("/credits/admin/packages/{id}"),
            Some(json!({ "package_code": "crew" })),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = world
        .api(
            &admin,
            Method::PATCH,
            &format!("/credits/admin/packages/{}", uuid::Uuid::new_v4()),
            Some(json!({ "credits": 5 })),
        )
        .await;
    assert_eq!(status, 404);

    // Reordering must name every package once.
    let (status, error) = world
        .api(
            &admin,
            Method::PUT,
            "/credits/admin/packages/order",
            Some(json!({ "ids": [id] })),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (422, Some("invalid_order"))
    );
    let (_, all) = world
        .api(&admin, Method::GET, "/credits/admin/packages", None)
        .await;
    let mut ids: Vec<Value> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    ids.reverse();
    let (status, reordered) = world
        .api(
            &admin,
            Method::PUT,
            "/credits/admin/packages/order",
            Some(json!({ "ids": ids })),
        )
        .await;
    assert_eq!(status, 200);
    let codes: Vec<&str> = reordered
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["package_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["team", "enterprise", "pro", "standard", "starter"]);

    // Deactivated packages leave the public list and their Stripe price is archived.
    let price = team["stripe_price_id"].as_str().unwrap().to_owned();
    let (status, team) = world
        .api(
            &admin,
            Method::POST,
            &format!("/credits/admin/packages/{id}/deactivate"),
            None,
        )
        .await;
    assert_eq!((status, team["is_active"].as_bool()), (200, Some(false)));
    let alice = world.token("alice").await;
    let (_, public) = world
        .api(&alice, Method::GET, "/credits/packages", None)
        .await;
    assert!(
        public
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["package_code"] != "team")
    );
    let stripe_price: Value = world
        .http
        .get(format!("{}/v1/prices/{price}", world.emulator.base_url))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stripe_price["active"], false);
}

#[tokio::test]
async fn a_price_change_makes_a_new_stripe_price_and_leaves_existing_purchases_untouched() {
    let world = world().await;
    let admin = world.token("admin").await;
    let alice = world.token("alice").await;
    // Alice starts buying Pro at $80.00 for 10,000 credits, and has not paid yet.
    let old_session = world.buy(&alice, "pro").await.1;
    let (_, packages) = world
        .api(&admin, Method::GET, "/credits/admin/packages", None)
        .await;
    let pro = packages
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["package_code"] == "pro")
        .unwrap()
        .clone();
    let old_price = pro["stripe_price_id"].as_str().unwrap().to_owned();

    let (status, changed) = world
        .api(
            &admin,
            Method::PATCH,
            &format!("/credits/admin/packages/{}", pro["id"].as_str().unwrap()),
            Some(json!({ "price_cents": 7500, "credits": 12000, "package_name": "Pro Pack+" })),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    let new_price = changed["stripe_price_id"].as_str().unwrap().to_owned();
    assert_ne!(new_price, old_price);
    let price = |id: String| {
        let world = &world;
        async move {
            world
                .http
                .get(format!("{}/v1/prices/{id}", world.emulator.base_url))
                .bearer_auth(KEY)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        price(old_price).await["active"],
        false,
        "the old price was not archived"
    );
    let fresh = price(new_price).await;
    assert_eq!(
        (fresh["active"].as_bool(), fresh["unit_amount"].as_i64()),
        (Some(true), Some(7500))
    );

    // The purchase started before keeps its snapshot, and paying it grants the old credits.
    let snapshot: (i64, i64, String) = sqlx::query_as(
        "select amount_paid_cents, amount_credits, package_name from credit_purchases where stripe_checkout_session_id = $1",
    )
    .bind(&old_session)
    .fetch_one(&world.app.pool)
    .await
    .unwrap();
    assert_eq!(snapshot, (8_000, 10_000, "Pro Pack".to_owned()));
    let paid = world
        .http
        .post(format!(
            "{}/_emulator/checkout/sessions/{old_session}/pay",
            world.emulator.base_url
        ))
        .form(&[("card", "4242424242424242")])
        .send()
        .await
        .unwrap();
    assert!(paid.status().is_success());
    world.wait_for_balance(&alice, 10_000).await;

    // A purchase started now takes the new package.
    let new_session = world.buy(&alice, "pro").await.1;
    let snapshot: (i64, i64, String) = sqlx::query_as(
        "select amount_paid_cents, amount_credits, package_name from credit_purchases where stripe_checkout_session_id = $1",
    )
    .bind(&new_session)
    .fetch_one(&world.app.pool)
    .await
    .unwrap();
    assert_eq!(snapshot, (7_500, 12_000, "Pro Pack+".to_owned()));
}

#[tokio::test]
async fn the_list_filters_pages_and_exports_over_http() {
    let world = world().await;
    let admin = world.token("admin").await;
    let alice = world.token("alice").await;
    let bob = world.token("bob").await;
    for (token, code) in [
        (&alice, "starter"),
        (&alice, "pro"),
        (&bob, "standard"),
        (&bob, "starter"),
        (&alice, "enterprise"),
    ] {
        world.buy(token, code).await;
    }

    let list = |query: &str| {
        let world = &world;
        let admin = admin.clone();
        let query = query.to_owned();
        async move {
            let response = world
                .call(
                    Some(&admin),
                    Method::GET,
                    &format!("/credits/admin/purchases{query}"),
                    None,
                )
                .await;
            assert_eq!(response.status(), 200, "{query}");
            let total = response.headers()["x-total-count"]
                .to_str()
                .unwrap()
                .parse::<i64>()
                .unwrap();
            let next = response
                .headers()
                .get("x-next-cursor")
                .map(|v| v.to_str().unwrap().to_owned());
            let rows: Vec<Value> = response.json().await.unwrap();
            (rows, total, next)
        }
    };
    let (rows, total, next) = list("?user=bob&sort=amount&order=asc").await;
    assert_eq!((rows.len(), total, next), (2, 2, None));
    assert_eq!(
        rows.iter()
            .map(|r| r["amount_paid_cents"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1_000, 4_500]
    );
    assert_eq!(rows[0]["user_name"], "Bob Brown");
    assert!(
        rows[0]["stripe_payment_url"].is_null(),
        "no dashboard links with the emulator"
    );

    // Keyset pages of two through all five, newest first.
    let (first, total, next) = list("?limit=2").await;
    assert_eq!((first.len(), total), (2, 5));
    let (second, _, next) = list(&format!("?limit=2&cursor={}", next.unwrap())).await;
    let (third, _, last) = list(&format!("?limit=2&cursor={}", next.unwrap())).await;
    assert_eq!((second.len(), third.len(), last), (2, 1, None));
    let (everything, _, _) = list("").await;
    let walked: Vec<&Value> = first
        .iter()
        .chain(&second)
        .chain(&third)
        .map(|r| &r["id"])
        .collect();
    assert_eq!(
        walked,
        everything.iter().map(|r| &r["id"]).collect::<Vec<_>>()
    );

    for bad in [
        "?sort=price",
        "?order=up",
        "?from=yesterday",
        "?from=2026-03-02&to=2026-03-01",
        "?package=Pro!",
        "?cursor=nope",
        "?cursor=t1.00000000000000000000000000000000&offset=2",
    ] {
        let (status, error) = world
            .api(
                &admin,
                Method::GET,
                &format!("/credits/admin/purchases{bad}"),
                None,
            )
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (422, Some("invalid_query")),
            "{bad}"
        );
    }

    // The CSV has exactly the rows of the same filter and sort.
    let response = world
        .call(
            Some(&admin),
            Method::GET,
            "/credits/admin/purchases/export?user=alice&sort=amount&order=desc",
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"purchases-"),
        "{disposition}"
    );
    let csv = response.text().await.unwrap();
    let csv_ids: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let (table, _, _) = list("?user=alice&sort=amount&order=desc").await;
    assert_eq!(
        csv_ids,
        table
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect::<Vec<_>>()
    );
    assert_eq!(csv_ids.len(), 3);
    assert!(csv.starts_with("purchase_id,created_at,completed_at,user_id,user_email,user_name,"));

    // Stats over HTTP: today's checkouts, nothing paid yet.
    let (status, stats) = world
        .api(&admin, Method::GET, "/credits/admin/stats", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(stats["period"]["days"], 30);
    assert_eq!(stats["current"]["checkouts_started"], 5);
    assert_eq!(stats["current"]["revenue_cents"], 0);
    assert_eq!(stats["daily"].as_array().unwrap().len(), 30);
    let (status, _) = world
        .api(
            &admin,
            Method::GET,
            "/credits/admin/stats?from=2026-03-02&to=2026-03-01",
            None,
        )
        .await;
    assert_eq!(status, 422);
    let (status, stats) = world
        .api(
            &admin,
            Method::GET,
            "/credits/admin/stats?from=2026-03-01&to=2026-03-07",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            stats["previous_period"]["from"].as_str(),
            stats["previous_period"]["to"].as_str()
        ),
        (Some("2026-02-22"), Some("2026-02-28"))
    );
}

/// Alice buys `code` and pays, but Stripe's session charges `amount_total`
/// cents instead of the price: the purchase is held for review. Returns
/// `(session id, purchase id)`.
async fn held_purchase(
    world: &World,
    token: &str,
    code: &str,
    amount_total: i64,
) -> (String, String) {
    let (checkout_url, session) = world.buy(token, code).await;
    world
        .amend_session(&session, json!({ "amount_total": amount_total }))
        .await;
    assert_eq!(world.pay(&checkout_url, CARD_OK).await.status(), 303);
    world.wait_for_status(&session, "needs_review").await;
    let purchase = world.purchase_id(&session).await;
    (session, purchase)
}

#[tokio::test]
async fn an_admin_grant_of_a_held_purchase_grants_once_even_when_posted_twice_at_once() {
    let world = world().await;
    let admin = world.token("admin").await;
    let alice = world.token("alice").await;
    let (session, purchase) = held_purchase(&world, &alice, "standard", 4_000).await;
    assert_eq!(world.balance(&alice).await, 0);
    let listed = world.needs_review(&admin).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], purchase.as_str());

    // Alice cannot settle her own held purchase; a bad action is a 422.
    let path = format!("/credits/admin/purchases/{purchase}/review");
    let (status, body) = world
        .api(
            &alice,
            Method::POST,
            &path,
            Some(json!({ "action": "grant" })),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, body) = world
        .api(
            &admin,
            Method::POST,
            &path,
            Some(json!({ "action": "keep" })),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_action")),
        "{body}"
    );
    assert_eq!(world.balance(&alice).await, 0);

    // A double click: two grants at once, one grant.
    let grant = || {
        world.api(
            &admin,
            Method::POST,
            &path,
            Some(json!({ "action": "grant" })),
        )
    };
    let (first, second) = tokio::join!(grant(), grant());
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{first:?} {second:?}");
    let granted = if first.0 == 200 { &first.1 } else { &second.1 };
    assert_eq!(granted["status"], "completed");
    assert_eq!(granted["credits_granted"], 5_000);
    let refused = if first.0 == 409 { &first.1 } else { &second.1 };
    assert_eq!(refused["code"], "not_in_review");

    assert_eq!(world.balance(&alice).await, 5_000);
    assert_eq!(world.grants_for(&session).await, 1);
    assert_eq!(world.status(&session).await, "completed");
    assert!(world.needs_review(&admin).await.is_empty());
    let admin_id = world.user_id(&admin).await;
    let actors: Vec<String> = sqlx::query_scalar(
        "select actor from audit_log where purchase_id = $1::uuid and action = 'purchase.review_granted'",
    )
    .bind(&purchase)
    .fetch_all(&world.app.pool)
    .await
    .unwrap();
    assert_eq!(actors, [format!("admin:{admin_id}")]);

    // Stripe redelivers its completion, and the admin tries to refund it as a
    // review: nothing more happens.
    let completed = world
        .event("checkout.session.completed", "id", &session)
        .await;
    world.redeliver(&completed, 2, true).await;
    let (status, _) = world
        .api(
            &admin,
            Method::POST,
            &path,
            Some(json!({ "action": "refund" })),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(world.balance(&alice).await, 5_000);
    assert_eq!(world.grants_for(&session).await, 1);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn an_admin_refund_of_a_held_purchase_returns_the_payment_and_moves_no_credits() {
    let world = world().await;
    let admin = world.token("admin").await;
    let alice = world.token("alice").await;
    // Alice bought another pack that was granted as usual.
    world.buy_and_pay(&alice, "starter", CARD_OK).await;
    world.wait_for_balance(&alice, 1_000).await;
    let (session, purchase) = held_purchase(&world, &alice, "pro", 12_000).await;

    let path = format!("/credits/admin/purchases/{purchase}/review");
    let (status, refunded) = world
        .api(
            &admin,
            Method::POST,
            &path,
            Some(json!({ "action": "refund" })),
        )
        .await;
    assert_eq!(status, 200, "{refunded}");
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(refunded["credits_granted"], 0);
    assert!(refunded["refund_id"].as_str().unwrap().starts_with("re_"));

    // Stripe refunded everything it collected ($120.00, not the $80.00 price).
    let intent: String = sqlx::query_scalar(
        "select stripe_payment_intent_id from credit_purchases where id = $1::uuid",
    )
    .bind(&purchase)
    .fetch_one(&world.app.pool)
    .await
    .unwrap();
    let charges = world
        .stripe_get(&format!("/v1/charges?payment_intent={intent}"))
        .await;
    assert_eq!(charges["data"][0]["amount_refunded"], 12_000, "{charges}");
    // Its charge.refunded webhook arrives and changes nothing.
    world
        .wait_for(
            "the refund webhook",
            "select count(*) from stripe_webhook_events where event_type = 'charge.refunded'",
            |n| n == 1,
        )
        .await;
    assert_eq!(world.status(&session).await, "refunded");
    assert_eq!(world.ledger_for(&session).await, []);
    assert_eq!(world.balance(&alice).await, 1_000);
    // Once refunded, neither a grant nor another refund goes through.
    for action in ["grant", "refund"] {
        let (status, body) = world
            .api(
                &admin,
                Method::POST,
                &path,
                Some(json!({ "action": action })),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("not_in_review"))
        );
    }
    assert_eq!(world.balance(&alice).await, 1_000);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn the_catalogue_sync_never_stores_a_price_of_another_amount() {
    let world = world().await;
    let pool = &world.app.pool;
    // An admin's price change is under way (row locked, not committed) when
    // the sync reaches the package.
    let mut change = pool.begin().await.unwrap();
    sqlx::query("update credit_packages set price_cents = 1200 where package_code = 'starter'")
        .execute(&mut *change)
        .await
        .unwrap();
    let sync = tokio::spawn({
        let (pool, stripe) = (pool.clone(), world.stripe.clone());
        async move { backend::catalogue::sync(&pool, &stripe).await }
    });
    // Wait until the sync waits for that row, then let the change commit.
    let mut waiting = 0;
    for _ in 0..200 {
        waiting = sqlx::query_scalar::<_, i64>(
            "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(waiting, 1, "the sync never waited for the locked package");
    change.commit().await.unwrap();
    sync.await.unwrap().unwrap();

    // The stored price is one of the package's current amount.
    let (price_cents, price_id): (i64, String) = sqlx::query_as(
        "select price_cents, stripe_price_id from credit_packages where package_code = 'starter'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let price = world.stripe_get(&format!("/v1/prices/{price_id}")).await;
    assert_eq!(
        (price["unit_amount"].as_i64(), price["active"].as_bool()),
        (Some(price_cents), Some(true)),
        "{price}"
    );
    assert_eq!(price_cents, 1_200);
}

#[tokio::test]
async fn a_grant_and_a_refund_of_one_held_purchase_at_once_settle_it_one_way_only() {
    let world = world().await;
    let admin = world.token("admin").await;
    let alice = world.token("alice").await;
    let (session, purchase) = held_purchase(&world, &alice, "starter", 900).await;
    let path = format!("/credits/admin/purchases/{purchase}/review");
    let review = |action: &'static str| {
        world.api(
            &admin,
            Method::POST,
            &path,
            Some(json!({ "action": action })),
        )
    };
    let (grant, refund) = tokio::join!(review("grant"), review("refund"));
    let mut statuses = [grant.0, refund.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{grant:?} {refund:?}");

    let intent: String = sqlx::query_scalar(
        "select stripe_payment_intent_id from credit_purchases where id = $1::uuid",
    )
    .bind(&purchase)
    .fetch_one(&world.app.pool)
    .await
    .unwrap();
    let charges = world
        .stripe_get(&format!("/v1/charges?payment_intent={intent}"))
        .await;
    let refunded_in_stripe = charges["data"][0]["amount_refunded"].as_i64().unwrap();
    if grant.0 == 200 {
        assert_eq!(world.status(&session).await, "completed");
        assert_eq!(world.balance(&alice).await, 1_000);
        assert_eq!(refunded_in_stripe, 0, "granted and refunded");
    } else {
        assert_eq!(world.status(&session).await, "refunded");
        assert_eq!(world.balance(&alice).await, 0);
        assert_eq!(refunded_in_stripe, 900);
    }
    assert!(world.grants_for(&session).await <= 1);
    world.assert_ledger_consistent().await;
}

impl World {
    /// `POST …/purchases/{id}/refund` with `body` sent as is, `Content-Type`
    /// `content_type` (none when `None`); (status, JSON body).
    async fn raw_refund(
        &self,
        token: &str,
        purchase: &str,
        content_type: Option<&str>,
        body: &'static str,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(
                self.app
                    .url(&format!("{API}/credits/admin/purchases/{purchase}/refund")),
            )
            .bearer_auth(token)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `(status, refunded_cents)` of a purchase.
    async fn refund_state(&self, purchase: &str) -> (String, i64) {
        sqlx::query_as("select status, refunded_cents from credit_purchases where id = $1::uuid")
            .bind(purchase)
            .fetch_one(&self.app.pool)
            .await
            .unwrap()
    }

    /// How many refunds Stripe (the emulator) made on the purchase's payment.
    async fn stripe_refunds(&self, purchase: &str) -> usize {
        let intent: String = sqlx::query_scalar(
            "select stripe_payment_intent_id from credit_purchases where id = $1::uuid",
        )
        .bind(purchase)
        .fetch_one(&self.app.pool)
        .await
        .unwrap();
        let refunds = self
            .stripe_get(&format!("/v1/refunds?payment_intent={intent}&limit=100"))
            .await;
        refunds["data"].as_array().unwrap().len()
    }
}

#[tokio::test]
async fn a_refund_body_that_is_not_json_moves_no_money_and_only_an_empty_body_refunds_all() {
    let world = world().await;
    let admin = world.token("admin").await;
    let alice = world.token("alice").await;
    let session = world.buy_and_pay(&alice, "standard", CARD_OK).await; // 5,000 credits for $45.00
    world.wait_for_balance(&alice, 5_000).await;
    let purchase = world.purchase_id(&session).await;

    // A partial refund sent without a JSON content type is refused, not read as "everything".
    for (content_type, body, status, code) in [
        (
            Some("text/plain"),
            r#"{"amount_cents":100}"#,
            422,
            "unsupported_media_type",
        ),
        (
            None,
            r#"{"amount_cents":100}"#,
            422,
            "unsupported_media_type",
        ),
        (
            Some("application/x-www-form-urlencoded"),
            "amount_cents=100",
            422,
            "unsupported_media_type",
        ),
        (Some("application/json"), "{not json", 422, "invalid_body"),
        (Some("application/json"), "   ", 422, "invalid_body"),
        (
            Some("application/json"),
            r#"{"amount_cents":"all"}"#,
            422,
            "invalid_body",
        ),
    ] {
        let (got, error) = world
            .raw_refund(&admin, &purchase, content_type, body)
            .await;
        assert_eq!(
            (got, error["code"].as_str()),
            (status, Some(code)),
            "{content_type:?} {body}: {error}"
        );
        assert!(error["detail"].is_string(), "{error}");
        assert_eq!(
            world.refund_state(&purchase).await,
            ("completed".to_owned(), 0),
            "{content_type:?} {body}"
        );
    }
    assert_eq!(world.stripe_refunds(&purchase).await, 0);
    assert_eq!(world.balance(&alice).await, 5_000);

    // JSON with a JSON content type (parameters allowed) refunds that amount.
    let (status, refund) = world
        .raw_refund(
            &admin,
            &purchase,
            Some("application/json; charset=utf-8"),
            r#"{"amount_cents":900}"#,
        )
        .await;
    assert_eq!(status, 200, "{refund}");
    assert_eq!(refund["amount_cents"], 900);
    assert_eq!(
        world.refund_state(&purchase).await,
        ("partially_refunded".to_owned(), 900)
    );

    // Only an empty body means "all that is left".
    let (status, refund) = world.raw_refund(&admin, &purchase, None, "").await;
    assert_eq!(status, 200, "{refund}");
    assert_eq!(refund["amount_cents"], 3_600);
    assert_eq!(refund["refunded_total_cents"], 4_500);
    assert_eq!(refund["status"], "refunded");
    assert_eq!(
        world.refund_state(&purchase).await,
        ("refunded".to_owned(), 4_500)
    );
    assert_eq!(world.stripe_refunds(&purchase).await, 2);
    world.wait_for_balance(&alice, 0).await;
}

#[tokio::test]
async fn a_refund_request_id_refunds_once_however_often_and_concurrently_it_is_sent() {
    // Generous limits: this test sends many refunds on purpose.
    let world = world_with(|env| {
        env.insert("RATE_LIMIT_BURST".into(), "100".into());
    })
    .await;
    let admin = world.token("admin").await;
    let alice = world.token("alice").await;
    let session = world.buy_and_pay(&alice, "standard", CARD_OK).await; // 5,000 credits for $45.00
    world.wait_for_balance(&alice, 5_000).await;
    let purchase = world.purchase_id(&session).await;
    let path = format!("/credits/admin/purchases/{purchase}/refund");
    let refund = |request_id: uuid::Uuid, amount: i64| {
        let world = &world;
        let admin = &admin;
        let path = &path;
        async move {
            world
                .api(
                    admin,
                    Method::POST,
                    path,
                    Some(json!({ "amount_cents": amount, "request_id": request_id })),
                )
                .await
        }
    };

    // The same partial refund retried: one refund, the retry answers the first result.
    let first_id = uuid::Uuid::new_v4();
    let (status, first) = refund(first_id, 900).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["applied"], true);
    let (status, retried) = refund(first_id, 900).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["applied"], false);
    assert_eq!(retried["refund_id"], first["refund_id"]);
    assert_eq!(retried["amount_cents"], 900);
    assert_eq!(
        world.refund_state(&purchase).await,
        ("partially_refunded".to_owned(), 900)
    );
    assert_eq!(world.stripe_refunds(&purchase).await, 1);

    // The same request id for another amount or purchase is refused; nothing moves.
    let (status, error) = refund(first_id, 500).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("request_id_reused"))
    );
    assert_eq!(world.refund_state(&purchase).await.1, 900);

    // Eight concurrent copies of one request: exactly one refund.
    let second_id = uuid::Uuid::new_v4();
    let answers = futures_util::future::join_all((0..8).map(|_| refund(second_id, 450))).await;
    let mut refund_ids = std::collections::HashSet::new();
    let mut applied = 0;
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        refund_ids.insert(answer["refund_id"].as_str().unwrap().to_owned());
        if answer["applied"] == true {
            applied += 1;
        }
    }
    assert_eq!((refund_ids.len(), applied), (1, 1), "{answers:?}");
    assert_eq!(world.refund_state(&purchase).await.1, 1_350);
    assert_eq!(world.stripe_refunds(&purchase).await, 2);

    // A new request id for the same amount is a new refund.
    let (status, third) = refund(uuid::Uuid::new_v4(), 900).await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(third["applied"], true);
    assert_eq!(world.refund_state(&purchase).await.1, 2_250);
    assert_eq!(world.stripe_refunds(&purchase).await, 3);

    // "Everything left" retried: the amount decided the first time stands.
    let rest_id = uuid::Uuid::new_v4();
    for applied in [true, false] {
        let (status, rest) = world
            .api(
                &admin,
                Method::POST,
                &path,
                Some(json!({ "request_id": rest_id })),
            )
            .await;
        assert_eq!(status, 200, "{rest}");
        assert_eq!(rest["applied"], applied, "{rest}");
        assert_eq!(rest["amount_cents"], 2_250, "{rest}");
    }
    assert_eq!(
        world.refund_state(&purchase).await,
        ("refunded".to_owned(), 4_500)
    );
    assert_eq!(world.stripe_refunds(&purchase).await, 4);
    world.wait_for_balance(&alice, 0).await;
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn extreme_dates_are_refused_with_422_by_every_admin_endpoint_that_takes_dates() {
    let world = world().await;
    let admin = world.token("admin").await;
    let bad_dates = [
        "+262142-12-01",
        "-0001-01-01",
        "-262143-01-01",
        "+262143-12-31",
        "0000-01-01",
        "1999-12-31",
        "2101-01-01",
        "9999-12-31",
    ];
    for date in bad_dates {
        let encoded = date.replace('+', "%2B");
        for path in [
            format!("/credits/admin/stats?from={encoded}"),
            format!("/credits/admin/stats?to={encoded}"),
            format!("/credits/admin/stats?from=2026-01-01&to={encoded}"),
            format!("/credits/admin/purchases?from={encoded}"),
            format!("/credits/admin/purchases?to={encoded}"),
            format!("/credits/admin/purchases/export?from={encoded}"),
            format!("/credits/admin/purchases/export?to={encoded}"),
        ] {
            // A panic would drop the connection (an error here), not answer.
            let response = world.call(Some(&admin), Method::GET, &path, None).await;
            let status = response.status().as_u16();
            let error: Value = response.json().await.unwrap();
            assert_eq!(
                (status, error["code"].as_str()),
                (422, Some("invalid_query")),
                "{path}: {error}"
            );
            // Dates chrono cannot even represent are "not a date"; the rest are out of range.
            let detail = error["detail"].as_str().unwrap();
            assert!(
                detail.ends_with("must be a date from 2000-01-01 to 2100-12-31.")
                    || detail.ends_with("must be a date as YYYY-MM-DD."),
                "{path}: {detail}"
            );
            if ["-0001-01-01", "+262142-12-01", "1999-12-31", "2101-01-01"].contains(&date) {
                assert!(detail.contains("2000-01-01"), "{path}: {detail}");
            }
        }
    }
    // The edges of the range are accepted.
    for path in [
        "/credits/admin/stats?from=2000-01-01&to=2000-01-31",
        "/credits/admin/stats?to=2000-01-05",
        "/credits/admin/stats?from=2100-12-01&to=2100-12-31",
        "/credits/admin/purchases?from=2000-01-01&to=2100-12-31",
        "/credits/admin/purchases/export?from=2000-01-01&to=2100-12-31",
    ] {
        let response = world.call(Some(&admin), Method::GET, path, None).await;
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn admin_numbers_are_capped_so_balances_and_packages_stay_sane() {
    let world = world().await;
    let admin = world.token("admin").await;
    let alice = world.token("alice").await;
    let alice_id = world.user_id(&alice).await;
    let adjustments = format!("/credits/admin/users/{alice_id}/adjustments");
    for amount in [
        i64::MAX,
        i64::MIN,
        -i64::MAX,
        10_000_001,
        -10_000_001,
        1_i64 << 62,
    ] {
        let (status, error) = world
            .api(
                &admin,
                Method::POST,
                &adjustments,
                Some(json!({ "amount": amount, "reason": "Fat finger" })),
            )
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (422, Some("invalid_adjustment")),
            "{amount}: {error}"
        );
        assert!(
            error["detail"].as_str().unwrap().contains("10,000,000"),
            "{error}"
        );
    }
    assert_eq!(world.balance(&alice).await, 0);
    // The largest adjustment is allowed, and later grants still work.
    let (status, body) = world
        .api(
            &admin,
            Method::POST,
            &adjustments,
            Some(json!({ "amount": 10_000_000, "reason": "Enterprise deal" })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    world.buy_and_pay(&alice, "starter", CARD_OK).await;
    world.wait_for_balance(&alice, 10_001_000).await;

    // A balance near the ceiling cannot be pushed above it, only down.
    let (status, body) = world
        .api(
            &admin,
            Method::POST,
            &adjustments,
            Some(json!({ "amount": -10_000_000, "reason": "Deal cancelled" })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let user: uuid::Uuid = alice_id.parse().unwrap();
    sqlx::query(
        "insert into credit_ledger (user_id, amount, source, reference, description)
         values ($1, 999999999000, 'adjustment', 'test:near-the-ceiling', 'test')",
    )
    .bind(user)
    .execute(&world.app.pool)
    .await
    .unwrap();
    assert_eq!(world.balance(&alice).await, 1_000_000_000_000);
    let (status, error) = world
        .api(
            &admin,
            Method::POST,
            &adjustments,
            Some(json!({ "amount": 1, "reason": "One more" })),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (422, Some("invalid_adjustment")),
        "{error}"
    );
    let (status, body) = world
        .api(
            &admin,
            Method::POST,
            &adjustments,
            Some(json!({ "amount": -1, "reason": "One less" })),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // Packages: credits and price are capped, with the field named.
    for (body, needle) in [
        (
            json!({ "package_code": "huge", "package_name": "Huge", "credits": 100_000_001, "price_cents": 1000 }),
            "Credits must be at most 100,000,000",
        ),
        (
            json!({ "package_code": "huge", "package_name": "Huge", "credits": i64::MAX, "price_cents": 1000 }),
            "Credits must be at most 100,000,000",
        ),
        (
            json!({ "package_code": "huge", "package_name": "Huge", "credits": 1000, "price_cents": i64::MAX }),
            "at most $999,999.99",
        ),
    ] {
        let (status, error) = world
            .api(
                &admin,
                Method::POST,
                "/credits/admin/packages",
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (422, Some("invalid_package")),
            "{body}: {error}"
        );
        assert!(
            error["detail"].as_str().unwrap().contains(needle),
            "{error}"
        );
    }
    let starter: uuid::Uuid =
        sqlx::query_scalar("select id from credit_packages where package_code = 'starter'")
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    let (status, error) = world
        .api(
            &admin,
            Method::PATCH,
            &format!("/credits/admin/packages/{starter}"),
            Some(json!({ "credits": i64::MAX })),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (422, Some("invalid_package"))
    );
    let (status, body) = world
        .api(
            &admin,
            Method::POST,
            "/credits/admin/packages",
            Some(json!({ "package_code": "largest", "package_name": "Largest", "credits": 100_000_000, "price_cents": 99_999_999 })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn admin_refunds_and_adjustments_are_rate_limited_per_admin_over_api_and_server_functions() {
    let world = world_with(|env| {
        env.insert("RATE_LIMIT_BURST".into(), "2".into());
        env.insert("RATE_LIMIT_PERIOD_SECS".into(), "3600".into());
    })
    .await;
    let admin = world.token("admin").await;
    let alice = world.token("alice").await;
    let alice_id = world.user_id(&alice).await;
    let adjustments = format!("/credits/admin/users/{alice_id}/adjustments");
    let adjust = || async {
        world
            .call(
                Some(&admin),
                Method::POST,
                &adjustments,
                Some(json!({ "amount": 10, "reason": "Goodwill" })),
            )
            .await
    };
    assert_eq!(adjust().await.status(), 201);
    assert_eq!(adjust().await.status(), 201);
    let refused = adjust().await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["code"], "rate_limited");
    assert!(error["detail"].is_string());
    assert_eq!(world.balance(&alice).await, 20);

    // The server function shares the limiter.
    let response = world
        .http
        .post(world.app.url("/api/adjust_credits"))
        .bearer_auth(&admin)
        .form(&[
            ("user_id", alice_id.as_str()),
            ("amount", "10"),
            ("reason", "Goodwill"),
            ("request_id", &uuid::Uuid::new_v4().to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(world.balance(&alice).await, 20);

    // Refunds have their own bucket: two pass (to Stripe), the third waits.
    let session = world.buy_and_pay(&alice, "standard", CARD_OK).await;
    world.wait_for_balance(&alice, 5_020).await;
    let purchase = world.purchase_id(&session).await;
    let path = format!("/credits/admin/purchases/{purchase}/refund");
    for _ in 0..2 {
        let (status, body) = world
            .api(
                &admin,
                Method::POST,
                &path,
                Some(json!({ "amount_cents": 100 })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let refused = world
        .call(
            Some(&admin),
            Method::POST,
            &path,
            Some(json!({ "amount_cents": 100 })),
        )
        .await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(world.refund_state(&purchase).await.1, 200);
}
