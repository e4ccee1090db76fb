//! The real application boots on port 0 and answers its pages and probes.

use std::process::Command;

use crate::support::{TestDatabase, spawn_app, spawn_app_with, test_env};

#[tokio::test]
async fn the_home_page_lists_the_active_packages_from_the_database() {
    let app = spawn_app().await;
    sqlx::query("update credit_packages set is_active = false where package_code = 'enterprise'")
        .execute(&app.pool)
        .await
        .unwrap();

    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    for text in [
        "Starter Pack",
        "$10.00",
        "Standard Pack",
        "$45.00",
        "Save 10%",
        "Pro Pack",
        "Popular",
        "$8.00 per 1,000 credits",
    ] {
        assert!(html.contains(text), "{text:?} missing from the page");
    }
    assert!(
        !html.contains("Enterprise Pack"),
        "an inactive package is on sale"
    );
    assert!(
        html.contains("/pkg/ops-center-credits.css"),
        "stylesheet link missing"
    );
    assert!(
        html.contains("ops-center-credits.js"),
        "hydration script missing"
    );
}

/// A static file served while other visitors' pages render answers with
/// its own status and headers. leptos_axum's file handler once took them
/// from whichever page's render was current on its worker thread: a wasm
/// file answered 403 beside a refused admin page (src/reactive_owner.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_and_pages_served_together_keep_their_own_status_and_headers() {
    let site = tempfile::tempdir().unwrap();
    let wasm: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    std::fs::create_dir(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("pkg/probe.wasm"), &wasm).unwrap();
    let root = site.path().to_str().unwrap().to_owned();
    let app = spawn_app_with(|env| {
        env.insert("LEPTOS_SITE_ROOT".into(), root);
    })
    .await;
    const ROUNDS: usize = 150;

    // Anonymous visitors of /credits are sent to log in: a 302 whose
    // Location comes from the page's render.
    let pages = (0..4).map(|_| {
        let (client, url) = (app.client.clone(), app.url("/credits"));
        tokio::spawn(async move {
            for _ in 0..ROUNDS {
                let response = client.get(&url).send().await.unwrap();
                assert_eq!(response.status(), 302);
                let location = response.headers().get("location").cloned();
                assert!(
                    location.is_some_and(|l| l.to_str().unwrap().starts_with("/auth/login")),
                    "a redirect lost its Location"
                );
            }
        })
    });
    let files = (0..4).map(|_| {
        let (client, url, wasm) = (app.client.clone(), app.url("/pkg/probe.wasm"), wasm.clone());
        tokio::spawn(async move {
            for _ in 0..ROUNDS {
                let response = client.get(&url).send().await.unwrap();
                assert_eq!(response.status(), 200, "{:?}", response.headers());
                assert!(!response.headers().contains_key("location"));
                assert_eq!(response.bytes().await.unwrap(), wasm);
            }
        })
    });
    for task in pages.chain(files).collect::<Vec<_>>() {
        task.await.unwrap();
    }
}

/// Building another application in the same process never stalls the pages
/// of one already serving. Generating the route list runs the app under
/// leptos_server's `SuppressResourceLoad`, a process-wide flag: a resource
/// of any render first polled while it was set waited for ever
/// (leptos-rs/leptos#4773), and pages of the tests' apps hung beside other
/// tests starting theirs. The list is now generated once a process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn building_another_instance_never_stalls_the_pages_of_one_serving() {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };

    let app = spawn_app().await;
    let stop = Arc::new(AtomicBool::new(false));
    let pages = (0..4).map(|_| {
        let (client, url, stop) = (app.client.clone(), app.url("/"), stop.clone());
        tokio::spawn(async move {
            let mut served = 0;
            while !stop.load(Ordering::Relaxed) {
                let response = tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    client.get(&url).send(),
                )
                .await
                .expect("a page stalled while another instance was built")
                .unwrap();
                assert_eq!(response.status(), 200);
                response.text().await.unwrap();
                served += 1;
            }
            served
        })
    });
    let pages: Vec<_> = pages.collect();
    for _ in 0..20 {
        let mut env = test_env(&app.db.url);
        env.insert("LEPTOS_SITE_ADDR".into(), "127.0.0.1:0".into());
        let config = backend::Config::from_lookup(|name| env.get(name).cloned()).unwrap();
        drop(
            ops_center_credits::Application::build(config)
                .await
                .unwrap(),
        );
    }
    stop.store(true, Ordering::Relaxed);
    for task in pages {
        assert!(task.await.unwrap() > 0);
    }
}

#[tokio::test]
async fn an_unknown_page_is_a_404() {
    let app = spawn_app().await;
    let response = app.get("/no-such-page").await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let app = spawn_app().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["status"],
        "ready"
    );
}

#[tokio::test]
async fn readyz_fails_when_the_database_is_unreachable() {
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    app.db.drop_now().await;

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["code"], "database_unavailable");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    // The process itself is still up.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

/// Runs the real binary with `env` only; returns its exit code and stderr.
fn run_server(env: &std::collections::HashMap<String, String>) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ops-center-credits"))
        .env_clear()
        .envs(env)
        .current_dir(std::env::temp_dir())
        .output()
        .expect("server binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_bad_configuration_value_fails_startup_naming_the_variable() {
    let db = TestDatabase::new();
    let cases = [
        ("STRIPE_SECRET_KEY", Some("pk_live_oops")),
        ("APP_BASE_URL", Some("not a url")),
        ("STRIPE_WEBHOOK_SECRET_CREDITS", Some("hunter2")),
        ("LEPTOS_SITE_ADDR", Some("everywhere")),
        ("OIDC_CLIENT_ID", None),
        ("DATABASE_URL", None),
    ];
    for (variable, value) in cases {
        let mut env = test_env(&db.url);
        match value {
            Some(value) => env.insert(variable.to_owned(), value.to_owned()),
            None => env.remove(variable),
        };
        let (code, stderr) = run_server(&env);
        assert_eq!(
            code,
            Some(2),
            "{variable}: expected exit code 2, stderr: {stderr}"
        );
        assert!(
            stderr.contains(variable),
            "{variable} not named in: {stderr}"
        );
        assert!(
            !stderr.contains("test-client-secret"),
            "a secret was printed: {stderr}"
        );
    }
}

#[test]
fn an_unreachable_database_fails_startup_with_a_clear_message() {
    let mut env = test_env("postgres://postgres@127.0.0.1:9/credits");
    env.insert("RUST_LOG".into(), "off".into());
    let (code, stderr) = run_server(&env);
    assert_eq!(code, Some(1), "stderr: {stderr}");
    assert!(stderr.contains("database setup failed"), "stderr: {stderr}");
}

#[tokio::test]
async fn a_page_whose_data_cannot_be_read_says_so_with_its_status() {
    let app = spawn_app().await;
    app.db.drop_now().await;
    let response = app
        .client
        .get(app.url("/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let html = response.text().await.unwrap();
    // In the app's layout, saying what happened and what to do, with the
    // status of the error it shows (not 200).
    let code = match status {
        500 => "internal_error",
        503 => "database_unavailable",
        other => panic!("{other}: {html}"),
    };
    assert!(html.contains(&format!(r#"data-error="{code}""#)), "{html}");
    assert!(html.contains("Try again"));
    assert!(html.contains(r#"id="theme""#));
}
