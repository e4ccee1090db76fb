//! `CurrentUser` and `AdminUser`: who is calling, from the session cookie or
//! `Authorization: Bearer <access token>`.

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{header::AUTHORIZATION, request::Parts},
};
use backend::{
    AppState,
    auth::{AuthUser, Caller},
    wallet::Spender,
};

use super::{auth_error, forbidden, not_authenticated};
use crate::error::{AppError, ErrorCode};

/// Any logged-in user. Anonymous → 401 `not_authenticated`; a bad or
/// expired bearer token → 401 `invalid_token`.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub AuthUser);

/// A user with the admin realm role (`OIDC_ADMIN_ROLE`). Others → 403.
#[derive(Debug, Clone)]
pub struct AdminUser(pub AuthUser);

impl<S> FromRequestParts<S> for CurrentUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let state = AppState::from_ref(state);
        let (bearer, session) = credentials(parts)?;
        known(backend::auth::authenticate(&state, bearer, session).await).map(CurrentUser)
    }
}

impl<S> FromRequestParts<S> for AdminUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let CurrentUser(user) = CurrentUser::from_request_parts(parts, state).await?;
        if user.is_admin {
            Ok(AdminUser(user))
        } else {
            Err(forbidden())
        }
    }
}

/// A caller of the wallet API: a person (session or a token of our client)
/// or a service (a client-credentials token of another client of the realm).
#[derive(Debug, Clone)]
pub struct WalletCaller(pub Caller);

/// A service whose client holds the spender role (`OIDC_SPENDER_ROLE`).
/// People → 403: they spend through the services, not directly.
#[derive(Debug, Clone)]
pub struct SpendingService(pub Spender);

impl<S> FromRequestParts<S> for WalletCaller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let state = AppState::from_ref(state);
        let (bearer, session) = credentials(parts)?;
        known(backend::auth::authenticate_caller(&state, bearer, session).await).map(WalletCaller)
    }
}

impl<S> FromRequestParts<S> for SpendingService
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        match WalletCaller::from_request_parts(parts, state).await?.0 {
            Caller::Service(service) if service.may_spend => Ok(SpendingService(Spender {
                client_id: service.client_id,
            })),
            Caller::Service(_) => Err(AppError::new(
                ErrorCode::Forbidden,
                "This client may not spend credits: it needs the spender role.",
            )),
            Caller::User(_) => Err(AppError::new(
                ErrorCode::Forbidden,
                "Credits are spent by Ops-Center services with their own client credentials, not by users directly.",
            )),
        }
    }
}

/// What the request authenticates with: its bearer token and its session.
fn credentials(
    parts: &Parts,
) -> Result<(Option<&str>, Option<&tower_sessions::Session>), AppError> {
    Ok((
        bearer_token(parts)?,
        parts.extensions.get::<tower_sessions::Session>(),
    ))
}

/// Nobody (no token, no live session) → 401 `not_authenticated`; a token
/// that does not verify → 401 `invalid_token`.
fn known<T>(who: Result<Option<T>, backend::auth::AuthError>) -> Result<T, AppError> {
    match who {
        Ok(Some(who)) => Ok(who),
        Ok(None) => Err(not_authenticated()),
        Err(error) => Err(auth_error(error)),
    }
}

/// The bearer token, if the request sends one; another scheme is refused.
fn bearer_token(parts: &Parts) -> Result<Option<&str>, AppError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| not_authenticated())?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(not_authenticated()),
    }
}
