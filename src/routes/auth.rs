//! `/auth/login`, `/auth/callback`, `/auth/logout`: the browser's login
//! with the OpenID provider (authorization code + PKCE), and logout through
//! the provider's end-session endpoint.

use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
};
use backend::{
    AppState,
    auth::{
        AuthError, LoginCallback, SessionAuth,
        session::{log_in, log_out, save_pending, take_pending},
    },
    users,
};
use serde::Deserialize;
use tower_sessions::Session;
use url::Url;

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Starts a login and sends the browser to the provider.
pub async fn login(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<LoginQuery>,
) -> Result<Response, AuthPageError> {
    let next = safe_next(&state.config.app_base_url, query.next.as_deref());
    if backend::auth::authenticate(&state, None, Some(&session))
        .await
        .map_err(AuthPageError::from)?
        .is_some()
    {
        return Ok(Redirect::to(&next).into_response());
    }
    let start = state.oidc.begin_login(&callback_url(&state), next).await?;
    save_pending(&session, &start.pending).await?;
    Ok(Redirect::to(start.authorize_url.as_str()).into_response())
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The provider's answer: checks `state`, redeems the code, verifies the
/// tokens, records the user and logs them in under a new session id.
pub async fn callback(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, AuthPageError> {
    // Taken, not read: a login can be completed once only.
    let Some(pending) = take_pending(&session).await? else {
        return Err(AuthPageError::bad_request(
            "login_not_started",
            "This login was not started here, or it was already completed. Please log in again.",
        ));
    };
    if query.state.as_deref() != Some(pending.state.as_str()) {
        return Err(AuthPageError::bad_request(
            "invalid_state",
            "The login response does not belong to this browser session. Please log in again.",
        ));
    }
    if let Some(error) = query.error {
        tracing::info!(error = %error, "the provider reported a login error");
        return Err(AuthPageError::bad_request(
            "login_failed",
            "The login was cancelled or refused. Please log in again.",
        ));
    }
    let Some(code) = query.code else {
        return Err(AuthPageError::bad_request(
            "missing_code",
            "The login response carries no authorization code. Please log in again.",
        ));
    };
    let next = pending.next.clone();
    let tokens = state
        .oidc
        .complete_login(pending, LoginCallback { code }, &callback_url(&state))
        .await?;
    let user_id = users::upsert(
        &state.pool,
        &users::Profile {
            keycloak_sub: &tokens.identity.sub,
            email: tokens.identity.email.as_deref(),
            name: tokens.identity.name.as_deref(),
        },
    )
    .await
    .map_err(AuthError::from)?;
    log_in(&session, &SessionAuth::new(user_id, tokens)).await?;
    tracing::info!(%user_id, "logged in");
    Ok(Redirect::to(&next).into_response())
}

/// `GET /auth/logout`, a link or a typed address: logs out as the
/// header's button does. A link on another site cannot log a visitor out:
/// the browser marks that navigation `Sec-Fetch-Site: cross-site`, and it
/// gets a page with the button instead.
pub async fn logout_link(
    state: State<AppState>,
    session: Session,
    headers: HeaderMap,
) -> Result<Response, AuthPageError> {
    if crate::auth::csrf::is_cross_site(&headers) {
        return Ok(Html(CONFIRM_LOGOUT).into_response());
    }
    logout(state, session).await
}

const CONFIRM_LOGOUT: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Log out · Ops-Center Credits</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem">
<h1>Log out?</h1>
<p>Another site sent you here to log out of Ops-Center Credits.</p>
<form method="post" action="/auth/logout"><button id="confirm-logout" type="submit">Log out</button></form>
<p><a href="/">Back to credits</a></p>
</body></html>"#;

/// Ends the local session, then the provider's (`POST` behind the
/// cross-site guard, or [`logout_link`]).
pub async fn logout(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, AuthPageError> {
    let auth = log_out(&session).await?;
    if let Some(auth) = &auth {
        tracing::info!(user_id = %auth.user_id, "logged out");
    }
    let home = state.config.app_base_url.clone();
    let id_token = auth.as_ref().and_then(SessionAuth::id_token);
    let target = match state.oidc.end_session_url(id_token, &home).await {
        Ok(Some(url)) if auth.is_some() => url,
        Ok(_) => home,
        Err(error) => {
            tracing::warn!(error = %error, "provider logout skipped");
            home
        }
    };
    Ok(Redirect::to(target.as_str()).into_response())
}

fn callback_url(state: &AppState) -> Url {
    state
        .config
        .app_base_url
        .join("/auth/callback")
        .expect("a path joins onto the base URL")
}

/// `next` when it is a path on our own origin, else `/` (no open redirect).
pub fn safe_next(base: &Url, next: Option<&str>) -> String {
    next.and_then(|next| same_origin_path(base, next))
        .unwrap_or_else(|| "/".into())
}

/// `next` resolved against `base` and normalised (dot segments removed),
/// as path and query, if it stays on `base`'s origin. The result is checked
/// again: `/.//evil.example` only becomes `//evil.example` (another host to
/// a browser) once its dot segment is gone.
fn same_origin_path(base: &Url, next: &str) -> Option<String> {
    if !is_plain_path(next) {
        return None;
    }
    let url = base.join(next).ok()?;
    if url.origin() != base.origin() {
        return None;
    }
    let mut path = url.path().to_owned();
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    let again = base.join(&path).ok()?;
    (is_plain_path(&path) && again.origin() == base.origin()).then_some(path)
}

/// Starts with one `/` and cannot be read as a network-path reference
/// (`//host`, `/\host`, nor with the second slash percent-encoded, which
/// some proxies decode), and holds no backslash or control character
/// (browsers drop tabs and newlines, and read `\` as `/`).
fn is_plain_path(path: &str) -> bool {
    let after_slash = path.get(1..4).unwrap_or("").to_ascii_lowercase();
    path.starts_with('/')
        && !path.starts_with("//")
        && !after_slash.starts_with("%2f")
        && !after_slash.starts_with("%5c")
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
}

/// A login problem, shown to the browser as a short page.
#[derive(Debug)]
pub struct AuthPageError {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
}

impl AuthPageError {
    fn bad_request(code: &'static str, message: &'static str) -> Self {
        AuthPageError {
            status: StatusCode::BAD_REQUEST,
            code,
            message,
        }
    }
}

impl From<AuthError> for AuthPageError {
    fn from(error: AuthError) -> Self {
        let status = match &error {
            AuthError::ProviderUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::InvalidToken(_)
            | AuthError::LoginRefused(_)
            | AuthError::RefreshRefused(_) => StatusCode::BAD_REQUEST,
            AuthError::Session(_) | AuthError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let (code, message) = match status {
            StatusCode::SERVICE_UNAVAILABLE => (
                "identity_provider_unavailable",
                "The login service is not reachable. Please try again shortly.",
            ),
            StatusCode::BAD_REQUEST => (
                "login_refused",
                "The login could not be completed. Please log in again.",
            ),
            _ => (
                "login_error",
                "Something went wrong on our side. Please try again.",
            ),
        };
        if status.is_server_error() {
            tracing::error!(code, error = %crate::auth::error_text(&error), "login failed");
        } else {
            tracing::info!(code, error = %crate::auth::error_text(&error), "login refused");
        }
        AuthPageError {
            status,
            code,
            message,
        }
    }
}

impl IntoResponse for AuthPageError {
    fn into_response(self) -> Response {
        let body = format!(
            r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Login problem · Ops-Center Credits</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem">
<h1>Login problem</h1>
<p id="auth-error" data-code="{code}">{message}</p>
<p><a href="/auth/login">Log in again</a> · <a href="/">Back to credits</a></p>
</body></html>"#,
            code = self.code,
            message = self.message,
        );
        (self.status, Html(body)).into_response()
    }
}
