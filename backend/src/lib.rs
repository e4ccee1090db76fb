//! Server-side services of Ops-Center Credits: configuration, the database,
//! and (in later modules) Stripe and identity. Never built for the browser.

pub mod account;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod catalogue;
pub mod checkout;
pub mod config;
pub mod db;
pub mod detach;
pub mod http;
pub mod ids;
pub mod ledger;
pub mod packages;
pub mod purchases;
pub mod rate_limit;
mod secret;
pub mod stripe;
pub mod subscriptions;
pub mod sync;
pub mod users;
pub mod wallet;
pub mod webhook;

use std::sync::Arc;

pub use config::{Config, ConfigError};
pub use secret::Secret;

/// An error and its causes on one line, for logs and command output.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What every request handler, server function and SSR render can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: sqlx::PgPool,
    pub config: Arc<Config>,
    /// The OpenID provider (discovered lazily) and its JWKS cache.
    pub oidc: auth::Oidc,
    /// Stripe, or the emulator when `STRIPE_API_BASE` is set.
    pub stripe: stripe::StripeGateway,
    /// Users already written by this process (bearer requests read only).
    pub known_users: users::KnownUsers,
    /// Per-user limits on checkouts, confirmations, refunds and adjustments.
    pub limits: rate_limit::RateLimits,
    /// Keycloak and Lago: their clients, and the queue of their sync jobs
    /// (empty until [`AppState::with_sync`]).
    pub systems: Arc<sync::Systems>,
    pub outbox: sync::Outbox,
    /// The packs on sale, kept between changes to them.
    pub catalogue: packages::CatalogueCache,
    /// Paid checkouts from the credits webhook, fulfilled in batches.
    pub fulfilments: webhook::group::GroupCommit,
    /// Requests that run to the end when their client hangs up; shutdown
    /// waits for them.
    pub detached: detach::Detached,
}

impl AppState {
    pub fn new(pool: sqlx::PgPool, config: Config) -> Result<Self, stripe::StripeError> {
        let oidc = auth::Oidc::new(&config);
        let stripe = stripe::StripeGateway::new(&config.stripe)?;
        let limits = rate_limit::RateLimits::new(config.rate_limit);
        let systems = Arc::new(sync::Systems::new(&config));
        let fulfilments = webhook::group::GroupCommit::new(pool.clone(), stripe.livemode());
        Ok(AppState {
            fulfilments,
            limits,
            systems,
            outbox: sync::Outbox::default(),
            pool,
            config: Arc::new(config),
            oidc,
            stripe,
            known_users: users::KnownUsers::default(),
            catalogue: packages::CatalogueCache::default(),
            detached: detach::Detached::default(),
        })
    }

    /// Sets up the sync jobs' queues (and their tables) for the systems
    /// configured. Workers are started separately ([`sync::Outbox::start_workers`]).
    pub async fn with_sync(mut self) -> Result<Self, underway::queue::Error> {
        self.outbox = sync::Outbox::new(&self.pool, self.systems.clone()).await?;
        Ok(self)
    }
}
