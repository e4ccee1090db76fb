//! Identity: the OpenID Connect provider (a Keycloak realm), verification of
//! its access tokens, and who a request belongs to. No `openidconnect` or
//! `jsonwebtoken` type leaves this module.
//!
//! The provider is discovered lazily and cached, so the app starts (and
//! serves public pages) while the provider is still down; a failed discovery
//! is retried on the next request that needs it.

mod flow;
mod provider;
pub mod session;
mod tokens;

use std::sync::Arc;

use crate::{Config, ids::UserId};

pub use flow::{LoginCallback, LoginStart, PendingLogin, TokenSet};
pub use session::{Caller, ServiceClient, SessionAuth, authenticate, authenticate_caller};
pub use tokens::Identity;
/// The session handle the HTTP layer puts on every request.
pub use tower_sessions::Session;

/// Everything the app knows about the provider. Cheap to clone.
#[derive(Clone)]
pub struct Oidc {
    inner: Arc<provider::Provider>,
}

impl Oidc {
    pub fn new(config: &Config) -> Self {
        Oidc {
            inner: Arc::new(provider::Provider::new(config)),
        }
    }

    /// The role that makes a user an admin (`OIDC_ADMIN_ROLE`).
    pub fn admin_role(&self) -> &str {
        &self.inner.admin_role
    }

    /// Verifies an access token (a JWT from the configured issuer): signature
    /// against the issuer's JWKS, `iss`, `exp`, `azp` = our client id, and
    /// Keycloak's `typ` = `Bearer` (an ID token is no access token).
    pub async fn verify_access_token(&self, token: &str) -> Result<Identity, AuthError> {
        tokens::verify_access_token(&self.inner, token, tokens::Audience::OurClient).await
    }

    /// Verifies an access token of any client of the realm (a service's
    /// client-credentials token), with every other check of
    /// [`Oidc::verify_access_token`]. Callers decide by its roles.
    pub async fn verify_any_client_token(&self, token: &str) -> Result<Identity, AuthError> {
        tokens::verify_access_token(&self.inner, token, tokens::Audience::AnyClient).await
    }

    /// Our own client id: tokens issued to it are people's.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The role that lets a service spend credits (`OIDC_SPENDER_ROLE`).
    pub fn spender_role(&self) -> &str {
        &self.inner.spender_role
    }
}

/// A logged-in person as handlers and server functions see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    pub id: UserId,
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub roles: Vec<String>,
    pub is_admin: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The provider could not be reached or answered nonsense; retry later.
    #[error("the identity provider is unavailable: {0}")]
    ProviderUnavailable(String),
    /// A token or login response that must be refused (the caller's fault or an attack).
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// The authorization code was refused by the provider (used twice, expired, …).
    #[error("the provider refused the login: {0}")]
    LoginRefused(String),
    /// The refresh token no longer works: the user must log in again.
    #[error("the session can no longer be refreshed: {0}")]
    RefreshRefused(String),
    #[error("session store error")]
    Session(#[from] tower_sessions::session::Error),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}
