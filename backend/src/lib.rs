//! Server-side services of Ops-Center Credits: configuration, the database,
//! and (in later modules) Stripe and identity. Never built for the browser.

pub mod admin;
pub mod auth;
pub mod catalogue;
pub mod checkout;
pub mod config;
pub mod db;
pub mod demo;
pub mod ids;
pub mod ledger;
pub mod packages;
pub mod purchases;
mod secret;
pub mod stripe;
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
}

impl AppState {
    pub fn new(pool: sqlx::PgPool, config: Config) -> Result<Self, stripe::StripeError> {
        let oidc = auth::Oidc::new(&config);
        let stripe = stripe::StripeGateway::new(&config.stripe)?;
        Ok(AppState {
            pool,
            config: Arc::new(config),
            oidc,
            stripe,
        })
    }
}
