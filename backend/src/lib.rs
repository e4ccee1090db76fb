//! Server-side services of Ops-Center Credits: configuration, the database,
//! and (in later modules) Stripe and identity. Never built for the browser.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod catalogue;
pub mod checkout;
pub mod config;
pub mod db;
pub mod detach;
pub mod ids;
pub mod ledger;
pub mod packages;
pub mod purchases;
pub mod rate_limit;
mod secret;
pub mod stripe;
pub mod subscriptions;
pub mod users;
pub mod webhook;

use std::sync::Arc;

pub use config::{Config, ConfigError};
pub use secret::Secret;

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
}

impl AppState {
    pub fn new(pool: sqlx::PgPool, config: Config) -> Result<Self, stripe::StripeError> {
        let oidc = auth::Oidc::new(&config);
        let stripe = stripe::StripeGateway::new(&config.stripe)?;
        let limits = rate_limit::RateLimits::new(config.rate_limit);
        Ok(AppState {
            limits,
            pool,
            config: Arc::new(config),
            oidc,
            stripe,
            known_users: users::KnownUsers::default(),
        })
    }
}
