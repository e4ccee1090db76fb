//! Access-token verification: Keycloak's JWT access tokens, checked against
//! the issuer's JWKS (`iss`, `exp`, `azp`, `typ`; `aud` is Keycloak's
//! `account`, not ours, so it is not checked).

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;

use super::{AuthError, provider::Provider};

/// Who an access token speaks for, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub roles: Vec<String>,
    /// Unix seconds.
    pub expires_at: i64,
    /// The client the token was issued to (`azp`): ours for people who
    /// logged in here, a service's for its client-credentials tokens.
    pub client_id: String,
}

#[derive(Deserialize)]
struct AccessClaims {
    sub: String,
    exp: i64,
    azp: Option<String>,
    /// Keycloak's token type: `Bearer` for access tokens, `ID` for ID tokens
    /// (which carry the same issuer, `azp` and signature, and must not pass).
    typ: Option<String>,
    email: Option<String>,
    name: Option<String>,
    preferred_username: Option<String>,
    #[serde(default)]
    realm_access: RealmAccess,
}

#[derive(Deserialize, Default)]
struct RealmAccess {
    #[serde(default)]
    roles: Vec<String>,
}

/// Keycloak's `typ` claim of an access token.
const ACCESS_TOKEN_TYPE: &str = "Bearer";

const ALLOWED: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// Which clients' tokens to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Audience {
    /// Only tokens issued to our own client (people logged in here).
    OurClient,
    /// Any client of the realm (services; the caller checks their roles).
    AnyClient,
}

pub(super) async fn verify_access_token(
    provider: &Arc<Provider>,
    token: &str,
    audience: Audience,
) -> Result<Identity, AuthError> {
    let invalid = |why: String| AuthError::InvalidToken(why);
    let header = decode_header(token).map_err(|e| invalid(format!("malformed token: {e}")))?;
    if !ALLOWED.contains(&header.alg) {
        return Err(invalid(format!("algorithm {:?} not allowed", header.alg)));
    }
    let kid = header
        .kid
        .ok_or_else(|| invalid("token has no key id".into()))?;
    let jwk = provider.key(&kid).await?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| invalid(format!("unusable key: {e}")))?;

    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&provider.issuer_url]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    validation.validate_aud = false;
    validation.leeway = 30;
    let claims = decode::<AccessClaims>(token, &key, &validation)
        .map_err(|e| invalid(format!("rejected: {e}")))?
        .claims;
    let client_id = claims
        .azp
        .ok_or_else(|| invalid("token names no client (azp)".into()))?;
    if audience == Audience::OurClient && client_id != provider.client_id {
        return Err(invalid("token was issued to another client (azp)".into()));
    }
    if claims.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
        return Err(invalid(format!(
            "not an access token (typ {:?})",
            claims.typ
        )));
    }
    Ok(Identity {
        sub: claims.sub,
        email: claims.email,
        name: claims.name.or(claims.preferred_username),
        roles: claims.realm_access.roles,
        expires_at: claims.exp,
        client_id,
    })
}
