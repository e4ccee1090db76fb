//! The admin pages and their server functions over HTTP: who may see and
//! call them, and what they show and do. Pages take the same bearer tokens
//! as the API, so no browser is needed here.

use serde_json::json;

use crate::support::world::{CARD_OK, World, world};

const PAGES: [&str; 2] = ["/admin/credits", "/admin/credits/packages"];

impl World {
    /// Calls a server function as a form post; (status, body).
    async fn server_fn(
        &self,
        token: Option<&str>,
        name: &str,
        form: &[(&str, &str)],
    ) -> (u16, String) {
        let mut request = self
            .http
            .post(self.app.url(&format!("/api/{name}")))
            .form(form);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Calls a server function that takes JSON; (status, body).
    async fn server_fn_json(
        &self,
        token: Option<&str>,
        name: &str,
        body: serde_json::Value,
    ) -> (u16, String) {
        let mut request = self
            .http
            .post(self.app.url(&format!("/api/{name}")))
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

#[tokio::test]
async fn admin_pages_and_server_functions_refuse_everyone_but_admins() {
    let world = world().await;
    let alice = world.token("alice").await;
    let admin = world.token("admin").await;
    let session = world.buy_and_pay(&alice, "starter", CARD_OK).await;
    world.wait_for_balance(&alice, 1_000).await;
    let purchase = world.purchase_id(&session).await;
    let alice_id = world.user_id(&alice).await;
    let detail = format!("/admin/credits/purchases/{purchase}");
    let pages: Vec<&str> = PAGES.iter().copied().chain([detail.as_str()]).collect();

    for path in &pages {
        let (status, _, location) = world.page(None, path).await;
        assert_eq!(status, 302, "anonymous {path}");
        assert!(
            location
                .as_deref()
                .is_some_and(|l| l.starts_with("/auth/login?next=")),
            "{location:?}"
        );
        let (status, html, _) = world.page(Some(&alice), path).await;
        assert_eq!(status, 403, "alice {path}");
        assert!(html.contains("Admins only"), "{path}");
        assert!(
            !html.contains("Alice Anderson</div>"),
            "{path} leaks the table"
        );
        let (status, html, _) = world.page(Some(&admin), path).await;
        assert_eq!(status, 200, "admin {path}");
        assert!(!html.contains("Admins only"), "{path}");
    }

    let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("admin_purchase", vec![("id", &purchase)]),
        ("admin_packages", vec![]),
        (
            "refund_purchase",
            vec![
                ("id", &purchase),
                ("amount", "1.00"),
                ("request_id", "2f0d8c3e-51a4-4d3b-9e57-6a1f1c0b7d21"),
            ],
        ),
        (
            "review_purchase",
            vec![("id", &purchase), ("action", "grant")],
        ),
        (
            "adjust_credits",
            vec![
                ("user_id", &alice_id),
                ("amount", "100"),
                ("reason", "goodwill gesture"),
                ("request_id", "6d1f4a52-5b8b-4c59-9a43-0d2f2f7a9b10"),
            ],
        ),
        (
            "move_package",
            vec![
                ("id", "00000000-0000-0000-0000-000000000000"),
                ("direction", "up"),
            ],
        ),
        (
            "save_package",
            vec![
                ("id", ""),
                ("package_code", "sneaky"),
                ("package_name", "Sneaky"),
                ("description", ""),
                ("credits", "1"),
                ("price", "1.00"),
                ("discount_percentage", "0"),
            ],
        ),
    ];
    let dashboard = serde_json::json!({ "days": 30, "params": { "status": "completed" } });
    let (status, _) = world
        .server_fn_json(None, "admin_dashboard", dashboard.clone())
        .await;
    assert_eq!(status, 401, "anonymous admin_dashboard");
    let (status, _) = world
        .server_fn_json(Some(&alice), "admin_dashboard", dashboard.clone())
        .await;
    assert_eq!(status, 403, "alice admin_dashboard");
    let (status, body) = world
        .server_fn_json(Some(&admin), "admin_dashboard", dashboard)
        .await;
    assert_eq!(status, 200, "admin admin_dashboard: {body}");
    assert!(body.contains("Starter Pack"), "{body}");
    for (name, form) in &calls {
        let (status, _) = world.server_fn(None, name, form).await;
        assert_eq!(status, 401, "anonymous {name}");
        let (status, body) = world.server_fn(Some(&alice), name, form).await;
        assert_eq!(status, 403, "alice {name}: {body}");
    }
    // Nothing the refused calls asked for happened.
    assert_eq!(world.balance(&alice).await, 1_000);
    assert_eq!(world.status(&session).await, "completed");
    let sneaky: i64 =
        sqlx::query_scalar("select count(*) from credit_packages where package_code = 'sneaky'")
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    assert_eq!(sneaky, 0);

    for name in ["admin_purchase", "admin_packages"] {
        let form = &calls.iter().find(|(n, _)| *n == name).unwrap().1;
        let (status, body) = world.server_fn(Some(&admin), name, form).await;
        assert_eq!(status, 200, "admin {name}: {body}");
    }
}

#[tokio::test]
async fn the_dashboard_shows_the_figures_chart_and_the_filtered_table() {
    let world = world().await;
    let alice = world.token("alice").await;
    let admin = world.token("admin").await;
    world.buy_and_pay(&alice, "starter", CARD_OK).await;
    world.buy_and_pay(&alice, "standard", CARD_OK).await;
    world.buy(&alice, "pro").await; // started, never paid
    world.wait_for_balance(&alice, 6_000).await;

    let (status, html, _) = world.page(Some(&admin), "/admin/credits").await;
    assert_eq!(status, 200);
    for (figure, value) in [
        ("revenue", "$55.00"),
        ("net", "$55.00"),
        ("purchases", "2"),
        ("credits", "6,000"),
        ("conversion", "66.7%"),
    ] {
        let at = html
            .find(&format!(r#"data-figure="{figure}""#))
            .unwrap_or_else(|| panic!("no {figure} figure"));
        let current = &html[at..at + html[at..].find("</dd>").unwrap()];
        assert!(current.contains(value), "{figure}: {current}");
    }
    assert!(html.contains(r#"<svg id="revenue-chart""#));
    assert!(html.contains(r#"data-value="5500""#), "today's bar");
    assert_eq!(html.matches("<tr data-purchase=").count(), 3);

    let (_, filtered, _) = world
        .page(
            Some(&admin),
            "/admin/credits?status=completed&package=starter",
        )
        .await;
    assert_eq!(filtered.matches("<tr data-purchase=").count(), 1);
    assert!(filtered.contains("Starter Pack"));
    assert!(filtered.contains("1 purchase matches"));
    assert!(
        filtered.contains(
            "/api/v1/billing/credits/admin/purchases/export?status=completed&amp;package=starter"
        ) || filtered.contains(
            "/api/v1/billing/credits/admin/purchases/export?status=completed&package=starter"
        ),
        "the CSV link carries the filters"
    );

    let (_, bad, _) = world
        .page(Some(&admin), "/admin/credits?from=yesterday")
        .await;
    assert!(bad.contains("from must be a date as YYYY-MM-DD."));

    // No match: an empty state with the way back, not an empty table.
    let (status, none, _) = world
        .page(Some(&admin), "/admin/credits?user=nobody%40example.com")
        .await;
    assert_eq!(status, 200);
    assert!(none.contains("0 purchases match"));
    assert!(none.contains(r#"id="purchases-empty""#), "{none}");
    assert!(!none.contains(r#"<table id="purchases""#));
    assert!(filtered.contains(r#"<table id="purchases""#));
}

#[tokio::test]
async fn an_admin_refund_and_stripes_webhook_take_credits_back_once_and_adjustments_need_a_reason()
{
    let world = world().await;
    let alice = world.token("alice").await;
    let admin = world.token("admin").await;
    let session = world.buy_and_pay(&alice, "starter", CARD_OK).await;
    world.wait_for_balance(&alice, 1_000).await;
    let purchase = world.purchase_id(&session).await;

    let (status, body) = world
        .server_fn(
            Some(&admin),
            "refund_purchase",
            &[
                ("id", &purchase),
                ("amount", "2.50"),
                ("request_id", "5c3b1f6a-0e2d-4b8a-8f61-3a9d2e7c4b10"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(world.status(&session).await, "partially_refunded");
    assert_eq!(world.balance(&alice).await, 750);
    // Stripe's charge.refunded for the same refund arrives and changes nothing.
    let refunded = world
        .event("charge.refunded", "payment_intent", &{
            let s = world
                .stripe_get(&format!("/v1/checkout/sessions/{session}"))
                .await;
            s["payment_intent"].as_str().unwrap().to_owned()
        })
        .await;
    world.wait_for_delivery(&refunded).await;
    assert_eq!(world.balance(&alice).await, 750);

    let (status, body) = world
        .server_fn(
            Some(&admin),
            "refund_purchase",
            &[
                ("id", &purchase),
                ("amount", "9.00"),
                ("request_id", "7e4a2c1b-9d3f-4e6a-b0c5-1f8e2d7a3c40"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("too much"), "{body}");

    let alice_id = world.user_id(&alice).await;
    let request = "0b7c4f0e-8d7e-4a43-9df1-5d1f7e3c2a01";
    let adjust = |reason: &'static str| {
        [
            ("user_id", alice_id.as_str()),
            ("amount", "250"),
            ("reason", reason),
            ("request_id", request),
        ]
    };
    let (status, body) = world
        .server_fn(Some(&admin), "adjust_credits", &adjust(""))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("reason is required"), "{body}");
    assert_eq!(world.balance(&alice).await, 750);

    for _ in 0..2 {
        // The same form sent twice (a double click) counts once.
        let (status, body) = world
            .server_fn(Some(&admin), "adjust_credits", &adjust("support ticket 42"))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(world.balance(&alice).await, 1_000);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn the_catalogue_editor_validates_input_and_reorders() {
    let world = world().await;
    let admin = world.token("admin").await;
    let (status, body) = world
        .server_fn(
            Some(&admin),
            "save_package",
            &[
                ("id", ""),
                ("package_code", "mega"),
                ("package_name", "Mega Pack"),
                ("description", ""),
                ("credits", "0"),
                ("price", "12.50"),
                ("discount_percentage", "150"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("Credits must be a positive whole number."),
        "{body}"
    );
    assert!(
        body.contains("The discount must be between 0 and 100 percent."),
        "{body}"
    );

    let (status, body) = world
        .server_fn(
            Some(&admin),
            "save_package",
            &[
                ("id", ""),
                ("package_code", "starter"),
                ("package_name", "Another Starter"),
                ("description", ""),
                ("credits", "10"),
                ("price", "1"),
                ("discount_percentage", ""),
                ("is_active", "on"),
            ],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains(r#""code":"duplicate_code""#), "{body}");
    assert!(body.contains("exists already"), "{body}");

    let order = || async {
        sqlx::query_scalar::<_, String>(
            "select package_code from credit_packages order by display_order, package_code",
        )
        .fetch_all(&world.app.pool)
        .await
        .unwrap()
    };
    let enterprise: uuid::Uuid =
        sqlx::query_scalar("select id from credit_packages where package_code = 'enterprise'")
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    let (status, body) = world
        .server_fn(
            Some(&admin),
            "move_package",
            &[("id", &enterprise.to_string()), ("direction", "up")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(order().await, ["starter", "standard", "enterprise", "pro"]);

    let (_, html, _) = world.page(Some(&admin), "/admin/credits/packages").await;
    assert!(html.find(r#"data-package="enterprise""#) < html.find(r#"data-package="pro""#));
    // Prices are shown as the form sends them back: dollars, exactly.
    assert!(
        html.contains(r#"value="$350.00""#),
        "enterprise price in the form"
    );

    let starter: uuid::Uuid =
        sqlx::query_scalar("select id from credit_packages where package_code = 'starter'")
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    let (status, body) = world
        .server_fn(
            Some(&admin),
            "save_package",
            &[
                ("id", &starter.to_string()),
                ("package_code", "starter"),
                ("package_name", "Starter Pack"),
                ("description", "Try the platform."),
                ("credits", "1,000"),
                ("price", "$1,234.50"),
                ("discount_percentage", "0"),
                ("is_active", "on"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let price: i64 = sqlx::query_scalar(
        "select price_cents from credit_packages where package_code = 'starter'",
    )
    .fetch_one(&world.app.pool)
    .await
    .unwrap();
    assert_eq!(price, 123_450);
}

#[tokio::test]
async fn held_purchases_are_listed_on_the_dashboard_and_settled_from_their_page() {
    let world = world().await;
    let alice = world.token("alice").await;
    let admin = world.token("admin").await;
    // Two payments Stripe collected at another amount than the price.
    let mut held = Vec::new();
    for code in ["starter", "standard"] {
        let (checkout_url, session) = world.buy(&alice, code).await;
        world
            .amend_session(&session, json!({ "amount_total": 100 }))
            .await;
        assert_eq!(world.pay(&checkout_url, CARD_OK).await.status(), 303);
        world.wait_for_status(&session, "needs_review").await;
        held.push((session.clone(), world.purchase_id(&session).await));
    }
    let (starter, standard) = (&held[0], &held[1]);

    let (status, html, _) = world.page(Some(&admin), "/admin/credits").await;
    assert_eq!(status, 200);
    let section = html
        .split("id=\"needs-review\"")
        .nth(1)
        .expect("a Needs review section")
        .split("</section>")
        .next()
        .unwrap();
    assert!(section.contains("Needs review (2)"), "{section}");
    for (_, purchase) in &held {
        assert!(section.contains(purchase.as_str()), "{purchase} not listed");
    }
    assert!(section.contains("Stripe collected $1.00, but the purchase costs $10.00"));
    assert!(html.contains("data-status=\"needs_review\""));

    // The detail page offers Grant and Refund while the purchase is held.
    let detail = format!("/admin/credits/purchases/{}", starter.1);
    let (_, html, _) = world.page(Some(&admin), &detail).await;
    assert!(html.contains("id=\"review-grant\""), "no grant button");
    assert!(html.contains("id=\"review-refund\""), "no refund button");
    assert!(html.contains("Held for review: Stripe collected $1.00"));

    // Grant through the server function: once, however often it is posted.
    let form = [("id", starter.1.as_str()), ("action", "grant")];
    let (status, body) = world
        .server_fn(Some(&admin), "review_purchase", &form)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Granted 1,000 credits"), "{body}");
    // The second is refused as on the JSON API: 409 `not_in_review`.
    let (status, body) = world
        .server_fn(Some(&admin), "review_purchase", &form)
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains(r#""code":"not_in_review""#), "{body}");
    assert_eq!(world.balance(&alice).await, 1_000);
    assert_eq!(world.grants_for(&starter.0).await, 1);
    let (_, html, _) = world.page(Some(&admin), &detail).await;
    assert!(
        !html.contains("id=\"review-grant\""),
        "still offers a grant"
    );
    assert!(html.contains("Was held for review"));

    // Refund the other one: no credits, the payment goes back.
    let form = [("id", standard.1.as_str()), ("action", "refund")];
    let (status, body) = world
        .server_fn(Some(&admin), "review_purchase", &form)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Refunded the whole payment"), "{body}");
    assert_eq!(world.status(&standard.0).await, "refunded");
    assert_eq!(world.balance(&alice).await, 1_000);

    let (_, html, _) = world.page(Some(&admin), "/admin/credits").await;
    assert!(html.contains("Nothing to review"), "the list did not empty");
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn the_dashboard_refuses_extreme_dates_and_the_refund_form_refunds_once_per_render() {
    let world = world().await;
    let alice = world.token("alice").await;
    let admin = world.token("admin").await;
    let session = world.buy_and_pay(&alice, "standard", CARD_OK).await; // 5,000 credits for $45.00
    world.wait_for_balance(&alice, 5_000).await;
    let purchase = world.purchase_id(&session).await;

    // Dates far out of range are a message on the page, never a panic or a 500.
    for (date, shown) in [
        ("%2B262142-12-01", "+262142-12-01"),
        ("-0001-01-01", "-0001-01-01"),
        ("1999-12-31", "1999-12-31"),
    ] {
        for key in ["from", "to"] {
            let path = format!("/admin/credits?{key}={date}");
            let (status, html, _) = world.page(Some(&admin), &path).await;
            assert_eq!(status, 200, "{path}");
            assert!(
                html.contains(&format!(
                    "{key} must be a date from 2000-01-01 to 2100-12-31."
                )),
                "{path} ({shown})"
            );
            assert_eq!(html.matches("<tr data-purchase=").count(), 1, "{path}");
        }
    }
    let (status, body) = world
        .server_fn_json(
            Some(&admin),
            "admin_dashboard",
            serde_json::json!({ "days": 30, "params": { "to": "+262142-12-01" } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("to must be a date from 2000-01-01 to 2100-12-31."),
        "{body}"
    );

    // Each render of the purchase page carries a fresh refund request id.
    let page = format!("/admin/credits/purchases/{purchase}");
    let refund_request_id = |html: &str| {
        let form = &html[html.find(r#"id="refund-form""#).expect("a refund form")..];
        let at = form
            .find(r#"name="request_id" value=""#)
            .expect("a request id")
            + 25;
        form[at..at + form[at..].find('"').unwrap()].to_owned()
    };
    let (_, first_render, _) = world.page(Some(&admin), &page).await;
    let (_, second_render, _) = world.page(Some(&admin), &page).await;
    let request_id = refund_request_id(&first_render);
    assert!(request_id.parse::<uuid::Uuid>().is_ok(), "{request_id}");
    assert_ne!(request_id, refund_request_id(&second_render));

    // The same rendered form submitted twice refunds once.
    let form = [
        ("id", purchase.as_str()),
        ("amount", "4.50"),
        ("request_id", request_id.as_str()),
    ];
    let (status, body) = world
        .server_fn(Some(&admin), "refund_purchase", &form)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Refunded $4.50"), "{body}");
    let (status, body) = world
        .server_fn(Some(&admin), "refund_purchase", &form)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("already made"), "{body}");
    let refunded: i64 =
        sqlx::query_scalar("select refunded_cents from credit_purchases where id = $1::uuid")
            .bind(&purchase)
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    assert_eq!(refunded, 450);
    world.wait_for_balance(&alice, 4_500).await;

    // A form without a request id is out of date; nothing is refunded.
    let (status, _) = world
        .server_fn(
            Some(&admin),
            "refund_purchase",
            &[
                ("id", purchase.as_str()),
                ("amount", "1.00"),
                ("request_id", "not-an-id"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(world.balance(&alice).await, 4_500);
}

/// Server functions answer the same typed error as the JSON API: pages
/// (and any client) match on `code`, never on the message.
#[tokio::test]
async fn server_function_refusals_carry_the_typed_error_code() {
    let world = world().await;
    let alice = world.token("alice").await;
    let admin = world.token("admin").await;
    for (token, status, code) in [
        (None, 401, "not_authenticated"),
        (Some(alice.as_str()), 403, "forbidden"),
    ] {
        let (got, body) = world.server_fn(token, "admin_packages", &[]).await;
        let error: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("not a JSON error ({e}): {body}"));
        assert_eq!(
            (got, error["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert!(error["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // Arguments that do not decode into their types (ids are typed, not
    // strings) are the caller's fault, in the same shape, before anything runs.
    for (name, form) in [
        (
            "refund_purchase",
            vec![("id", "not-a-uuid"), ("amount", ""), ("request_id", "")],
        ),
        (
            "review_purchase",
            vec![("id", "not-a-uuid"), ("action", "grant")],
        ),
        ("admin_purchase", vec![("id", "not-a-uuid")]),
        (
            "move_package",
            vec![("id", "not-a-uuid"), ("direction", "up")],
        ),
    ] {
        let (got, body) = world.server_fn(Some(&admin), name, &form).await;
        let error: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (got, error["code"].as_str()),
            (422, Some("invalid_body")),
            "{name}: {body}"
        );
    }
}

/// A refusal has one code and status whichever entry point it came
/// through: the server functions the pages call answer what the JSON API
/// answers for the same refusal (one `From<service error> for ApiError`).
#[tokio::test]
async fn server_functions_refuse_with_the_json_apis_codes() {
    let world = world().await;
    let alice = world.token("alice").await;
    let admin = world.token("admin").await;
    let session = world.buy_and_pay(&alice, "starter", CARD_OK).await; // $10.00
    world.wait_for_balance(&alice, 1_000).await;
    let purchase = world.purchase_id(&session).await;
    let code = |body: &str| -> (String, String) {
        let error: serde_json::Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("not a JSON error ({e}): {body}"));
        (
            error["code"].as_str().unwrap_or_default().to_owned(),
            error["detail"].as_str().unwrap_or_default().to_owned(),
        )
    };

    // Too much refunded: 422 `invalid_amount` from both.
    let (status, body) = world
        .server_fn(
            Some(&admin),
            "refund_purchase",
            &[
                ("id", &purchase),
                ("amount", "10.01"),
                ("request_id", "0d4a5c2e-7b1f-4e8a-9c3d-2f6e1a0b9c87"),
            ],
        )
        .await;
    assert_eq!((status, code(&body).0.as_str()), (422, "invalid_amount"));
    let (status, error) = world
        .api(
            &admin,
            reqwest::Method::POST,
            &format!("/credits/admin/purchases/{purchase}/refund"),
            Some(json!({ "amount_cents": 1001 })),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (422, Some("invalid_amount"))
    );
    assert_eq!(code(&body).1, error["detail"].as_str().unwrap());

    // Not held for review: 409 `not_in_review`; a bad action 422 `invalid_action`.
    for (action, status, expected) in [
        ("grant", 409, "not_in_review"),
        ("steal", 422, "invalid_action"),
    ] {
        let (got, body) = world
            .server_fn(
                Some(&admin),
                "review_purchase",
                &[("id", &purchase), ("action", action)],
            )
            .await;
        assert_eq!((got, code(&body).0.as_str()), (status, expected), "{body}");
    }

    // No such purchase, user or package: 404 with the resource's code.
    let nobody = "00000000-0000-0000-0000-000000000000";
    for (name, form, expected) in [
        ("admin_purchase", vec![("id", nobody)], "unknown_purchase"),
        (
            "adjust_credits",
            vec![
                ("user_id", nobody),
                ("amount", "5"),
                ("reason", "goodwill"),
                ("request_id", nobody),
            ],
            "unknown_user",
        ),
        (
            "move_package",
            vec![("id", nobody), ("direction", "up")],
            "unknown_package",
        ),
    ] {
        let (status, body) = world.server_fn(Some(&admin), name, &form).await;
        assert_eq!(
            (status, code(&body).0.as_str()),
            (404, expected),
            "{name}: {body}"
        );
    }

    // Taking more credits than the user has: 409 `balance_too_low`.
    let alice_id = world.user_id(&alice).await;
    let (status, body) = world
        .server_fn(
            Some(&admin),
            "adjust_credits",
            &[
                ("user_id", &alice_id),
                ("amount", "-1,001"),
                ("reason", "clawback"),
                ("request_id", "3e9b7d1a-6c2f-4a5e-8b0d-7f1c2e3a4b5c"),
            ],
        )
        .await;
    assert_eq!((status, code(&body).0.as_str()), (409, "balance_too_low"));
    assert_eq!(world.balance(&alice).await, 1_000);
}

/// Server functions take typed arguments: a package code or a direction
/// that is not one is refused as the caller's input (422 `invalid_body`)
/// before anything runs.
#[tokio::test]
async fn server_functions_refuse_arguments_that_are_not_their_types() {
    let world = world().await;
    let admin = world.token("admin").await;
    let (status, body) = world
        .server_fn(
            Some(&admin),
            "save_package",
            &[
                ("id", ""),
                ("package_code", "Team Pack"),
                ("package_name", "Team"),
                ("description", ""),
                ("credits", "10"),
                ("price", "1.00"),
                ("discount_percentage", "0"),
            ],
        )
        .await;
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status, error["code"].as_str()),
        (422, Some("invalid_body")),
        "{body}"
    );
    let created: i64 =
        sqlx::query_scalar("select count(*) from credit_packages where package_name = 'Team'")
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    assert_eq!(created, 0);

    let starter: uuid::Uuid =
        sqlx::query_scalar("select id from credit_packages where package_code = 'starter'")
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    let (status, body) = world
        .server_fn(
            Some(&admin),
            "move_package",
            &[("id", &starter.to_string()), ("direction", "sideways")],
        )
        .await;
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status, error["code"].as_str()),
        (422, Some("invalid_body")),
        "{body}"
    );
}
