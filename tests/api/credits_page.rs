//! The credits page as the server renders it (`/credits`, `/`): what a
//! logged-in buyer sees before, during and after Checkout. Pages accept the
//! same bearer tokens as the API, so no browser is needed here.

use crate::support::world::{CARD_DECLINED, CARD_DELAYED_OK, CARD_OK, world};
use serde_json::json;

/// The text inside the element with `id`, hydration markers removed.
fn text_of(html: &str, id: &str) -> String {
    let start = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id} on the page"));
    let open_end = start + html[start..].find('>').unwrap() + 1;
    let close = open_end + html[open_end..].find("</").unwrap();
    html[open_end..close]
        .replace("<!-- -->", "")
        .replace("<!>", "")
        .trim()
        .to_owned()
}

fn banner_kind(html: &str) -> Option<String> {
    let start = html.find(r#"id="checkout-banner""#)?;
    let kind = html[start..].find(r#"data-kind=""#)? + start + r#"data-kind=""#.len();
    Some(html[kind..kind + html[kind..].find('"').unwrap()].to_owned())
}

fn count(html: &str, needle: &str) -> usize {
    html.matches(needle).count()
}

#[tokio::test]
async fn anonymous_visitors_see_the_packs_and_are_sent_to_log_in_from_credits() {
    let world = world().await;
    let home = world.app.get("/").await;
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert_eq!(count(&html, "Log in to buy"), 4);
    assert!(!html.contains(r#"id="balance""#));

    let (status, _, location) = world.page(None, "/credits").await;
    assert!((300..400).contains(&status), "{status}");
    assert_eq!(location.as_deref(), Some("/auth/login?next=/credits"));
}

#[tokio::test]
async fn a_buyer_sees_balance_packs_with_buy_buttons_and_an_empty_history() {
    let world = world().await;
    let alice = world.token("alice").await;
    for path in ["/credits", "/"] {
        let (status, html, _) = world.page(Some(&alice), path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(text_of(&html, "balance"), "0", "{path}");
        assert_eq!(count(&html, r#"data-role="buy""#), 4, "{path}");
        assert!(html.contains("No purchases yet"), "{path}");
        assert!(html.contains("How credits work"), "{path}");
        assert!(html.contains("Popular"), "{path}");
        assert!(html.contains("$8.00 per 1,000 credits"), "{path}");
        assert_eq!(banner_kind(&html), None, "{path}");
    }
}

#[tokio::test]
async fn the_success_return_shows_the_new_balance_before_the_webhook_arrives() {
    let world = world().await;
    let alice = world.token("alice").await;
    world.control("/webhooks/hold", json!({})).await;
    let session = world.buy_and_pay(&alice, "starter", CARD_OK).await;

    let (status, html, _) = world
        .page(Some(&alice), &format!("/credits?session_id={session}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(banner_kind(&html).as_deref(), Some("success"));
    assert_eq!(text_of(&html, "balance"), "1,000");
    assert!(html.contains(r#"data-status="completed""#));
    assert_eq!(world.status(&session).await, "completed");

    // Stripe's webhook comes later and grants nothing more; reloading the
    // success page does not either.
    world.control("/webhooks/release", json!({})).await;
    let (_, again, _) = world
        .page(Some(&alice), &format!("/credits?session_id={session}"))
        .await;
    assert_eq!(text_of(&again, "balance"), "1,000");
    assert_eq!(world.grants_for(&session).await, 1);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn the_success_banner_survives_a_reload_for_a_while_not_for_ever() {
    let world = world().await;
    let alice = world.token("alice").await;
    let session = world.buy_and_pay(&alice, "starter", CARD_OK).await;
    let path = format!("/credits?session_id={session}");
    for _ in 0..2 {
        let (_, html, _) = world.page(Some(&alice), &path).await;
        assert_eq!(banner_kind(&html).as_deref(), Some("success"));
    }

    // The same address a while later (a bookmark, the browser's history):
    // the page, without announcing an old payment again.
    sqlx::query(
        "update credit_purchases set created_at = created_at - interval '20 minutes', \
         completed_at = completed_at - interval '20 minutes' \
         where stripe_checkout_session_id = $1",
    )
    .bind(&session)
    .execute(&world.app.pool)
    .await
    .unwrap();
    let (status, html, _) = world.page(Some(&alice), &path).await;
    assert_eq!(status, 200);
    assert_eq!(banner_kind(&html), None);
    assert_eq!(text_of(&html, "balance"), "1,000");
    assert!(html.contains(r#"data-status="completed""#));
}

#[tokio::test]
async fn a_payment_still_processing_shows_a_pending_note_and_no_credits() {
    let world = world().await;
    let alice = world.token("alice").await;
    let session = world.buy_and_pay(&alice, "standard", CARD_DELAYED_OK).await;

    let (_, html, _) = world
        .page(Some(&alice), &format!("/credits?session_id={session}"))
        .await;
    assert_eq!(banner_kind(&html).as_deref(), Some("processing"));
    assert_eq!(text_of(&html, "balance"), "0");
    assert!(html.contains(r#"data-status="pending""#));

    world.settle(&session, "succeeded").await;
    world.wait_for_balance(&alice, 5_000).await;
    let (_, html, _) = world
        .page(Some(&alice), &format!("/credits?session_id={session}"))
        .await;
    assert_eq!(banner_kind(&html).as_deref(), Some("success"));
}

/// The server function the credits page calls once it is live on Checkout's
/// cancel URL: `POST /api/abandon_checkout`; (status, body).
async fn abandon_checkout(
    world: &crate::support::world::World,
    token: Option<&str>,
    purchase: &str,
) -> (u16, String) {
    let mut request = world
        .http
        .post(world.app.url("/api/abandon_checkout"))
        .form(&[("purchase", purchase)]);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn cancelling_checkout_closes_the_session_by_post_and_changes_no_balance() {
    let world = world().await;
    let alice = world.token("alice").await;
    let (checkout_url, session) = world.buy(&alice, "starter").await;
    let purchase = world.purchase_id(&session).await;
    // A declined card first, then "Cancel and go back".
    let declined = world.pay(&checkout_url, CARD_DECLINED).await;
    assert_eq!(declined.status(), 200);
    let stripe_session = world
        .stripe_get(&format!("/v1/checkout/sessions/{session}"))
        .await;
    let cancel_url = stripe_session["cancel_url"].as_str().unwrap().to_owned();
    assert_eq!(
        cancel_url,
        world
            .app
            .url(&format!("/credits?checkout=cancelled&purchase={purchase}"))
    );
    let path = cancel_url.trim_start_matches(&world.app.address).to_owned();

    // Following the link is a GET: the page shows the banner and changes nothing.
    let bob = world.token("bob").await;
    let (status, _, _) = world.page(Some(&bob), &path).await;
    assert_eq!(status, 200);
    let (status, html, _) = world.page(Some(&alice), &path).await;
    assert_eq!(status, 200);
    assert_eq!(banner_kind(&html).as_deref(), Some("cancelled"));
    assert_eq!(text_of(&html, "balance"), "0");
    assert!(html.contains(r#"data-status="pending""#));
    assert_eq!(world.status(&session).await, "pending");
    let at_stripe = world
        .stripe_get(&format!("/v1/checkout/sessions/{session}"))
        .await;
    assert_eq!(at_stripe["status"], "open");

    // The live page then POSTs to close it. Nobody else can.
    let (status, body) = abandon_checkout(&world, Some(&bob), &purchase).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = abandon_checkout(&world, None, &purchase).await;
    assert_eq!(status, 401, "{body}");
    // Not a purchase id at all: refused as input, before any look-up.
    let (status, body) = abandon_checkout(&world, Some(&alice), "not-a-purchase").await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("invalid_body"), "{body}");
    assert_eq!(world.status(&session).await, "pending");

    let (status, body) = abandon_checkout(&world, Some(&alice), &purchase).await;
    assert_eq!(status, 200, "{body}");
    let view: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["id"], purchase.as_str());
    assert_eq!(view["status"], "expired");
    assert_eq!(world.status(&session).await, "expired");
    let at_stripe = world
        .stripe_get(&format!("/v1/checkout/sessions/{session}"))
        .await;
    assert_eq!(at_stripe["status"], "expired");
    // What the page shows after its reload.
    let (status, html, _) = world.page(Some(&alice), &path).await;
    assert_eq!(status, 200);
    assert_eq!(banner_kind(&html).as_deref(), Some("cancelled"));
    assert!(html.contains(r#"data-status="expired""#));
    // Again (a second tab): nothing more happens.
    let (status, body) = abandon_checkout(&world, Some(&alice), &purchase).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(world.status(&session).await, "expired");

    // The paying page refuses the closed session; Stripe's expired webhook is a no-op.
    let late = world.pay(&checkout_url, CARD_OK).await;
    assert_ne!(late.status(), 303, "an expired session was paid");
    let expired_event = world
        .event("checkout.session.expired", "id", &session)
        .await;
    world.wait_for_delivery(&expired_event).await;
    assert_eq!(world.status(&session).await, "expired");
    assert_eq!(world.balance(&alice).await, 0);
    world.assert_ledger_consistent().await;
}

#[tokio::test]
async fn history_is_paginated_newest_first_with_a_chip_per_status() {
    let world = world().await;
    let alice = world.token("alice").await;
    // The first authenticated request records alice.
    let alice_id: uuid::Uuid = world.user_id(&alice).await.parse().unwrap();
    let statuses = [
        "completed",
        "pending",
        "failed",
        "expired",
        "refunded",
        "partially_refunded",
    ];
    for n in 0..12_i64 {
        sqlx::query(
            "insert into credit_purchases (user_id, package_code, package_name, amount_credits,
                 amount_paid_cents, discount_percentage, status, created_at)
             values ($1, 'starter', $2, 1000, 1000, 0, $3, now() - make_interval(hours => $4::int))",
        )
        .bind(alice_id)
        .bind(format!("Pack number {n}"))
        .bind(statuses[n as usize % statuses.len()])
        .bind(n)
        .execute(&world.app.pool)
        .await
        .unwrap();
    }

    let (_, first, _) = world.page(Some(&alice), "/credits").await;
    assert_eq!(count(&first, "<tr data-purchase="), 10);
    assert!(first.find("Pack number 0").unwrap() < first.find("Pack number 9").unwrap());
    assert!(!first.contains("Pack number 10"));
    for status in statuses {
        assert!(
            first.contains(&format!(r#"data-status="{status}""#)),
            "no {status} chip"
        );
    }
    assert!(first.contains(r#"href="/credits?page=2""#));
    assert!(!first.contains(r#"data-role="newer""#));

    let (_, second, _) = world.page(Some(&alice), "/credits?page=2").await;
    assert_eq!(count(&second, "<tr data-purchase="), 2);
    assert!(second.contains("Pack number 11"));
    assert!(second.contains(r#"href="/credits?page=1""#));
    assert!(!second.contains(r#"data-role="older""#));
}

/// A signed-in page takes the packs this process keeps while the catalogue
/// has not changed; a change made anywhere (by hand in SQL here, seen by a
/// second instance too) shows on the very next page, with no notification
/// to wait for.
#[tokio::test]
async fn a_change_to_the_packs_shows_on_the_next_signed_in_page_of_every_instance() {
    let world = world().await;
    let alice = world.token("alice").await;
    let (other, _) = world.another_instance().await;
    let page_of = |base: String| {
        let http = crate::support::http_client();
        let alice = alice.clone();
        async move {
            http.get(format!("{base}/credits"))
                .bearer_auth(alice)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let instances = [world.app.address.clone(), other];
    for base in instances.clone() {
        let html = page_of(base.clone()).await;
        assert!(html.contains("Starter Pack"), "{base}");
        assert_eq!(count(&html, r#"data-role="buy""#), 4, "{base}");
    }

    sqlx::query(
        "update credit_packages set package_name = 'Starter Plus' where package_code = 'starter'",
    )
    .execute(&world.app.pool)
    .await
    .unwrap();
    sqlx::query("update credit_packages set is_active = false where package_code = 'enterprise'")
        .execute(&world.app.pool)
        .await
        .unwrap();
    for base in instances {
        let html = page_of(base.clone()).await;
        assert!(html.contains("Starter Plus"), "{base}");
        assert!(!html.contains("Starter Pack"), "{base}");
        assert!(!html.contains("Enterprise Pack"), "{base}");
        assert_eq!(count(&html, r#"data-role="buy""#), 3, "{base}");
        // The header's balance and the page's come from the same read.
        assert_eq!(text_of(&html, "balance"), "0", "{base}");
        assert!(html.contains(r#"id="header-balance""#), "{base}");
    }
}

/// The packs kept at a version serve a read at that version without the
/// database; any change to the packs moves the version in its own
/// transaction, and a read at any other version asks the database again.
#[tokio::test]
async fn the_catalogue_cache_serves_the_version_it_keeps_and_reads_any_other() {
    use backend::packages::CatalogueCache;
    use std::sync::Arc;

    let db = crate::support::TestDatabase::new();
    let pool = db.migrated_pool().await;
    let version = || async {
        sqlx::query_scalar::<_, i64>("select version from catalogue_version")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let cache = CatalogueCache::default();
    let first_version = version().await;
    let first = cache.active(&pool, Some(first_version)).await.unwrap();
    assert_eq!(first.len(), 4);

    for change in [
        "update credit_packages set package_name = 'Renamed' where package_code = 'starter'",
        "insert into credit_packages (package_code, package_name, credits, price_cents, display_order) \
         values ('extra', 'Extra Pack', 10, 100, 9)",
        "update credit_packages set is_active = false where package_code = 'extra'",
        "delete from credit_packages where package_code = 'extra'",
    ] {
        let before = version().await;
        sqlx::query(change).execute(&pool).await.unwrap();
        assert!(version().await > before, "{change}");
    }
    // A transaction rolled back leaves the version where it was.
    let before = version().await;
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("update credit_packages set price_cents = 1 where package_code = 'pro'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(version().await, before);

    let current = version().await;
    let now = cache.active(&pool, Some(current)).await.unwrap();
    assert_eq!(now.len(), 4);
    assert!(now.iter().any(|p| p.name == "Renamed"));
    assert!(now.iter().all(|p| p.name != "Starter Pack"));

    pool.close().await;
    let kept = cache.active(&pool, Some(current)).await.unwrap();
    assert!(Arc::ptr_eq(&kept, &now), "read again at the kept version");
    assert!(
        cache.active(&pool, Some(first_version)).await.is_err(),
        "served another version than the one asked for"
    );
    assert!(
        cache.active(&pool, None).await.is_err(),
        "served the kept packs to a caller who knows no version"
    );
}

/// The header and the page share one read of the user's wallet and plan
/// per request, however many ask at once; another user's ask is never
/// answered from it.
#[tokio::test]
async fn a_request_reads_the_glance_once_and_only_for_its_own_user() {
    use backend::{account::GlanceOnce, ids::UserId};

    let db = crate::support::TestDatabase::new();
    let pool = db.migrated_pool().await;
    let mut users = Vec::new();
    for name in ["alice", "bob"] {
        let id: UserId = sqlx::query_scalar(
            "insert into users (keycloak_sub, email) values ($1, $1 || '@example.com') returning id",
        )
        .bind(name)
        .fetch_one(&pool)
        .await
        .unwrap();
        users.push(id);
    }
    let (alice, bob) = (users[0], users[1]);
    let once = GlanceOnce::default();
    let (header, page) = tokio::join!(once.get(&pool, alice), once.get(&pool, alice));
    let (header, page) = (header.unwrap(), page.unwrap());
    assert_eq!(header, page);
    assert_eq!(
        header,
        backend::account::glance(&pool, alice).await.unwrap()
    );

    pool.close().await;
    assert_eq!(once.get(&pool, alice).await.unwrap(), header);
    assert!(
        once.get(&pool, bob).await.is_err(),
        "answered bob from alice's read"
    );
}
