//! Discovery and the JWKS cache.
//!
//! The JWKS is fetched outside any lock that token checks wait on: a check
//! whose `kid` is in the cached keys never waits for a fetch. Fetches are
//! single-flight: while one runs, callers that need fresh keys (an unknown
//! `kid`, or no keys yet) wait for its outcome instead of starting another,
//! and a stale cache is refreshed in the background while it keeps serving.

use std::{
    sync::{Arc, Mutex as StdMutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use openidconnect::{
    ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    ProviderMetadataWithLogout,
    core::{CoreClient, CoreJsonWebKeySet},
};
use tokio::sync::Mutex;

use super::AuthError;
use crate::{Config, Secret};

/// After this long the JWKS is refreshed (in the background) on next use, so removed keys stop working.
const JWKS_MAX_AGE: Duration = Duration::from_secs(600);
/// A refetch (for an unknown `kid`, or of old keys) starts at least this long
/// after the last fetch ended (garbage kids must not hammer the provider).
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
    pub(super) spender_role: String,
    /// No redirects: the token endpoint must never be followed elsewhere (SSRF).
    pub(super) http: reqwest::Client,
    metadata: Mutex<Option<ProviderMetadataWithLogout>>,
    /// The keys in use. Locked only to read or swap them, never across an `.await`.
    jwks: StdMutex<JwksState>,
    /// Access tokens already verified (`tokens::VerifiedTokens`).
    pub(super) verified: super::tokens::VerifiedTokens,
    /// Held by the one JWKS fetch in flight.
    jwks_fetch: Arc<Mutex<()>>,
}

pub(super) struct CachedJwks {
    pub(super) set: JwkSet,
    pub(super) core: CoreJsonWebKeySet,
    fetched_at: Instant,
}

#[derive(Default)]
struct JwksState {
    keys: Option<Arc<CachedJwks>>,
    /// When the last fetch ended, whether it worked or not.
    last_attempt: Option<Instant>,
    /// Counts finished fetches: a caller that waited for a fetch uses its
    /// outcome instead of fetching again.
    generation: u64,
    /// Why the last fetch failed, if it did.
    last_error: Option<String>,
}

/// What a caller of [`Provider::jwks`] does with the cache as it stands.
enum JwksNeed {
    /// The cached keys will do.
    Use(Arc<CachedJwks>),
    /// The cached keys will do, but they are old: refresh them behind the caller's back.
    UseAndRefresh(Arc<CachedJwks>),
    /// Fresh keys are needed before answering.
    Fetch,
}

impl JwksState {
    fn need(&self, kid: Option<&str>) -> JwksNeed {
        let Some(keys) = &self.keys else {
            return JwksNeed::Fetch;
        };
        let may_refetch = self
            .last_attempt
            .is_none_or(|at| at.elapsed() >= JWKS_MIN_REFRESH);
        let unknown_kid = kid.is_some_and(|kid| keys.set.find(kid).is_none());
        if !may_refetch {
            JwksNeed::Use(keys.clone())
        } else if unknown_kid {
            JwksNeed::Fetch
        } else if keys.fetched_at.elapsed() > JWKS_MAX_AGE {
            JwksNeed::UseAndRefresh(keys.clone())
        } else {
            JwksNeed::Use(keys.clone())
        }
    }

    /// The outcome of the last fetch, for callers that waited for it.
    fn outcome(&self) -> Result<Arc<CachedJwks>, AuthError> {
        self.keys.clone().ok_or_else(|| {
            AuthError::ProviderUnavailable(
                self.last_error
                    .clone()
                    .unwrap_or_else(|| "no JWKS fetched yet".into()),
            )
        })
    }
}

impl Provider {
    pub(super) fn new(config: &Config) -> Self {
        let http = crate::http::client_builder()
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
            spender_role: config.oidc.spender_role.clone(),
            http,
            metadata: Mutex::new(None),
            jwks: StdMutex::new(JwksState::default()),
            jwks_fetch: Arc::new(Mutex::new(())),
            verified: Default::default(),
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
    pub(super) async fn client(self: &Arc<Self>) -> Result<Client, AuthError> {
        let metadata = self.metadata().await?;
        let jwks = self.jwks(None).await?;
        Ok(Client::from_provider_metadata(
            metadata.set_jwks(jwks.core.clone()),
            ClientId::new(self.client_id.clone()),
            Some(ClientSecret::new(self.client_secret.expose().to_owned())),
        ))
    }

    /// The cached JWKS; fetched when missing, or when `kid` is not in it (at
    /// most every [`JWKS_MIN_REFRESH`]); refreshed in the background when
    /// older than [`JWKS_MAX_AGE`]. A known `kid` never waits for a fetch.
    pub(super) async fn jwks(
        self: &Arc<Self>,
        kid: Option<&str>,
    ) -> Result<Arc<CachedJwks>, AuthError> {
        let (need, seen) = {
            let state = self.jwks_state();
            (state.need(kid), state.generation)
        };
        match need {
            JwksNeed::Use(keys) => Ok(keys),
            JwksNeed::UseAndRefresh(keys) => {
                self.refresh_in_background(seen);
                Ok(keys)
            }
            JwksNeed::Fetch => {
                let _flight = self.jwks_fetch.lock().await;
                {
                    let state = self.jwks_state();
                    if state.generation != seen {
                        // A fetch ended while this caller waited: its outcome is this caller's.
                        return state.outcome();
                    }
                }
                self.fetch_and_store().await
            }
        }
    }

    pub(super) async fn key(self: &Arc<Self>, kid: &str) -> Result<Jwk, AuthError> {
        let jwks = self.jwks(Some(kid)).await?;
        jwks.set
            .find(kid)
            .cloned()
            .ok_or_else(|| AuthError::InvalidToken(format!("unknown signing key {kid:?}")))
    }

    fn jwks_state(&self) -> MutexGuard<'_, JwksState> {
        // The state is replaced whole under the lock, so a panic elsewhere cannot leave it torn.
        self.jwks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a refresh of stale keys unless a fetch is in flight or one
    /// ended since the caller looked (generation `seen`).
    fn refresh_in_background(self: &Arc<Self>, seen: u64) {
        let Ok(flight) = Arc::clone(&self.jwks_fetch).try_lock_owned() else {
            return;
        };
        let provider = Arc::clone(self);
        tokio::spawn(async move {
            let _flight = flight;
            if provider.jwks_state().generation == seen {
                // Failures are logged and the cached keys kept.
                let _ = provider.fetch_and_store().await;
            }
        });
    }

    /// Fetches the JWKS and records the outcome. The caller holds `jwks_fetch`.
    async fn fetch_and_store(&self) -> Result<Arc<CachedJwks>, AuthError> {
        let fetched = self.fetch_jwks().await;
        let mut state = self.jwks_state();
        state.generation += 1;
        state.last_attempt = Some(Instant::now());
        match fetched {
            Ok(keys) => {
                let keys = Arc::new(keys);
                state.keys = Some(keys.clone());
                state.last_error = None;
                Ok(keys)
            }
            Err(error) => {
                state.last_error = Some(match &error {
                    AuthError::ProviderUnavailable(why) => why.clone(),
                    other => other.to_string(),
                });
                match &state.keys {
                    // A stale cache still verifies known keys while the provider is down.
                    Some(keys) => {
                        tracing::warn!(error = %error, "JWKS refresh failed; keeping the cached keys");
                        Ok(keys.clone())
                    }
                    None => Err(error),
                }
            }
        }
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

pub(super) use crate::error_chain;
