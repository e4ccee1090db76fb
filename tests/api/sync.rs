//! Keycloak and Lago kept in step with subscriptions through the durable
//! outbox, and the reconcile job: the real app, the Stripe emulator, the
//! dev identity provider (its Keycloak Admin API) and the Lago fake (which
//! checks every request against Lago's OpenAPI contract).

use std::{future::Future, time::Duration};

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    subscriptions::{
        advance, cancel, change_plan, settle_webhooks, status, sub_world_with, subscribe,
    },
    support::{DevIdp, lago::LagoFake, world::World},
};

/// Retries start at 1–2 s and double: a few of them fit in this.
const SYNC_WITHIN: Duration = Duration::from_secs(45);

/// Polls `probe` until it returns `Some`.
async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, probe: impl Fn() -> F) -> T {
    let deadline = tokio::time::Instant::now() + SYNC_WITHIN;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("{what} did not happen within {SYNC_WITHIN:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A subscription world whose app syncs into the dev provider's Keycloak
/// Admin API, and into `lago` if given.
async fn sync_world(lago: Option<&LagoFake>) -> World {
    sub_world_with(|env| {
        DevIdp::configure_sync(env);
        if let Some(lago) = lago {
            lago.configure(env);
        }
    })
    .await
}

/// The attribute's only value, as the dev provider holds the user now.
fn attribute(user: &Value, name: &str) -> Option<String> {
    user["attributes"][name][0].as_str().map(str::to_owned)
}

/// Waits until alice's Keycloak attributes satisfy `check`.
async fn keycloak_user(idp: &DevIdp, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    eventually(what, || async {
        let user = idp.user("alice").await;
        check(&user).then_some(user)
    })
    .await
}

async fn admin_sync(world: &World) -> Value {
    let admin = world.token("admin").await;
    let (code, body) = world
        .api(&admin, Method::GET, "/credits/admin/sync", None)
        .await;
    assert_eq!(code, 200, "{body}");
    body
}

#[tokio::test]
async fn keycloak_attributes_follow_each_subscription_step_and_keep_the_rest() {
    let world = sync_world(None).await;
    let alice = world.token("alice").await;
    let before = world.idp.user("alice").await;
    assert_eq!(
        attribute(&before, "department").as_deref(),
        Some("research")
    );

    let sub = subscribe(&world, &alice, "professional", "monthly").await;
    let user = keycloak_user(&world.idp, "the professional tier in Keycloak", |u| {
        attribute(u, "subscription_tier").as_deref() == Some("professional")
    })
    .await;
    let plan = status(&world, &alice).await;
    assert_eq!(
        attribute(&user, "subscription_status").as_deref(),
        Some("active")
    );
    assert_eq!(
        attribute(&user, "stripe_subscription_id").as_deref(),
        Some(sub.as_str())
    );
    let customer: String =
        sqlx::query_scalar("select stripe_customer_id from users where keycloak_sub = $1")
            .bind(before["id"].as_str().unwrap())
            .fetch_one(&world.app.pool)
            .await
            .unwrap();
    assert_eq!(attribute(&user, "stripe_customer_id"), Some(customer));
    let start = attribute(&user, "subscription_start_date").expect("a start date");
    let end = attribute(&user, "subscription_end_date").expect("an end date");
    assert_eq!(start.len(), 10, "an ISO date: {start}");
    assert!(end > start, "{start} .. {end}");
    assert!(
        plan["current_period_end"]
            .as_str()
            .unwrap()
            .starts_with(&end),
        "{plan}"
    );
    // What is not ours survives the whole-user PUT.
    assert_eq!(attribute(&user, "department").as_deref(), Some("research"));
    for field in ["email", "firstName", "lastName", "username"] {
        assert_eq!(user[field], before[field], "{field}");
    }

    let (code, body) = change_plan(&world, &alice, "enterprise", "monthly").await;
    assert_eq!(code, 200, "{body}");
    keycloak_user(&world.idp, "the enterprise tier in Keycloak", |u| {
        attribute(u, "subscription_tier").as_deref() == Some("enterprise")
    })
    .await;

    let (code, body) = cancel(&world, &alice, &sub, true).await;
    assert_eq!(code, 200, "{body}");
    advance(&world, &sub, json!({})).await;
    let ended = keycloak_user(&world.idp, "the plan's end in Keycloak", |u| {
        attribute(u, "subscription_status").as_deref() == Some("canceled")
    })
    .await;
    assert_eq!(
        attribute(&ended, "subscription_tier").as_deref(),
        Some("trial")
    );
    assert_eq!(attribute(&ended, "stripe_subscription_id"), None);
    assert!(attribute(&ended, "subscription_end_date").is_some());
    assert_eq!(attribute(&ended, "department").as_deref(), Some("research"));
    assert_eq!(ended["email"], before["email"]);

    settle_webhooks(&world).await;
    let page = admin_sync(&world).await;
    assert_eq!(page["systems"], json!(["keycloak"]));
    assert_eq!(page["failed"], 0, "{page}");
    assert_eq!(page["dropped_attributes"], json!([]), "{page}");
}

#[tokio::test]
async fn the_dev_provider_drops_undeclared_attributes_as_keycloak_does() {
    let idp = DevIdp::start();
    let token = idp.service_token().await;
    let http = reqwest::Client::new();
    let alice = idp.user("alice").await;
    let url = format!(
        "{}/admin/realms/ops-center/users/{}",
        idp.root,
        alice["id"].as_str().unwrap()
    );
    let mut changed: Value = http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    changed["attributes"]["favourite_colour"] = json!(["teal"]);
    changed["attributes"]["subscription_tier"] = json!(["starter"]);
    let put = http
        .put(&url)
        .bearer_auth(&token)
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    let stored = idp.user("alice").await;
    assert_eq!(
        attribute(&stored, "subscription_tier").as_deref(),
        Some("starter")
    );
    assert_eq!(
        attribute(&stored, "favourite_colour"),
        None,
        "undeclared: dropped"
    );
    assert_eq!(
        attribute(&stored, "department").as_deref(),
        Some("research")
    );
    // A user token (no realm-management role) may not write users.
    let user_token = idp.password_token("alice", "alice-password").await;
    let refused = http
        .put(&url)
        .bearer_auth(user_token)
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn keycloak_down_for_a_while_is_retried_and_ends_correct_without_failing_webhooks() {
    let world = sync_world(None).await;
    let alice = world.token("alice").await;
    world.idp.admin_faults("*", 503, None).await;
    subscribe(&world, &alice, "starter", "monthly").await;
    // Every webhook was acknowledged although Keycloak is down.
    settle_webhooks(&world).await;
    let retrying = eventually("a retrying Keycloak job", || async {
        let page = admin_sync(&world).await;
        let job = page["jobs"]
            .as_array()?
            .iter()
            .find(|j| j["state"] == "retrying")?
            .clone();
        Some(job)
    })
    .await;
    assert_eq!(retrying["system"], "keycloak");
    assert!(retrying["attempts"].as_u64().unwrap() >= 1, "{retrying}");
    assert!(retrying["next_try_at"].is_string(), "{retrying}");
    assert!(
        retrying["last_error"].as_str().unwrap().contains("503"),
        "{retrying}"
    );
    assert_eq!(
        attribute(&world.idp.user("alice").await, "subscription_tier"),
        None
    );

    world.idp.clear_admin_faults().await;
    keycloak_user(&world.idp, "the starter tier once Keycloak is back", |u| {
        attribute(u, "subscription_tier").as_deref() == Some("starter")
    })
    .await;
    eventually("no open sync job", || async {
        let page = admin_sync(&world).await;
        (page["jobs"] == json!([])).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_job_whose_first_attempt_failed_half_way_is_finished_by_its_retry() {
    let lago = LagoFake::start();
    let world = sync_world(Some(&lago)).await;
    let alice = world.token("alice").await;
    // Keycloak: the read works, the write fails once.
    world.idp.admin_faults("PUT", 500, Some(1)).await;
    // Lago: the customer is written, the subscription fails once.
    lago.faults("POST", "/api/v1/subscriptions", 500, Some(1))
        .await;
    let sub = subscribe(&world, &alice, "professional", "monthly").await;
    keycloak_user(&world.idp, "the tier after a failed write", |u| {
        attribute(u, "subscription_tier").as_deref() == Some("professional")
    })
    .await;
    let state = eventually("the Lago subscription after a failed create", || async {
        let state = lago.state().await;
        let found = state["subscriptions"]
            .as_array()?
            .iter()
            .any(|s| s["external_id"] == sub.as_str() && s["plan_code"] == "professional_monthly");
        found.then_some(state)
    })
    .await;
    let customers = state["customers"].as_array().unwrap();
    assert_eq!(customers.len(), 1, "{state:#}");
    let subs = state["subscriptions"].as_array().unwrap();
    assert_eq!(subs.len(), 1, "one subscription, not two: {state:#}");
    let failed_puts = world
        .idp
        .admin_requests()
        .await
        .into_iter()
        .filter(|r| r["method"] == "PUT" && r["status"] == 500)
        .count();
    assert_eq!(failed_puts, 1);
    lago.assert_no_violations().await;
}

#[tokio::test]
async fn lago_mirrors_subscribe_upgrade_and_cancel_in_order_within_its_contract() {
    let lago = LagoFake::start();
    let world = sync_world(Some(&lago)).await;
    // The catalogue sync creates the zero-priced plans, once.
    let config = backend::Config::from_lookup(|name| world.env.get(name).cloned()).unwrap();
    let client = backend::sync::lago::Lago::new(&config).expect("Lago configured");
    let created = backend::sync::lago::sync_plans(&world.app.pool, &client)
        .await
        .unwrap();
    for plan in [
        "starter_monthly",
        "starter_yearly",
        "professional_monthly",
        "enterprise_monthly",
    ] {
        assert!(created.iter().any(|c| c == plan), "{plan} in {created:?}");
    }
    let again = backend::sync::lago::sync_plans(&world.app.pool, &client)
        .await
        .unwrap();
    assert_eq!(again, Vec::<String>::new());
    let plans = lago.state().await["plans"].clone();
    assert!(
        plans
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["amount_cents"] == 0),
        "{plans:#}"
    );
    let alice = world.token("alice").await;
    let user_id = world.user_id(&alice).await;
    let sub = subscribe(&world, &alice, "starter", "monthly").await;
    let plan_of = |state: &Value| {
        state["subscriptions"].as_array().and_then(|subs| {
            // A plan change terminates the old one and starts a new one.
            subs.iter()
                .rev()
                .find(|s| s["external_id"] == sub.as_str())
                .map(|s| {
                    (
                        s["plan_code"].as_str().unwrap_or_default().to_owned(),
                        s["status"].as_str().unwrap_or_default().to_owned(),
                    )
                })
        })
    };
    eventually("starter in Lago", || async {
        (plan_of(&lago.state().await)? == ("starter_monthly".into(), "active".into())).then_some(())
    })
    .await;
    let (code, body) = change_plan(&world, &alice, "professional", "monthly").await;
    assert_eq!(code, 200, "{body}");
    eventually("professional in Lago", || async {
        (plan_of(&lago.state().await)?.0 == "professional_monthly").then_some(())
    })
    .await;
    let (code, body) = cancel(&world, &alice, &sub, false).await;
    assert_eq!(code, 200, "{body}");
    eventually("terminated in Lago", || async {
        (plan_of(&lago.state().await)?.1 == "terminated").then_some(())
    })
    .await;
    settle_webhooks(&world).await;

    // The writes, in order: the customer first, each plan once, then the end.
    let writes: Vec<String> = lago
        .requests()
        .await
        .iter()
        .filter(|r| r["method"] != "GET" && (200..300).contains(&r["status"].as_u64().unwrap_or(0)))
        .filter_map(|r| {
            let path = r["path"].as_str()?;
            match (r["method"].as_str()?, path) {
                ("POST", "/api/v1/subscriptions") => Some(format!(
                    "subscribe {}",
                    r["body"]["subscription"]["plan_code"].as_str()?
                )),
                ("DELETE", p) if p.ends_with(&sub) => Some("terminate".to_owned()),
                ("POST", "/api/v1/plans") => None,
                ("POST", "/api/v1/customers") => Some("customer".to_owned()),
                _ => Some(format!("{} {path}", r["method"])),
            }
        })
        .collect();
    let mut deduped = writes.clone();
    deduped.dedup();
    assert_eq!(
        deduped
            .iter()
            .filter(|w| *w != "customer")
            .cloned()
            .collect::<Vec<_>>(),
        [
            "subscribe starter_monthly",
            "subscribe professional_monthly",
            "terminate"
        ],
        "{writes:?}"
    );
    assert_eq!(
        writes.first().map(String::as_str),
        Some("customer"),
        "{writes:?}"
    );
    let state = lago.state().await;
    let customer = &state["customers"][0];
    assert_eq!(customer["external_id"], user_id.as_str(), "{state:#}");
    assert_eq!(customer["email"], "alice@example.com");
    // Mirror only: Lago never collects.
    assert!(
        customer["billing_configuration"]["payment_provider"].is_null(),
        "{customer:#}"
    );
    lago.assert_no_violations().await;
}

#[tokio::test]
async fn lago_down_then_up_catches_up() {
    let lago = LagoFake::start();
    let world = sync_world(Some(&lago)).await;
    let alice = world.token("alice").await;
    lago.faults("*", "/api/v1", 503, None).await;
    let sub = subscribe(&world, &alice, "starter", "yearly").await;
    settle_webhooks(&world).await;
    eventually("a retrying Lago job", || async {
        let page = admin_sync(&world).await;
        page["jobs"]
            .as_array()?
            .iter()
            .any(|j| j["system"] == "lago" && j["state"] == "retrying")
            .then_some(())
    })
    .await;
    lago.clear_faults().await;
    eventually("the subscription in Lago", || async {
        lago.state().await["subscriptions"]
            .as_array()?
            .iter()
            .any(|s| s["external_id"] == sub.as_str() && s["plan_code"] == "starter_yearly")
            .then_some(())
    })
    .await;
    lago.assert_no_violations().await;
}

#[tokio::test]
async fn a_missing_keycloak_user_fails_with_its_reason_and_admins_retry_it() {
    let world = sync_world(None).await;
    let ghost: String = sqlx::query_scalar(
        "insert into users (keycloak_sub, email, name) values ('00000000-0000-4000-8000-00000000dead', 'ghost@example.com', 'Ghost') returning id::text",
    )
    .fetch_one(&world.app.pool)
    .await
    .unwrap();
    let admin = world.token("admin").await;
    let (code, body) = world
        .api(
            &admin,
            Method::POST,
            "/credits/admin/sync/retry",
            Some(json!({ "system": "keycloak", "user_id": ghost })),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let failed = eventually("a failed job", || async {
        let page = admin_sync(&world).await;
        page["jobs"]
            .as_array()?
            .iter()
            .find(|j| j["state"] == "failed")
            .cloned()
    })
    .await;
    assert_eq!(failed["user_id"], ghost.as_str());
    assert_eq!(failed["user_email"], "ghost@example.com");
    let reason = failed["last_error"].as_str().unwrap();
    assert!(
        reason.contains("no Keycloak user") && reason.contains("ghost@example.com"),
        "{reason}"
    );
    assert_eq!(
        failed["attempts"], 1,
        "a missing user is not retried: {failed}"
    );

    // The user's own view and the page.
    let (code, mine) = world
        .api(
            &admin,
            Method::GET,
            &format!("/credits/admin/users/{ghost}/sync"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{mine}");
    assert_eq!(mine[0]["system"], "keycloak");
    assert_eq!(mine[0]["job"]["state"], "failed");
    let (code, html, _) = world.page(Some(&admin), "/admin/credits/sync").await;
    assert_eq!(code, 200);
    assert!(
        html.contains("ghost@example.com") && html.contains("Retry all failed"),
        "{html}"
    );

    // Retry all failed: a new attempt, which fails the same way.
    let (code, body) = world
        .api(
            &admin,
            Method::POST,
            "/credits/admin/sync/retry-failed",
            None,
        )
        .await;
    assert_eq!((code, &body["retried"]), (202, &json!(1)), "{body}");
    let attempts: i64 = eventually("the second failure", || async {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from underway.task where task_queue_name = 'sync-keycloak' and state = 'failed'",
        )
        .fetch_one(&world.app.pool)
        .await
        .ok()?;
        (n == 2).then_some(n)
    })
    .await;
    assert_eq!(attempts, 2);

    // Users may not see or use any of it; a bad system is refused.
    let alice = world.token("alice").await;
    let (code, _) = world
        .api(&alice, Method::GET, "/credits/admin/sync", None)
        .await;
    assert_eq!(code, 403);
    let (code, body) = world
        .api(
            &admin,
            Method::POST,
            "/credits/admin/sync/retry",
            Some(json!({ "system": "ldap", "user_id": ghost })),
        )
        .await;
    assert_eq!((code, body["code"].as_str()), (422, Some("invalid_body")));
}

#[tokio::test]
async fn two_instances_share_the_queue_one_run_per_job_and_one_user_at_a_time() {
    let lago = LagoFake::start();
    let world = sync_world(Some(&lago)).await;
    world.another_instance().await;
    // Twelve users with a plan Lago has not heard of: a job that finds it
    // unmirrored creates it there. Two jobs of one user running at once
    // would both find it so, and create it twice.
    let mut users = Vec::new();
    for n in 0..12 {
        let id: String = sqlx::query_scalar(
            "insert into users (keycloak_sub, email, name) values ($1, $2, $3) returning id::text",
        )
        .bind(format!("load-{n}"))
        .bind(format!("load{n}@example.com"))
        .bind(format!("Load {n}"))
        .fetch_one(&world.app.pool)
        .await
        .unwrap();
        sqlx::query(
            "insert into subscriptions (stripe_subscription_id, user_id, stripe_customer_id, tier_code, \
               billing_cycle, status, started_at, state_as_of) \
             values ($1, $2::uuid, $3, 'starter', 'monthly', 'active', now(), now())",
        )
        .bind(format!("sub_load{n}"))
        .bind(&id)
        .bind(format!("cus_load{n}"))
        .execute(&world.app.pool)
        .await
        .unwrap();
        users.push(id);
    }
    let admin = world.token("admin").await;
    // Five jobs per user, all asked for at once.
    let bodies: Vec<Value> = users
        .iter()
        .flat_map(|user| std::iter::repeat_n(json!({ "system": "lago", "user_id": user }), 5))
        .collect();
    let requests = bodies.into_iter().map(|body| {
        world.api(
            &admin,
            Method::POST,
            "/credits/admin/sync/retry",
            Some(body),
        )
    });
    for (code, body) in futures_util::future::join_all(requests).await {
        assert_eq!(code, 202, "{body}");
    }
    eventually("every job done", || async {
        let open: i64 = sqlx::query_scalar(
            "select count(*) from underway.task where task_queue_name = 'sync-lago' and state <> 'succeeded'",
        )
        .fetch_one(&world.app.pool)
        .await
        .ok()?;
        (open == 0).then_some(())
    })
    .await;
    // Each task ran exactly once.
    let runs: Vec<(i64,)> = sqlx::query_as(
        "select count(a.*) from underway.task t join underway.task_attempt a \
           on a.task_queue_name = t.task_queue_name and a.task_id = t.id \
         where t.task_queue_name = 'sync-lago' group by t.id",
    )
    .fetch_all(&world.app.pool)
    .await
    .unwrap();
    assert_eq!(runs.len(), 60);
    assert!(runs.iter().all(|(n,)| *n == 1), "{runs:?}");
    // One user's jobs ran one at a time: each plan was created once.
    let creates = lago
        .requests()
        .await
        .iter()
        .filter(|r| {
            r["method"] == "POST" && r["path"] == "/api/v1/subscriptions" && r["status"] == 200
        })
        .count();
    assert_eq!(creates, 12);
    let mirrored: i64 = sqlx::query_scalar(
        "select count(*) from subscriptions where lago_plan_code = 'starter_monthly'",
    )
    .fetch_one(&world.app.pool)
    .await
    .unwrap();
    assert_eq!(mirrored, 12);
    let customers = lago.state().await["customers"].as_array().unwrap().len();
    assert_eq!(customers, 12);
    lago.assert_no_violations().await;
}

#[tokio::test]
async fn reconcile_repairs_lost_webhooks_exactly_once() {
    let lago = LagoFake::start();
    let world = sync_world(Some(&lago)).await;
    let alice = world.token("alice").await;
    // Every webhook from here on is lost, and nobody comes back to the
    // success pages.
    world.control("/webhooks/hold", json!({})).await;
    let (url, _session) =
        crate::subscriptions::start(&world, &alice, "professional", "monthly").await;
    assert_eq!(
        world
            .pay(&url, crate::support::world::CARD_OK)
            .await
            .status(),
        303
    );
    let (checkout, session) = world.buy(&alice, "starter").await;
    assert_eq!(
        world
            .pay(&checkout, crate::support::world::CARD_OK)
            .await
            .status(),
        303
    );
    assert_eq!(world.status(&session).await, "pending");
    assert_eq!(status(&world, &alice).await["has_active_plan"], false);

    let admin = world.token("admin").await;
    let (code, report) = world
        .api(&admin, Method::POST, "/credits/admin/sync/reconcile", None)
        .await;
    assert_eq!(code, 200, "{report}");
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{report}");
    assert!(
        changes
            .iter()
            .any(|c| c.as_str().unwrap().contains("subscription")),
        "{report}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c.as_str().unwrap().contains(&session)),
        "{report}"
    );
    assert_eq!(world.status(&session).await, "completed");
    let plan = status(&world, &alice).await;
    assert_eq!(
        (plan["has_active_plan"].clone(), plan["tier"].clone()),
        (json!(true), json!("professional"))
    );
    let credits = world.balance(&alice).await;
    assert_eq!(world.grants_for(&session).await, 1);

    // Again: nothing left to correct, nothing granted twice.
    let (code, again) = world
        .api(&admin, Method::POST, "/credits/admin/sync/reconcile", None)
        .await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["changes"], json!([]), "{again}");
    assert_eq!(world.balance(&alice).await, credits);
    // The lost events arrive after all: still nothing twice.
    world.control("/webhooks/release", json!({})).await;
    settle_webhooks(&world).await;
    assert_eq!(world.balance(&alice).await, credits);
    world.assert_ledger_consistent().await;
    let allowances: i64 = sqlx::query_scalar(
        "select count(*) from credit_ledger where source = 'subscription_allowance'",
    )
    .fetch_one(&world.app.pool)
    .await
    .unwrap();
    assert_eq!(allowances, 1);
    // And the repaired plan reached Lago and Keycloak.
    keycloak_user(&world.idp, "the reconciled tier in Keycloak", |u| {
        attribute(u, "subscription_tier").as_deref() == Some("professional")
    })
    .await;
    eventually("the reconciled plan in Lago", || async {
        lago.state().await["subscriptions"]
            .as_array()?
            .iter()
            .any(|s| s["plan_code"] == "professional_monthly")
            .then_some(())
    })
    .await;
    lago.assert_no_violations().await;
    // The sync page shows the last reconcile.
    let page = admin_sync(&world).await;
    assert_eq!(page["last_reconcile"]["changes"], json!([]), "{page}");
}
