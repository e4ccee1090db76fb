//! The authorization code flow with PKCE, refresh, and RP-initiated logout.

use openidconnect::{
    AccessTokenHash, AuthorizationCode, CsrfToken, EndSessionUrl, LogoutRequest, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, RedirectUrl,
    RefreshToken, Scope, TokenResponse,
    core::{CoreAuthenticationFlow, CoreIdToken},
};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{
    AuthError, Identity, Oidc,
    provider::error_chain,
    tokens::{Audience, verify_access_token},
};

/// Where to send the browser, and what to remember until it comes back.
pub struct LoginStart {
    pub authorize_url: Url,
    pub pending: PendingLogin,
}

/// Kept in the session between `/auth/login` and `/auth/callback`.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    nonce: String,
    pkce_verifier: String,
    /// Validated same-origin path to return to.
    pub next: String,
}

/// What the provider sent back to `/auth/callback`.
pub struct LoginCallback {
    pub code: String,
}

/// The tokens of a fresh login or refresh, verified.
pub struct TokenSet {
    pub identity: Identity,
    pub refresh_token: Option<String>,
    /// The raw ID token, kept for `id_token_hint` at logout.
    pub id_token: Option<String>,
}

impl Oidc {
    /// Starts a login: PKCE S256, fresh `state` and `nonce`.
    pub async fn begin_login(
        &self,
        redirect_uri: &Url,
        next: String,
    ) -> Result<LoginStart, AuthError> {
        let client = self.inner.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .set_redirect_uri(std::borrow::Cow::Owned(redirect_url(redirect_uri)?))
            .url();
        Ok(LoginStart {
            authorize_url: url,
            pending: PendingLogin {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                next,
            },
        })
    }

    /// Exchanges the code (with the PKCE verifier), verifies the ID token
    /// (signature, issuer, audience, expiry, nonce, access-token hash) and the
    /// access token. The caller has already compared `state`.
    pub async fn complete_login(
        &self,
        pending: PendingLogin,
        callback: LoginCallback,
        redirect_uri: &Url,
    ) -> Result<TokenSet, AuthError> {
        let client = self.inner.client().await?;
        let response = client
            .exchange_code(AuthorizationCode::new(callback.code))
            .map_err(|e| AuthError::ProviderUnavailable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .set_redirect_uri(std::borrow::Cow::Owned(redirect_url(redirect_uri)?))
            .request_async(&self.inner.http)
            .await
            .map_err(|e| AuthError::LoginRefused(error_chain(&e)))?;

        let id_token: &CoreIdToken = response
            .id_token()
            .ok_or_else(|| AuthError::InvalidToken("the provider sent no ID token".into()))?;
        let nonce = Nonce::new(pending.nonce);
        let client = if id_token.claims(&client.id_token_verifier(), &nonce).is_ok() {
            client
        } else {
            // Perhaps signed by a key we have not seen yet: refresh the JWKS once.
            let kid = jsonwebtoken::decode_header(id_token.to_string())
                .ok()
                .and_then(|h| h.kid);
            self.inner.jwks(kid.as_deref()).await?;
            self.inner.client().await?
        };
        let verifier = client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &nonce)
            .map_err(|e| AuthError::InvalidToken(format!("ID token: {e}")))?;
        if let Some(expected) = claims.access_token_hash() {
            let invalid = |e: String| AuthError::InvalidToken(format!("ID token: {e}"));
            let alg = id_token.signing_alg().map_err(|e| invalid(e.to_string()))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| invalid(e.to_string()))?;
            let actual = AccessTokenHash::from_token(response.access_token(), alg, key)
                .map_err(|e| invalid(e.to_string()))?;
            if actual != *expected {
                return Err(invalid(
                    "the access token does not match the ID token".into(),
                ));
            }
        }
        let identity = verify_access_token(
            &self.inner,
            response.access_token().secret(),
            Audience::OurClient,
        )
        .await?;
        if identity.sub != claims.subject().as_str() {
            return Err(AuthError::InvalidToken(
                "the ID and access tokens name different users".into(),
            ));
        }
        let email = claims.email().map(|e| e.as_str().to_owned());
        let name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned())
            .or_else(|| claims.preferred_username().map(|u| u.as_str().to_owned()));
        Ok(TokenSet {
            identity: Identity {
                email: email.or(identity.email),
                name: name.or(identity.name),
                ..identity
            },
            refresh_token: response.refresh_token().map(|t| t.secret().clone()),
            id_token: Some(id_token.to_string()),
        })
    }

    /// A new access token from the refresh token; its roles are re-read.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenSet, AuthError> {
        let client = self.inner.client().await?;
        let token = RefreshToken::new(refresh_token.to_owned());
        let response = client
            .exchange_refresh_token(&token)
            .map_err(|e| AuthError::ProviderUnavailable(e.to_string()))?
            .request_async(&self.inner.http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(r) => {
                    AuthError::RefreshRefused(r.error().to_string())
                }
                other => AuthError::ProviderUnavailable(error_chain(&other)),
            })?;
        let identity = verify_access_token(
            &self.inner,
            response.access_token().secret(),
            Audience::OurClient,
        )
        .await?;
        Ok(TokenSet {
            identity,
            refresh_token: response
                .refresh_token()
                .map(|t| t.secret().clone())
                .or_else(|| Some(refresh_token.to_owned())),
            id_token: response.id_token().map(|t| t.to_string()),
        })
    }

    /// The provider's end-session URL (RP-initiated logout), or `None` if it has none.
    pub async fn end_session_url(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect: &Url,
    ) -> Result<Option<Url>, AuthError> {
        let metadata = self.inner.metadata().await?;
        let Some(endpoint) = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()
            .map(|u| EndSessionUrl::from_url(u.url().clone()))
        else {
            return Ok(None);
        };
        let mut request = LogoutRequest::from(endpoint)
            .set_client_id(openidconnect::ClientId::new(self.inner.client_id.clone()))
            .set_post_logout_redirect_uri(PostLogoutRedirectUrl::from_url(
                post_logout_redirect.clone(),
            ));
        if let Some(hint) = id_token_hint
            && let Ok(token) = hint.parse::<CoreIdToken>()
        {
            request = request.set_id_token_hint(&token);
        }
        Ok(Some(request.http_get_url()))
    }
}

fn redirect_url(url: &Url) -> Result<RedirectUrl, AuthError> {
    Ok(RedirectUrl::from_url(url.clone()))
}
