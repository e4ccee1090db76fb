//! Who is logged in, for components and server functions.
//!
//! Every `#[server]` function is a public endpoint: it calls
//! [`ssr::require_user`] or [`ssr::require_admin`] itself.

#[allow(unused_imports)]
use crate::error::{ApiError, ErrorCode};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The logged-in user as the browser sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub name: String,
    pub email: Option<String>,
    pub is_admin: bool,
}

#[cfg(feature = "ssr")]
impl From<backend::auth::AuthUser> for UserView {
    fn from(user: backend::auth::AuthUser) -> Self {
        UserView {
            name: user
                .name
                .clone()
                .or_else(|| user.email.clone())
                .unwrap_or_else(|| "Signed in".into()),
            email: user.email,
            is_admin: user.is_admin,
        }
    }
}

/// The current user, or `None` for anonymous visitors. Reads the session;
/// never writes it (it also runs while a page streams).
#[server]
pub async fn current_user() -> Result<Option<UserView>, ApiError> {
    Ok(ssr::optional_user().await?.map(UserView::from))
}

/// Where to log in and come back to `path` (a path on this site, with its query).
pub fn login_href(path: &str) -> String {
    let encoded: String = path
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/auth/login?next={encoded}")
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::error::ApiError;
    use backend::auth::{AuthError, AuthUser, Session};
    use http::{StatusCode, header::AUTHORIZATION, request::Parts};
    use leptos::prelude::*;

    /// The caller (session cookie or bearer token), if any.
    pub async fn optional_user() -> Result<Option<AuthUser>, ApiError> {
        let Some(state) = use_context::<backend::AppState>() else {
            tracing::error!("no AppState in the Leptos context");
            return Err(ApiError::internal());
        };
        let parts = use_context::<Parts>();
        let session = parts
            .as_ref()
            .and_then(|p| p.extensions.get::<Session>().cloned());
        let bearer = parts.as_ref().and_then(|p| {
            p.headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned))
        });
        backend::auth::authenticate(&state, bearer.as_deref(), session.as_ref())
            .await
            .map_err(|error| match error {
                // A page's server functions treat a bad token as "log in".
                AuthError::InvalidToken(_) | AuthError::RefreshRefused(_) => {
                    ApiError::not_authenticated()
                }
                other => ApiError::from(other),
            })
    }

    /// The caller; anonymous → 401 `not_authenticated`.
    pub async fn require_user() -> Result<AuthUser, ApiError> {
        optional_user()
            .await?
            .ok_or_else(ApiError::not_authenticated)
    }

    /// An admin; anonymous → 401, others → 403 `forbidden`.
    pub async fn require_admin() -> Result<AuthUser, ApiError> {
        let user = require_user().await?;
        if user.is_admin {
            Ok(user)
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// For a protected page rendered on the server: sends an anonymous
    /// visitor to log in and come back to `path`.
    pub fn redirect_to_login(path: &str) {
        leptos_axum::redirect(&super::login_href(path));
        // leptos_axum only sets 302 when the request says it accepts HTML;
        // a page is always answered with a real redirect.
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(StatusCode::FOUND);
        }
    }

    /// A form posted without JavaScript follows `url` (a 302); a call from
    /// the page's script gets the answer and navigates itself.
    pub fn follow_in_plain_forms(url: &str) {
        let plain_form = use_context::<Parts>().is_some_and(|parts| {
            parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html"))
        });
        if plain_form {
            leptos_axum::redirect(url);
        }
    }
}
