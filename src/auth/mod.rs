//! Authentication at the HTTP edge: the session layer, the `CurrentUser` /
//! `AdminUser` extractors, session refresh and the cross-site request guard.
//! The login flow itself is in `routes::auth`; the rules are in `backend::auth`.

pub mod csrf;
pub mod extract;

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use backend::{AppState, auth::AuthError};
use tower_sessions::{
    Expiry, SessionManagerLayer,
    cookie::{SameSite, time::Duration},
};
use tower_sessions_sqlx_store::PostgresStore;

use crate::error::AppError;

pub use extract::{AdminUser, CurrentUser, SpendingService, WalletCaller};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "occ_session";

/// Server-side sessions in PostgreSQL (`tower_sessions.session`, created by
/// our migrations). The cookie is HttpOnly, SameSite=Lax (Strict would drop
/// it on the provider's redirect back, losing the login state), Secure on
/// https, and the session ends after 12 hours without a request.
pub fn session_layer(state: &AppState) -> SessionManagerLayer<PostgresStore> {
    SessionManagerLayer::new(PostgresStore::new(state.pool.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.is_https())
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(Duration::hours(12)))
}

/// Refreshes the session's access token before handlers and pages run, so
/// that nothing writes the session while a page streams.
pub async fn refresh_session(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let skip = path.starts_with("/pkg/") || path == "/healthz" || path == "/readyz";
    if !skip
        && let Some(session) = request.extensions().get::<tower_sessions::Session>()
        && let Err(error) = backend::auth::session::refresh_if_needed(&state, session).await
    {
        tracing::warn!(error = %error, "session refresh failed");
    }
    next.run(request).await
}

/// The edge's reading of identity failures (one reading: `ApiError::from`).
pub fn auth_error(error: AuthError) -> AppError {
    AppError::from(error)
}

pub fn not_authenticated() -> AppError {
    AppError::not_authenticated()
}

pub fn forbidden() -> AppError {
    AppError::forbidden()
}

pub use crate::error::error_chain as error_text;
