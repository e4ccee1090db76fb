//! Login, sessions, bearer tokens and roles against the real dev OpenID
//! provider (tools/dev-idp, one per test) and a fresh database.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::support::{DevIdp, TestApp, spawn_app_with};
use reqwest::{
    StatusCode,
    cookie::{CookieStore, Jar},
    header::LOCATION,
};
use serde_json::{Value, json};
use url::Url;

const BALANCE: &str = "/api/v1/billing/credits/balance";
const ADMIN_PURCHASES: &str = "/api/v1/billing/credits/admin/purchases";

async fn app_with_idp() -> (TestApp, DevIdp) {
    let idp = DevIdp::start();
    let app = spawn_app_with(|env| idp.configure(env)).await;
    (app, idp)
}

async fn get_with_token(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request sent")
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("JSON error body");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "no detail in {body}"
    );
    body["code"].as_str().expect("code").to_owned()
}

// --- bearer tokens -----------------------------------------------------------

#[tokio::test]
async fn a_password_grant_token_is_accepted_by_the_api() {
    let (app, idp) = app_with_idp().await;
    let token = idp.password_token("alice", "alice-password").await;

    let response = get_with_token(&app, BALANCE, &token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["balance"], 0);
    assert_eq!(body["email"], "alice@example.com");

    // The user was recorded under their Keycloak subject; credits show up.
    let user_id: uuid::Uuid = sqlx::query_scalar("select id from users where keycloak_sub = $1")
        .bind("4b1e9f62-3a7c-4d28-8e5f-6c0a1b2d3e41")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(body["user_id"], user_id.to_string());
    sqlx::query(
        "insert into credit_ledger (user_id, amount, source, reference) values ($1, 1500, 'adjustment', 'test-grant')",
    )
    .bind(user_id)
    .execute(&app.pool)
    .await
    .unwrap();
    let body: Value = get_with_token(&app, BALANCE, &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["balance"], 1500);
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 1, "repeated calls must not create users");
}

#[tokio::test]
async fn missing_expired_foreign_and_misdirected_tokens_get_401() {
    let (app, idp) = app_with_idp().await;

    let anonymous = app.get(BALANCE).await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(error_code(anonymous).await, "not_authenticated");

    let cases = [
        (
            "expired",
            json!({"username": "alice", "claims": {"exp": 1_700_000_000}}),
        ),
        (
            "signed by another key",
            json!({"username": "alice", "key": "foreign"}),
        ),
        (
            "another issuer",
            json!({"username": "alice", "claims": {"iss": "http://127.0.0.1:1/realms/other"}}),
        ),
        (
            "another client (azp)",
            json!({"username": "alice", "claims": {"azp": "someone-else"}}),
        ),
        (
            "no azp",
            json!({"username": "alice", "claims": {"azp": null}}),
        ),
        (
            "an ID token's type",
            json!({"username": "alice", "claims": {"typ": "ID"}}),
        ),
        (
            "no typ",
            json!({"username": "alice", "claims": {"typ": null}}),
        ),
    ];
    for (what, request) in cases {
        let token = idp.mint(request).await;
        let response = get_with_token(&app, BALANCE, &token).await;
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(error_code(response).await, "invalid_token", "{what}");
    }
    for garbage in ["not-a-jwt", "a.b.c"] {
        let response = get_with_token(&app, BALANCE, garbage).await;
        assert_eq!(response.status(), 401, "{garbage}");
    }
    // The control: a minted token with nothing changed is fine.
    let good = idp.mint(json!({"username": "alice"})).await;
    assert_eq!(get_with_token(&app, BALANCE, &good).await.status(), 200);
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 1, "refused tokens must not create users");
}

