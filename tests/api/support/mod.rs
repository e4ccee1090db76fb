//! Test harness: a fresh PostgreSQL database per test and the real
//! application on port 0. The server comes from `DATABASE_URL` (the test
//! script sets it), defaulting to the local server on 127.0.0.1:5432.
//! [`DevIdp`] runs the project's dev OpenID provider for identity tests;
//! [`world::World`] puts the app, the Stripe emulator and the provider together.

#![allow(dead_code)]

mod idp;
pub mod lago;
pub mod stripe;
pub mod world;

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

#[allow(unused_imports)]
pub use idp::DevIdp;

use backend::Config;
use ops_center_credits::Application;
use sqlx::{Connection, PgConnection, PgPool};
use url::Url;

/// A database that exists for one test and is dropped afterwards.
pub struct TestDatabase {
    pub url: String,
    name: String,
    maintenance_url: String,
}

impl TestDatabase {
    /// Names a new database; the app (or [`TestDatabase::migrated_pool`]) creates it.
    pub fn new() -> Self {
        let base = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut url = Url::parse(&base).expect("DATABASE_URL is a URL");
        let name = format!("occ_test_{}", uuid::Uuid::new_v4().simple());
        url.set_path(&name);
        let mut maintenance = url.clone();
        maintenance.set_path("postgres");
        TestDatabase {
            url: url.to_string(),
            name,
            maintenance_url: maintenance.to_string(),
        }
    }

    /// Creates the database and applies the migrations, as the app does at startup.
    pub async fn migrated_pool(&self) -> PgPool {
        backend::db::connect_and_migrate(&self.url)
            .await
            .expect("database setup")
    }

    /// Drops the database now, cutting every connection to it.
    pub async fn drop_now(&self) {
        drop_database(&self.maintenance_url, &self.name).await;
    }
}

impl Drop for TestDatabase {
    /// Checks the wallet's invariants one last time (after every test that
    /// had a database, unless it already failed), then drops the database.
    fn drop(&mut self) {
        let (url, name) = (self.maintenance_url.clone(), self.name.clone());
        let test_url = self.url.clone();
        let check = !std::thread::panicking();
        // Drop runs outside async; a short-lived runtime on its own thread does the work.
        let broken = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(async {
                    let broken = if check {
                        final_wallet_audit(&test_url).await
                    } else {
                        Vec::new()
                    };
                    drop_database(&url, &name).await;
                    broken
                })
        })
        .join()
        .unwrap_or_default();
        assert!(
            broken.is_empty(),
            "wallet invariants broken at the end of the test:\n{}",
            broken.join("\n")
        );
    }
}

/// The wallet audit of a test's database, if it was created and migrated.
async fn final_wallet_audit(url: &str) -> Vec<String> {
    let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
    else {
        return Vec::new();
    };
    let migrated: bool = sqlx::query_scalar("select to_regclass('wallet_epoch') is not null")
        .fetch_one(&pool)
        .await
        .unwrap_or(false);
    let broken = if migrated {
        backend::wallet::audit::violations(&pool)
            .await
            .unwrap_or_else(|e| vec![format!("the audit could not run: {e}")])
    } else {
        Vec::new()
    };
    pool.close().await;
    broken
}

async fn drop_database(maintenance_url: &str, name: &str) {
    if let Ok(mut conn) = PgConnection::connect(maintenance_url).await {
        let statement = format!(
            "drop database if exists {} with (force)",
            backend::db::quote_identifier(name)
        );
        let _ = sqlx::raw_sql(&statement).execute(&mut conn).await;
    }
}

/// The wallet's invariants (`backend::wallet::audit`) hold across the
/// database: balances, grants, debits, debts and holds agree.
pub async fn assert_wallet_consistent(pool: &PgPool) {
    let broken = backend::wallet::audit::violations(pool)
        .await
        .expect("wallet audit queries");
    assert!(
        broken.is_empty(),
        "wallet invariants broken:\n{}",
        broken.join("\n")
    );
}

/// Cases for a database property test: `PROPTEST_CASES` when set (a longer
/// soak by hand, `PROPTEST_CASES=1000 cargo test … the_database_wallet`),
/// else `default`, which keeps the test command's run short.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default)
}

/// A connection no other test code has used, for reading
/// `pg_stat_xact_user_tables`: on PostgreSQL 15 those also count what
/// earlier transactions of the same backend have not yet reported.
pub async fn fresh_connection(pool: &PgPool) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect_with(&pool.connect_options())
        .await
        .expect("connect")
}

/// Rows the current transaction has inserted into and updated in `table`.
pub async fn writes_so_far(conn: &mut sqlx::PgConnection, table: &str) -> (i64, i64) {
    sqlx::query_as("select n_tup_ins, n_tup_upd from pg_stat_xact_user_tables where relname = $1")
        .bind(table)
        .fetch_one(conn)
        .await
        .expect("table statistics")
}

/// Environment for a complete, valid configuration pointing at `database_url`.
pub fn test_env(database_url: &str) -> HashMap<String, String> {
    [
        ("DATABASE_URL", database_url),
        ("LEPTOS_SITE_ADDR", "127.0.0.1:0"),
        ("APP_BASE_URL", "http://127.0.0.1:3000"),
        ("STRIPE_SECRET_KEY", "sk_test_integration"),
        ("STRIPE_WEBHOOK_SECRET_CREDITS", "whsec_test_credits"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_test_subscriptions"),
        ("OIDC_ISSUER_URL", "http://127.0.0.1:9/realms/test"),
        ("OIDC_CLIENT_ID", "ops-center-credits"),
        ("OIDC_CLIENT_SECRET", "test-client-secret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub pool: PgPool,
    /// The instance's work that outlives its requests' clients.
    pub detached: backend::detach::Detached,
    pub db: TestDatabase,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }
}

/// Starts the real application on a port of its own (bound on port 0)
/// against a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with the environment adjusted by `configure` first.
/// `APP_BASE_URL` is the address the app really listens on.
pub async fn spawn_app_with(configure: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    let db = TestDatabase::new();
    let mut env = test_env(&db.url);
    // Bound here, before the configuration that must name the address.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a listener on port 0");
    let port = listener.local_addr().expect("bound").port();
    env.insert("LEPTOS_SITE_ADDR".into(), format!("127.0.0.1:{port}"));
    env.insert("APP_BASE_URL".into(), format!("http://127.0.0.1:{port}"));
    configure(&mut env);
    let config =
        Config::from_lookup(|name| env.get(name).cloned()).expect("valid test configuration");
    let app = Application::build_on(config, listener)
        .await
        .expect("application starts");
    let address = format!("http://{}", app.local_addr());
    let pool = app.state().pool.clone();
    let detached = app.state().detached.clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: http_client(),
        pool,
        detached,
        db,
    }
}

/// Runs `node <script> <args>` from the repository and waits (30 s at
/// most) for the stdout line starting with `ready_prefix`; returns the
/// child and the rest of that line (the tool's URL).
pub fn spawn_node(script: &str, args: &[&str], ready_prefix: &'static str) -> (Child, String) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("node")
        .arg(repo.join(script))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("node runs {script} (npm ci in its directory first): {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix(ready_prefix) {
                let _ = tx.send(rest.trim().to_owned());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(url) => (child, url),
        Err(_) => {
            let _ = child.kill();
            panic!("{script} did not print its ready line within 30 s");
        }
    }
}

/// An HTTP client that never follows redirects (tests look at each hop).
/// A request that never answers fails its test after a minute, naming its
/// URL, rather than hanging the run (a CI run once hung on one of these).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}
