//! Server-side services of Ops-Center Credits: configuration, the database,
//! and (in later modules) Stripe and identity. Never built for the browser.

pub mod config;
pub mod db;
pub mod ids;
pub mod packages;
pub mod purchases;
mod secret;

use std::sync::Arc;

pub use config::{Config, ConfigError};
pub use secret::Secret;

/// What every request handler, server function and SSR render can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: sqlx::PgPool,
    pub config: Arc<Config>,
}
