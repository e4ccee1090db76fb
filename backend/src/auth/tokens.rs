//! Access-token verification: Keycloak's JWT access tokens, checked against
//! the issuer's JWKS (`iss`, `exp`, `azp`, `typ`; `aud` is Keycloak's
//! `account`, not ours, so it is not checked). Tokens already verified are
//! remembered until they expire ([`VerifiedTokens`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, jwk::Jwk};
use serde::Deserialize;
use sha2::{Digest, Sha256};

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
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let identity = match provider.verified.get(&digest) {
        // Still unexpired, and its key is still the provider's (a removed
        // or replaced key stops trusting its tokens at once).
        Some(hit)
            if hit.identity.expires_at + LEEWAY_SECS >= now()
                && provider.key(&hit.kid).await.is_ok_and(|jwk| jwk == hit.jwk) =>
        {
            hit.identity
        }
        _ => {
            let verified = verify_signature_and_claims(provider, token).await?;
            let identity = verified.identity.clone();
            provider.verified.insert(digest, verified);
            identity
        }
    };
    if audience == Audience::OurClient && identity.client_id != provider.client_id {
        return Err(AuthError::InvalidToken(
            "token was issued to another client (azp)".into(),
        ));
    }
    Ok(identity)
}

/// `exp` is honoured with this much leeway (clock skew).
const LEEWAY_SECS: i64 = 30;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A token whose signature and claims were checked, and the key that
/// signed it.
#[derive(Clone)]
pub(super) struct Verified {
    identity: Identity,
    kid: String,
    jwk: Jwk,
}

/// Verified tokens by the SHA-256 of the token. A service sends the same
/// access token until it expires, and checking an RS256 signature was most of
/// a bearer request's CPU time (docs/PERFORMANCE.md); a hit costs a hash.
/// Bounded: when full, expired entries go, and if that is not enough, all.
#[derive(Default)]
pub(super) struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], Verified>>,
}

impl VerifiedTokens {
    const MAX: usize = 10_000;

    fn get(&self, digest: &[u8; 32]) -> Option<Verified> {
        self.lock().get(digest).cloned()
    }

    fn insert(&self, digest: [u8; 32], verified: Verified) {
        let mut entries = self.lock();
        if entries.len() >= Self::MAX {
            let now = now();
            entries.retain(|_, v| v.identity.expires_at + LEEWAY_SECS >= now);
            if entries.len() >= Self::MAX {
                entries.clear();
            }
        }
        entries.insert(digest, verified);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Verified>> {
        // Entries are inserted and removed whole: a panic cannot leave one torn.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The full check: the signature against the provider's key, then the claims.
async fn verify_signature_and_claims(
    provider: &Arc<Provider>,
    token: &str,
) -> Result<Verified, AuthError> {
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
    validation.leeway = LEEWAY_SECS as u64;
    let claims = decode::<AccessClaims>(token, &key, &validation)
        .map_err(|e| invalid(format!("rejected: {e}")))?
        .claims;
    let client_id = claims
        .azp
        .ok_or_else(|| invalid("token names no client (azp)".into()))?;
    if claims.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
        return Err(invalid(format!(
            "not an access token (typ {:?})",
            claims.typ
        )));
    }
    Ok(Verified {
        identity: Identity {
            sub: claims.sub,
            email: claims.email,
            name: claims.name.or(claims.preferred_username),
            roles: claims.realm_access.roles,
            expires_at: claims.exp,
            client_id,
        },
        kid,
        jwk,
    })
}
