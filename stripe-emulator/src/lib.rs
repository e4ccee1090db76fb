//! A Stripe-compatible emulator for development and tests.
//!
//! It speaks enough of Stripe's REST API (under `/v1`) for the app's `async-stripe` client, hosts
//! a Checkout pay page and a billing-portal page, and delivers webhooks signed as Stripe signs
//! them. Test controls live under `/_emulator/`. State is in memory.
//!
//! It shares no code with the app: its own form parser, its own signing, its own JSON shapes.
//!
//! Where things are:
//! - `api`: the `/v1` route table, authentication and `Idempotency-Key` replay;
//! - `resources/`: one file per Stripe resource (`products`, `prices`, `customers`,
//!   `checkout_sessions`, `payment_methods`, `payment_intents`, `charges`, `refunds`, `disputes`,
//!   `subscriptions`, `invoices`, `billing_portal`, `events`) with its `/v1` handlers and what
//!   Stripe does to it, e.g. how a charge is refunded is in `resources/refunds.rs`, how a
//!   subscription is invoiced (prorations, pending items, previews, paying) in
//!   `resources/invoices.rs`;
//! - `cards`: the test cards and how each behaves;
//! - `pages`: the hosted Checkout pay page, billing portal and hosted invoice page;
//! - `control`: the `/_emulator/` test controls;
//! - `webhooks`: signing and delivering events;
//! - `store`: the in-memory objects, events and endpoints; `seed`: the `--seed` catalogue;
//! - `form`, `params`, `error`: Stripe's form encoding, parameters and error shape.

#![recursion_limit = "512"]

pub mod api;
pub mod cards;
pub mod control;
pub mod error;
pub mod form;
pub mod pages;
pub mod params;
pub mod resources;
pub mod seed;
pub mod store;
pub mod webhooks;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use store::Store;

/// One webhook endpoint as configured on the command line: `url|whsec_secret[|type,type2]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointConfig {
    pub url: String,
    pub secret: String,
    /// `None` (or a list containing `*`) means every event type.
    pub events: Option<Vec<String>>,
}

impl FromStr for EndpointConfig {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('|');
        let url = parts.next().unwrap_or("").trim().to_owned();
        let secret = parts.next().unwrap_or("").trim().to_owned();
        let events = parts.next().map(|list| {
            list.split(',')
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
        });
        if parts.next().is_some() {
            return Err(format!(
                "webhook `{s}`: expected url|whsec_secret[|type,type]"
            ));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "webhook `{s}`: the url must start with http:// or https://"
            ));
        }
        if !secret.starts_with("whsec_") {
            return Err(format!(
                "webhook for {url}: the secret must start with whsec_"
            ));
        }
        Ok(Self {
            url,
            secret,
            events: events.filter(|e| !e.is_empty()),
        })
    }
}

/// Everything the emulator needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// The origin put into `url` fields (pay page, portal). Defaults to `http://{bound address}`.
    pub public_url: Option<String>,
    /// Create the project's products and prices at startup.
    pub seed: bool,
    pub webhooks: Vec<EndpointConfig>,
    /// First retry after this many seconds, doubling each time.
    pub retry_base_secs: f64,
    /// Automatic attempts per event and endpoint (the first one included).
    pub max_attempts: u32,
    /// A delivery that takes longer than this counts as failed.
    pub delivery_timeout_secs: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 12111)),
            public_url: None,
            seed: false,
            webhooks: Vec::new(),
            retry_base_secs: 5.0,
            max_attempts: 6,
            delivery_timeout_secs: 10.0,
        }
    }
}

/// Shared by every handler and every delivery task.
pub struct Shared {
    store: Mutex<Store>,
    pub public_url: String,
    pub http: reqwest::Client,
    /// Whether `--seed` was given (a reset seeds again).
    pub seeded: bool,
    /// Serializes requests that carry an `Idempotency-Key`, so a replay never races its original.
    pub idempotency_lock: tokio::sync::Mutex<()>,
}

pub type AppState = Arc<Shared>;

impl Shared {
    /// Locks the store. Never hold the guard across an `.await`.
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs `f` on the store, then hands any events it emitted to the webhook deliverer.
pub fn with_store<T>(state: &AppState, f: impl FnOnce(&mut Store) -> T) -> T {
    let (out, events) = {
        let mut store = state.lock();
        let out = f(&mut store);
        (out, store.take_pending_events())
    };
    webhooks::dispatch(state, events);
    out
}

/// A running emulator.
pub struct Emulator {
    pub addr: SocketAddr,
    /// `http://{addr}`: what API clients should use as their base.
    pub base_url: String,
    pub state: AppState,
    task: JoinHandle<()>,
    sweeper: JoinHandle<()>,
}

impl Emulator {
    /// Binds, seeds, and serves in the background.
    pub async fn start(config: Config) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| base_url.clone())
            .trim_end_matches('/')
            .to_owned();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(
                config.delivery_timeout_secs.max(0.01),
            ))
            .user_agent("Stripe/1.0 (+https://stripe.com/docs/webhooks)")
            .build()
            .map_err(std::io::Error::other)?;
        let mut store = Store::new(webhooks::RetryPolicy {
            base: Duration::from_secs_f64(config.retry_base_secs.max(0.0)),
            max_attempts: config.max_attempts.max(1),
        });
        store.public_url = public_url.clone();
        for endpoint in &config.webhooks {
            store.add_endpoint(endpoint.clone());
        }
        if config.seed {
            seed::seed(&mut store);
        }
        let state = Arc::new(Shared {
            store: Mutex::new(store),
            public_url,
            http,
            seeded: config.seed,
            idempotency_lock: tokio::sync::Mutex::new(()),
        });
        let sweeper = {
            let state = state.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    with_store(&state, |s| {
                        resources::checkout_sessions::expire_due_sessions(s, now())
                    });
                }
            })
        };
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(error = %err, "stripe emulator stopped");
            }
        });
        Ok(Self {
            addr,
            base_url,
            state,
            task,
            sweeper,
        })
    }

    /// Serves until the process is stopped.
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
        self.sweeper.abort();
    }
}

/// The whole HTTP surface: Stripe's API, the hosted pages, and the test controls.
pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/v1", api::router(state.clone()))
        .merge(pages::router())
        .nest("/_emulator", control::router())
        .with_state(state)
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_flag_parses() {
        let e: EndpointConfig =
            "http://127.0.0.1:3000/hook|whsec_abc|checkout.session.completed, invoice.paid"
                .parse()
                .unwrap();
        assert_eq!(e.url, "http://127.0.0.1:3000/hook");
        assert_eq!(e.secret, "whsec_abc");
        assert_eq!(
            e.events,
            Some(vec![
                "checkout.session.completed".into(),
                "invoice.paid".into()
            ])
        );
        let all: EndpointConfig = "http://x/|whsec_1".parse().unwrap();
        assert_eq!(all.events, None);
        assert!("http://x/|nope".parse::<EndpointConfig>().is_err());
        assert!("ftp://x/|whsec_1".parse::<EndpointConfig>().is_err());
    }
}
