//! Discovery and the JWKS cache.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use openidconnect::{
    ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    ProviderMetadataWithLogout,
    core::{CoreClient, CoreJsonWebKeySet},
};
use tokio::sync::Mutex;

use super::AuthError;
use crate::{Config, Secret};

/// After this long the JWKS is fetched again on next use, so removed keys stop working.
const JWKS_MAX_AGE: Duration = Duration::from_secs(600);
/// An unknown `kid` triggers a refetch at most this often (garbage kids must not hammer the provider).
pub(super) const JWKS_MIN_REFRESH: Duration = Duration::from_secs(2);

pub(super) type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

pub(super) struct Provider {
    pub(super) issuer_url: String,
    pub(super) client_id: String,
    client_secret: Secret,
    pub(super) admin_role: String,
    /// No redirects: the token endpoint must never be followed elsewhere (SSRF).
    pub(super) http: reqwest::Client,
    metadata: Mutex<Option<ProviderMetadataWithLogout>>,
    jwks: Mutex<Option<CachedJwks>>,
}

#[derive(Clone)]
pub(super) struct CachedJwks {
    pub(super) set: JwkSet,
    pub(super) core: CoreJsonWebKeySet,
    fetched_at: Instant,
}

impl Provider {
    pub(super) fn new(config: &Config) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .expect("a TLS-enabled HTTP client can be built");
        Provider {
            issuer_url: config
                .oidc
                .issuer_url
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            client_id: config.oidc.client_id.clone(),
            client_secret: config.oidc.client_secret.clone(),
            admin_role: config.oidc.admin_role.clone(),
            http,
            metadata: Mutex::new(None),
            jwks: Mutex::new(None),
        }
    }

    /// The discovery document, fetched once and cached; retried on the next
    /// call after a failure.
    pub(super) async fn metadata(&self) -> Result<ProviderMetadataWithLogout, AuthError> {
        let mut cached = self.metadata.lock().await;
        if let Some(metadata) = cached.as_ref() {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.issuer_url.clone())
            .map_err(|e| AuthError::ProviderUnavailable(format!("bad issuer URL: {e}")))?;
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                AuthError::ProviderUnavailable(format!(
                    "discovery at {} failed: {}",
                    self.issuer_url,
                    error_chain(&e)
                ))
            })?;
        tracing::info!(issuer = %self.issuer_url, "OpenID provider discovered");
        *cached = Some(metadata.clone());
        Ok(metadata)
    }

    /// An OpenID client for the provider, trusting the current JWKS.
    pub(super) async fn client(&self) -> Result<Client, AuthError> {
        let metadata = self.metadata().await?;
        let jwks = self.jwks(None).await?;
        Ok(Client::from_provider_metadata(
            metadata.set_jwks(jwks.core),
            ClientId::new(self.client_id.clone()),
            Some(ClientSecret::new(self.client_secret.expose().to_owned())),
        ))
    }

    /// The cached JWKS; fetched when missing or stale, or when `kid` is not
    /// in it (at most every [`JWKS_MIN_REFRESH`]).
    pub(super) async fn jwks(&self, kid: Option<&str>) -> Result<CachedJwks, AuthError> {
        let mut cached = self.jwks.lock().await;
        let refetch = match cached.as_ref() {
            None => true,
            Some(jwks) => {
                let age = jwks.fetched_at.elapsed();
                age > JWKS_MAX_AGE
                    || (kid.is_some_and(|kid| jwks.set.find(kid).is_none())
                        && age >= JWKS_MIN_REFRESH)
            }
        };
        if refetch {
            match self.fetch_jwks().await {
                Ok(jwks) => *cached = Some(jwks),
                // A stale cache still verifies known keys while the provider is down.
                Err(error) if cached.is_some() => {
                    tracing::warn!(error = %error, "JWKS refresh failed; keeping the cached keys");
                }
                Err(error) => return Err(error),
            }
        }
        Ok(cached.clone().expect("set above"))
    }

    pub(super) async fn key(&self, kid: &str) -> Result<Jwk, AuthError> {
        let jwks = self.jwks(Some(kid)).await?;
        jwks.set
            .find(kid)
            .cloned()
            .ok_or_else(|| AuthError::InvalidToken(format!("unknown signing key {kid:?}")))
    }

    async fn fetch_jwks(&self) -> Result<CachedJwks, AuthError> {
        let uri = self.metadata().await?.jwks_uri().url().clone();
        let unavailable = |e: &dyn std::error::Error| {
            AuthError::ProviderUnavailable(format!("JWKS fetch failed: {}", error_chain(e)))
        };
        let body = self
            .http
            .get(uri)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| unavailable(&e))?
            .bytes()
            .await
            .map_err(|e| unavailable(&e))?;
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| unavailable(&e))?;
        let core: CoreJsonWebKeySet = serde_json::from_slice(&body).map_err(|e| unavailable(&e))?;
        tracing::debug!(keys = set.keys.len(), "JWKS fetched");
        Ok(CachedJwks {
            set,
            core,
            fetched_at: Instant::now(),
        })
    }
}

pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
