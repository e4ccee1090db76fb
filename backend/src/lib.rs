//! Server-side services of Ops-Center Credits: configuration, the database,
//! and (in later modules) Stripe and identity. Never built for the browser.

pub mod admin;
pub mod auth;
pub mod config;
pub mod db;
pub mod ids;
pub mod ledger;
pub mod packages;
pub mod purchases;
mod secret;
pub mod users;

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
}

impl AppState {
    pub fn new(pool: sqlx::PgPool, config: Config) -> Self {
        let oidc = auth::Oidc::new(&config);
        AppState {
            pool,
            config: Arc::new(config),
            oidc,
        }
    }
}