#[tokio::test]
async fn an_id_token_is_not_accepted_as_a_bearer_token() {
    let (app, idp) = app_with_idp().await;
    let (access, id) = idp.password_tokens("alice", "alice-password").await;
    // Same issuer, signing key, `azp` and user: only Keycloak's `typ` tells them apart.
    let response = get_with_token(&app, BALANCE, &id).await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "invalid_token");
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 0, "a refused token must not create a user");

    let response = get_with_token(&app, BALANCE, &access).await;
    assert_eq!(response.status(), 200, "the access token still works");
    assert_eq!(
        response.json::<Value>().await.unwrap()["email"],
        "alice@example.com"
    );
}

#[tokio::test]
async fn the_admin_route_needs_the_admin_role() {
    let (app, idp) = app_with_idp().await;
    assert_eq!(app.get(ADMIN_PURCHASES).await.status(), 401);

    let alice = idp.password_token("alice", "alice-password").await;
    let response = get_with_token(&app, ADMIN_PURCHASES, &alice).await;
    assert_eq!(response.status(), 403);
    assert_eq!(error_code(response).await, "forbidden");

    // Alice buys something (recorded directly), then the admin lists it.
    let body: Value = get_with_token(&app, BALANCE, &alice)
        .await
        .json()
        .await
        .unwrap();
    let alice_id: uuid::Uuid = body["user_id"].as_str().unwrap().parse().unwrap();
    for (session, status) in [("cs_test_1", "completed"), ("cs_test_2", "pending")] {
        sqlx::query(
            "insert into credit_purchases (user_id, package_code, package_name, amount_credits,
                 amount_paid_cents, status, stripe_checkout_session_id)
             values ($1, 'standard', 'Standard Pack', 5000, 4500, $2, $3)",
        )
        .bind(alice_id)
        .bind(status)
        .bind(session)
        .execute(&app.pool)
        .await
        .unwrap();
    }

    let admin = idp.password_token("admin", "admin-password").await;
    let response = get_with_token(&app, ADMIN_PURCHASES, &admin).await;
    assert_eq!(response.status(), 200);
    let rows: Vec<Value> = response.json().await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["user_email"], "alice@example.com");
    assert_eq!(rows[0]["amount_paid"], 45.0);
    assert_eq!(rows[0]["amount_credits"], 5000);

    let completed: Vec<Value> = get_with_token(
        &app,
        &format!("{ADMIN_PURCHASES}?status=completed&limit=10&offset=0"),
        &admin,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0]["stripe_session_id"], "cs_test_1");

    for bad in [
        "?status=bogus",
        "?limit=0",
        "?limit=501",
        "?offset=-1",
        "?limit=ten",
    ] {
        let response = get_with_token(&app, &format!("{ADMIN_PURCHASES}{bad}"), &admin).await;
        assert_eq!(response.status(), 422, "{bad}");
        assert_eq!(error_code(response).await, "invalid_query", "{bad}");
    }
}

#[tokio::test]
async fn a_provider_key_rotation_is_picked_up() {
    let (app, idp) = app_with_idp().await;
    let before = idp.password_token("alice", "alice-password").await;
    assert_eq!(get_with_token(&app, BALANCE, &before).await.status(), 200);

    let (new_kid, old_kid) = idp.rotate_keys(false).await;
    assert_ne!(new_kid, old_kid);
    // Unknown kids refetch the JWKS at most every 2 s.
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let after = idp.password_token("alice", "alice-password").await;
    assert_eq!(
        get_with_token(&app, BALANCE, &after).await.status(),
        200,
        "a token signed by the new key must be accepted"
    );
    assert_eq!(
        get_with_token(&app, BALANCE, &before).await.status(),
        401,
        "the removed key must no longer be trusted"
    );
}

