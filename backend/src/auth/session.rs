//! What a browser session holds about its user, and who a request belongs
//! to (bearer token or session). Written only from HTTP handlers and
//! middleware, never while a page streams.

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use super::{AuthError, AuthUser, Identity, Oidc, PendingLogin, TokenSet};
use crate::{AppState, ids::UserId, users};

const AUTH_KEY: &str = "auth";
const PENDING_KEY: &str = "oidc.pending";
/// Refresh this long before the access token actually expires.
const REFRESH_MARGIN_SECS: i64 = 30;

/// The logged-in user of a session. No `Debug`: it holds tokens.
#[derive(Clone, Serialize, Deserialize)]
pub struct SessionAuth {
    pub user_id: UserId,
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub roles: Vec<String>,
    /// Unix seconds when the access token (and so the roles) stop being valid.
    pub access_expires_at: i64,
    refresh_token: Option<String>,
    id_token: Option<String>,
}

impl SessionAuth {
    pub fn new(user_id: UserId, tokens: TokenSet) -> Self {
        let Identity {
            sub,
            email,
            name,
            roles,
            expires_at,
            client_id: _,
        } = tokens.identity;
        SessionAuth {
            user_id,
            sub,
            email,
            name,
            roles,
            access_expires_at: expires_at,
            refresh_token: tokens.refresh_token,
            id_token: tokens.id_token,
        }
    }

    pub fn id_token(&self) -> Option<&str> {
        self.id_token.as_deref()
    }

    fn needs_refresh(&self) -> bool {
        chrono::Utc::now().timestamp() + REFRESH_MARGIN_SECS >= self.access_expires_at
    }

    fn is_expired(&self) -> bool {
        chrono::Utc::now().timestamp() >= self.access_expires_at
    }

    fn to_user(&self, oidc: &Oidc) -> AuthUser {
        AuthUser {
            id: self.user_id,
            sub: self.sub.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            is_admin: self.roles.iter().any(|r| r == oidc.admin_role()),
            roles: self.roles.clone(),
        }
    }

    pub async fn load(session: &Session) -> Result<Option<Self>, AuthError> {
        Ok(session.get(AUTH_KEY).await?)
    }
}

/// Remembers a login in progress (replacing any earlier one).
pub async fn save_pending(session: &Session, pending: &PendingLogin) -> Result<(), AuthError> {
    session.insert(PENDING_KEY, pending).await?;
    Ok(())
}

/// Takes the login in progress: it can be completed once only.
pub async fn take_pending(session: &Session) -> Result<Option<PendingLogin>, AuthError> {
    Ok(session.remove(PENDING_KEY).await?)
}

/// Logs `auth` in on this session under a new session id (no fixation).
pub async fn log_in(session: &Session, auth: &SessionAuth) -> Result<(), AuthError> {
    session.cycle_id().await?;
    session.insert(AUTH_KEY, auth).await?;
    Ok(())
}

/// Ends the session (deleted from the store, cookie removed); returns what it held.
pub async fn log_out(session: &Session) -> Result<Option<SessionAuth>, AuthError> {
    let auth = SessionAuth::load(session).await?;
    session.flush().await?;
    Ok(auth)
}

/// Refreshes an expiring access token with the refresh token. A refused
/// refresh logs the session out; an unreachable provider leaves it as is
/// (it counts as logged out once the token has expired).
pub async fn refresh_if_needed(state: &AppState, session: &Session) -> Result<(), AuthError> {
    let Some(auth) = SessionAuth::load(session).await? else {
        return Ok(());
    };
    if !auth.needs_refresh() {
        return Ok(());
    }
    let Some(refresh_token) = auth.refresh_token.as_deref() else {
        session.remove_value(AUTH_KEY).await?;
        return Ok(());
    };
    match state.oidc.refresh(refresh_token).await {
        Ok(tokens) if tokens.identity.sub == auth.sub => {
            let id_token = tokens.id_token.clone().or(auth.id_token.clone());
            let mut renewed = SessionAuth::new(auth.user_id, tokens);
            renewed.id_token = id_token;
            session.insert(AUTH_KEY, &renewed).await?;
            tracing::debug!(user_id = %auth.user_id, "access token refreshed");
            Ok(())
        }
        Ok(_) | Err(AuthError::RefreshRefused(_) | AuthError::InvalidToken(_)) => {
            tracing::info!(user_id = %auth.user_id, "session refresh refused; logged out");
            session.remove_value(AUTH_KEY).await?;
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// Who the request belongs to: a bearer token when one is sent (invalid →
/// error), else the session's user while their access token is valid.
pub async fn authenticate(
    state: &AppState,
    bearer: Option<&str>,
    session: Option<&Session>,
) -> Result<Option<AuthUser>, AuthError> {
    if let Some(token) = bearer {
        let identity = state.oidc.verify_access_token(token).await?;
        return Ok(Some(bearer_user(state, identity).await?));
    }
    session_user(state, session).await
}

/// A caller of the wallet API: a person (session, or a token of our own
/// client), or another Ops-Center service (a token of its own client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    User(AuthUser),
    Service(ServiceClient),
}

/// A service, by its client-credentials token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceClient {
    pub client_id: String,
    /// Holds the spender role (`OIDC_SPENDER_ROLE`).
    pub may_spend: bool,
}

/// Like [`authenticate`], but a bearer token of another client of the realm
/// is a service rather than an error.
pub async fn authenticate_caller(
    state: &AppState,
    bearer: Option<&str>,
    session: Option<&Session>,
) -> Result<Option<Caller>, AuthError> {
    let Some(token) = bearer else {
        return Ok(session_user(state, session).await?.map(Caller::User));
    };
    let identity = state.oidc.verify_any_client_token(token).await?;
    if identity.client_id == state.oidc.client_id() {
        return Ok(Some(Caller::User(bearer_user(state, identity).await?)));
    }
    let may_spend = identity
        .roles
        .iter()
        .any(|r| r == state.oidc.spender_role());
    Ok(Some(Caller::Service(ServiceClient {
        client_id: identity.client_id,
        may_spend,
    })))
}

async fn bearer_user(state: &AppState, identity: super::Identity) -> Result<AuthUser, AuthError> {
    // Read-only for a user already written with this profile: a bearer
    // request for a balance must not take row locks.
    let id = state
        .known_users
        .upsert(
            &state.pool,
            &users::Profile {
                keycloak_sub: &identity.sub,
                email: identity.email.as_deref(),
                name: identity.name.as_deref(),
            },
            identity.expires_at,
        )
        .await?;
    Ok(AuthUser {
        id,
        is_admin: identity.roles.iter().any(|r| r == state.oidc.admin_role()),
        sub: identity.sub,
        email: identity.email,
        name: identity.name,
        roles: identity.roles,
    })
}

async fn session_user(
    state: &AppState,
    session: Option<&Session>,
) -> Result<Option<AuthUser>, AuthError> {
    let Some(session) = session else {
        return Ok(None);
    };
    Ok(SessionAuth::load(session)
        .await?
        .filter(|auth| !auth.is_expired())
        .map(|auth| auth.to_user(&state.oidc)))
}