#[tokio::test]
async fn a_slow_jwks_refetch_holds_up_no_known_key_and_runs_once() {
    const DELAY: Duration = Duration::from_secs(4);
    const JUNK: usize = 8;
    let (app, idp) = app_with_idp().await;
    let alice = idp.password_token("alice", "alice-password").await;
    let mut junk = Vec::new();
    for i in 0..JUNK {
        junk.push(
            idp.mint(json!({"username": "bob", "kid": format!("junk-kid-{i}")}))
                .await,
        );
    }
    // Discovery and the first JWKS fetch; then wait out the 2 s an unknown
    // kid has to wait before it may refetch.
    assert_eq!(get_with_token(&app, BALANCE, &alice).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let before = idp.delay_jwks(DELAY).await;
    let started = Instant::now();
    let junk_calls: Vec<_> = junk
        .into_iter()
        .map(|token| {
            let (client, url) = (app.client.clone(), app.url(BALANCE));
            tokio::spawn(async move { client.get(url).bearer_auth(token).send().await })
        })
        .collect();
    // The app's refetch has reached the provider, which holds the answer back.
    while idp.jwks_requests().await == before {
        assert!(
            started.elapsed() < DELAY,
            "no JWKS refetch for the unknown kids"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let checked = Instant::now();
    let response = get_with_token(&app, BALANCE, &alice).await;
    let took = checked.elapsed();
    assert_eq!(response.status(), 200);
    assert!(
        took < Duration::from_secs(2),
        "a token with a known kid waited {took:?} for the JWKS refetch"
    );
    assert!(
        started.elapsed() < DELAY,
        "the machine is too slow for this test: the refetch was over before the check"
    );

    for call in junk_calls {
        let response = call.await.unwrap().unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(error_code(response).await, "invalid_token");
    }
    assert_eq!(
        idp.jwks_requests().await,
        before + 1,
        "{JUNK} concurrent unknown kids cause one JWKS fetch"
    );
    idp.delay_jwks(Duration::ZERO).await;
    assert_eq!(get_with_token(&app, BALANCE, &alice).await.status(), 200);
}

// --- the browser's code flow -----------------------------------------------

/// A browser: a cookie jar and no automatic redirects.
struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
}

impl Browser {
    fn new() -> Browser {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        Browser { client, jar }
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.client.get(url).send().await.unwrap()
    }

    /// The value of the app's session cookie, if any.
    fn session_id(&self, app: &TestApp) -> Option<String> {
        let url = Url::parse(&app.address).unwrap();
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|c| c.strip_prefix("occ_session=").map(str::to_owned))
    }

    /// `/auth/login?next=…` → the provider's page → credentials → the URL the
    /// provider sends the browser back to (the app's callback, not yet visited).
    async fn login_until_callback(
        &self,
        app: &TestApp,
        idp: &DevIdp,
        next: &str,
        username: &str,
        password: &str,
    ) -> Url {
        let start = self
            .get(&app.url(&format!("/auth/login?next={next}")))
            .await;
        assert_eq!(start.status(), StatusCode::SEE_OTHER);
        let mut url = location(&start, &app.address);
        assert!(
            url.as_str().starts_with(&idp.issuer),
            "login goes to the provider: {url}"
        );
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let has = |k: &str, v: Option<&str>| {
            query
                .iter()
                .any(|(key, value)| key == k && v.is_none_or(|v| v == value))
        };
        assert!(has("code_challenge_method", Some("S256")) && has("code_challenge", None));
        assert!(has("state", None) && has("nonce", None));
        assert!(has("redirect_uri", Some(&app.url("/auth/callback"))));

        // The provider redirects to its login page.
        let mut response = self.get(url.as_str()).await;
        while response.status().is_redirection() {
            url = location(&response, &idp.root);
            response = self.get(url.as_str()).await;
        }
        assert_eq!(response.status(), 200);
        let page = response.text().await.unwrap();
        let action = page
            .split(r#"<form id="kc-form-login""#)
            .nth(1)
            .and_then(|rest| rest.split(r#"action=""#).nth(1))
            .and_then(|rest| rest.split('"').next())
            .expect("the provider's login form")
            .replace("&amp;", "&");
        let action = url.join(&action).unwrap();
        let mut response = self
            .client
            .post(action)
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .unwrap();
        loop {
            assert!(
                response.status().is_redirection(),
                "expected a redirect, got {}",
                response.status()
            );
            let next = location(&response, &idp.root);
            if next.as_str().starts_with(&app.address) {
                return next;
            }
            response = self.get(next.as_str()).await;
        }
    }

    /// A complete login; returns the app's answer to the callback.
    async fn login(
        &self,
        app: &TestApp,
        idp: &DevIdp,
        next: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        let callback = self
            .login_until_callback(app, idp, next, username, password)
            .await;
        self.get(callback.as_str()).await
    }

    async fn home(&self, app: &TestApp) -> String {
        let response = self.get(&app.url("/")).await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }
}

fn location(response: &reqwest::Response, base: &str) -> Url {
    let value = response
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location on a {} answer", response.status()))
        .to_str()
        .unwrap();
    Url::parse(base).unwrap().join(value).unwrap()
}

fn with_param(url: &Url, name: &str, value: &str) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != name)
        .collect();
    let mut url = url.clone();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair(name, value);
    url
}

#[tokio::test]
async fn a_browser_logs_in_through_the_provider_and_out_again() {
    let (app, idp) = app_with_idp().await;
    let browser = Browser::new();
    let anonymous_page = browser.home(&app).await;
    assert!(anonymous_page.contains("Log in") && anonymous_page.contains("/auth/login"));
    assert!(!anonymous_page.contains("Alice Anderson"));

    let callback = browser
        .login_until_callback(&app, &idp, "/credits", "alice", "alice-password")
        .await;
    let before = browser
        .session_id(&app)
        .expect("a session holds the login state");
    let response = browser.get(callback.as_str()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/credits");
    let after = browser.session_id(&app).expect("a session after login");
    assert_ne!(before, after, "the session id must change at login");
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("occ_session="))
        .expect("session cookie set");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain-HTTP base URL: {cookie}");

    let page = browser.home(&app).await;
    assert!(page.contains("Alice Anderson"), "the header names the user");
    assert!(page.contains(r#"action="/auth/logout""#), "a logout button");
    assert!(!page.contains("admin-link"), "alice is no admin");
    let balance = browser.get(&app.url(BALANCE)).await;
    assert_eq!(
        balance.status(),
        200,
        "the session cookie authenticates the API"
    );
    assert_eq!(
        balance.json::<Value>().await.unwrap()["email"],
        "alice@example.com"
    );

    // Log out: the local session ends, then the provider's.
    let response = browser
        .client
        .post(app.url("/auth/logout"))
        .header("origin", &app.address)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let end_session = location(&response, &app.address);
    assert!(
        end_session
            .as_str()
            .starts_with(&format!("{}/protocol/openid-connect/logout", idp.issuer)),
        "{end_session}"
    );
    let params: Vec<(String, String)> = end_session.query_pairs().into_owned().collect();
    assert!(params.iter().any(|(k, _)| k == "id_token_hint"));
    assert!(
        params
            .iter()
            .any(|(k, v)| k == "post_logout_redirect_uri" && *v == app.url("/"))
    );
    let provider = browser.get(end_session.as_str()).await;
    assert!(provider.status().is_redirection());
    assert_eq!(location(&provider, &idp.root).as_str(), app.url("/"));

    assert_eq!(browser.get(&app.url(BALANCE)).await.status(), 401);
    let page = browser.home(&app).await;
    assert!(!page.contains("Alice Anderson") && page.contains("Log in"));
    let sessions: i64 = sqlx::query_scalar("select count(*) from tower_sessions.session")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0, "the session was deleted from the store");

    // Logged out at the provider too: a new login shows its form again
    // (login_until_callback fails if the provider skips the page).
    browser
        .login_until_callback(&app, &idp, "/", "alice", "alice-password")
        .await;
}

#[tokio::test]
async fn an_admin_sees_the_admin_link() {
    let (app, idp) = app_with_idp().await;
    let browser = Browser::new();
    let response = browser
        .login(&app, &idp, "/", "admin", "admin-password")
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = browser.home(&app).await;
    assert!(page.contains("Ada Admin") && page.contains("admin-link"));
    assert!(page.contains(r#"href="/admin/credits""#));
    assert_eq!(browser.get(&app.url(ADMIN_PURCHASES)).await.status(), 200);
}

#[tokio::test]
async fn the_callback_refuses_a_wrong_state() {
    let (app, idp) = app_with_idp().await;
    let browser = Browser::new();
    let callback = browser
        .login_until_callback(&app, &idp, "/", "alice", "alice-password")
        .await;
    let forged = with_param(&callback, "state", "forged-state");
    let response = browser.get(forged.as_str()).await;
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains(r#"data-code="invalid_state""#)
    );
    assert_eq!(browser.get(&app.url(BALANCE)).await.status(), 401);

    // The login attempt is spent: the genuine answer is refused afterwards too.
    let response = browser.get(callback.as_str()).await;
    assert_eq!(response.status(), 400);
    assert_eq!(browser.get(&app.url(BALANCE)).await.status(), 401);
}

#[tokio::test]
async fn the_callback_refuses_a_replayed_code() {
    let (app, idp) = app_with_idp().await;
    let victim = Browser::new();
    let callback = victim
        .login_until_callback(&app, &idp, "/", "alice", "alice-password")
        .await;
    assert_eq!(
        victim.get(callback.as_str()).await.status(),
        StatusCode::SEE_OTHER
    );
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();

    // The same answer again: the login was completed already.
    assert_eq!(victim.get(callback.as_str()).await.status(), 400);

    // Someone else starts a login and presents the used code with their own state.
    let attacker = Browser::new();
    let start = attacker.get(&app.url("/auth/login")).await;
    let state = location(&start, &app.address)
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let replay = with_param(&with_param(&callback, "state", &state), "code", &code);
    let response = attacker.get(replay.as_str()).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("login_refused"));
    assert_eq!(attacker.get(&app.url(BALANCE)).await.status(), 401);
    assert!(!attacker.home(&app).await.contains("Alice Anderson"));
}

#[tokio::test]
async fn login_returns_only_to_paths_on_this_site() {
    let (app, idp) = app_with_idp().await;
    // `next` as it stands in the login URL's query (so `%2e` reaches the app
    // as `.`, and `%252e` as `%2e`); the answer is the final Location after
    // the provider's callback.
    for (next, expected) in [
        ("https://evil.example/", "/"),
        ("https:%2F%2Fevil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/%2F%2Fevil.example", "/"),
        // Dot segments that leave `//evil.example` once normalised.
        ("/.//evil.example", "/"),
        ("/..//evil.example", "/"),
        ("/%2e//evil.example", "/"),
        ("/%2e%2e//evil.example", "/"),
        ("/%252e//evil.example", "/"),
        ("/%252e%252e//evil.example", "/"),
        ("/credits/..//evil.example", "/"),
        ("/credits/../..//evil.example/x?y=1", "/"),
        // Backslashes, which browsers read as slashes.
        ("/%5Cevil.example", "/"),
        ("/%5C%5Cevil.example", "/"),
        ("/.%5C/evil.example", "/"),
        ("/%255cevil.example", "/"),
        ("/%252F%252Fevil.example", "/"),
        // Tabs and newlines, which browsers drop.
        ("/%09/evil.example", "/"),
        ("/%0A/evil.example", "/"),
        ("/%0D%0A/evil.example", "/"),
        ("%09//evil.example", "/"),
        // Not a path at all.
        ("evil.example", "/"),
        ("javascript:alert(1)", "/"),
        // Paths on this site survive, normalised.
        ("/credits%3Fpage%3D2", "/credits?page=2"),
        ("/admin/../credits", "/credits"),
        ("/./credits", "/credits"),
    ] {
        let browser = Browser::new();
        let response = browser
            .login(&app, &idp, next, "alice", "alice-password")
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(response.headers()[LOCATION], expected, "{next}");
    }
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let (app, idp) = app_with_idp().await;
    let browser = Browser::new();
    browser
        .login(&app, &idp, "/", "alice", "alice-password")
        .await;

    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("origin", "null"),
    ] {
        let response = browser
            .client
            .post(app.url("/auth/logout"))
            .header(header, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{header}: {value}");
        assert_eq!(error_code(response).await, "cross_site_request");
        // A server function too.
        let response = browser
            .client
            .post(app.url("/api/current_user"))
            .header(header, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "server function, {header}: {value}");
    }
    assert!(
        browser.home(&app).await.contains("Alice Anderson"),
        "still logged in"
    );

    // A script with a bearer token and no cookies is not a browser: not refused.
    let token = idp.password_token("alice", "alice-password").await;
    let response = app
        .client
        .post(app.url(BALANCE))
        .bearer_auth(&token)
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert_ne!(response.status(), 403);
}

/// A signed-in view of `/credits` through the session cookie writes
/// nothing (issue #13: it once committed four times): it answers while
/// another transaction holds every table of the app against writers.
#[tokio::test]
async fn a_signed_in_page_view_writes_nothing() {
    let (app, idp) = app_with_idp().await;
    let browser = Browser::new();
    browser
        .login(&app, &idp, "/", "alice", "alice-password")
        .await;

    let mut locker = app.pool.acquire().await.unwrap().detach();
    let tables: Vec<String> = sqlx::query_scalar(
        "select format('%I.%I', schemaname, tablename) from pg_tables \
         where schemaname in ('public', 'tower_sessions')",
    )
    .fetch_all(&mut locker)
    .await
    .unwrap();
    assert!(tables.len() > 10, "{tables:?}");
    sqlx::raw_sql(&format!(
        "begin; lock table {} in exclusive mode",
        tables.join(", ")
    ))
    .execute(&mut locker)
    .await
    .unwrap();
    let view = tokio::time::timeout(Duration::from_secs(5), async {
        let response = browser.get(&app.url("/credits")).await;
        (response.status(), response.text().await.unwrap())
    })
    .await;
    sqlx::raw_sql("rollback")
        .execute(&mut locker)
        .await
        .unwrap();
    let (status, page) = view.expect("the page view waited on a write lock");
    assert_eq!(status, 200);
    assert!(page.contains("Alice Anderson"), "signed in");
}

/// `GET /auth/logout` (a link, a typed address) logs out as the button
/// does; a link on another site only gets a page with the button.
#[tokio::test]
async fn a_logout_link_logs_out_unless_another_site_sent_it() {
    let (app, idp) = app_with_idp().await;
    let browser = Browser::new();
    browser
        .login(&app, &idp, "/", "alice", "alice-password")
        .await;

    let response = browser
        .client
        .get(app.url("/auth/logout"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(
        page.contains(r#"<form method="post" action="/auth/logout">"#),
        "{page}"
    );
    assert_eq!(
        browser.get(&app.url(BALANCE)).await.status(),
        200,
        "still logged in"
    );

    for site in [Some("same-origin"), None] {
        let mut request = browser.client.get(app.url("/auth/logout"));
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{site:?}");
        let target = location(&response, &app.address);
        if site.is_some() {
            // Logged in: on to the provider's end-session endpoint.
            assert!(
                target
                    .as_str()
                    .starts_with(&format!("{}/protocol/openid-connect/logout", idp.issuer)),
                "{target}"
            );
        } else {
            // Already logged out: home.
            assert_eq!(target.as_str(), app.url("/"));
        }
        assert_eq!(browser.get(&app.url(BALANCE)).await.status(), 401);
    }
}

#[tokio::test]
async fn the_app_runs_while_the_provider_is_down() {
    // The default test configuration points at a closed port.
    let app = crate::support::spawn_app().await;
    assert_eq!(app.get("/").await.status(), 200);
    assert_eq!(app.get(BALANCE).await.status(), 401);
    let response = app.get("/auth/login").await;
    assert_eq!(response.status(), 503);
    let response = app
        .client
        .get(app.url(BALANCE))
        .bearer_auth("a.b.c")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}
