//! The user's plan in their Keycloak user attributes, through the Admin
//! REST API (contracts/keycloak-admin-users-subset.json) with a service
//! account's client-credentials token.
//!
//! Keycloak's `PUT /users/{id}` replaces the whole user: whatever the body
//! leaves out (attributes, even `email` or `firstName`) is cleared. So the
//! user is read, our attributes are merged into that representation, and it
//! is written back whole. Keycloak 24+ also drops, silently and with a 204,
//! attributes its user profile does not declare: the first write of each
//! process is read back and a missing attribute logged loudly.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgConnection;
use url::Url;

use super::SyncError;
use crate::{Config, Secret, ids::UserId, subscriptions::state};

/// The attributes we own, in the user's representation (arrays of strings).
pub const ATTRIBUTES: [&str; 6] = [
    "subscription_tier",
    "subscription_status",
    "stripe_customer_id",
    "stripe_subscription_id",
    "subscription_start_date",
    "subscription_end_date",
];

/// What a user with no live plan has (as `GET /subscription-status` says).
const NO_PLAN_TIER: &str = "trial";
const TIMEOUT: Duration = Duration::from_secs(10);
/// A token is renewed this long before Keycloak says it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(30);

pub struct KeycloakAdmin {
    http: reqwest::Client,
    token_url: Url,
    /// `…/admin/realms/{realm}/users`.
    users_url: Url,
    client_id: String,
    client_secret: Secret,
    token: tokio::sync::Mutex<Option<(String, Instant)>>,
    /// Whether a write has been read back in this process.
    checked: AtomicBool,
    /// Attributes Keycloak dropped on that read-back (shown to admins).
    dropped: Mutex<Vec<String>>,
}

impl KeycloakAdmin {
    /// The client, when `KEYCLOAK_ADMIN_CLIENT_ID`/`SECRET` are set. The
    /// Admin API lives beside the realm the app logs users in with:
    /// `https://host/realms/R` → `https://host/admin/realms/R`.
    pub fn new(config: &Config) -> Option<Self> {
        let admin = config.keycloak_admin.as_ref()?;
        let issuer = config.oidc.issuer_url.as_str().trim_end_matches('/');
        let (base, realm) = issuer.rsplit_once("/realms/")?;
        let users_url = Url::parse(&format!("{base}/admin/realms/{realm}/users")).ok()?;
        let token_url = Url::parse(&format!("{issuer}/protocol/openid-connect/token")).ok()?;
        let http = crate::http::client_builder()
            .timeout(TIMEOUT)
            .build()
            .ok()?;
        Some(KeycloakAdmin {
            http,
            token_url,
            users_url,
            client_id: admin.client_id.clone(),
            client_secret: admin.client_secret.clone(),
            token: tokio::sync::Mutex::new(None),
            checked: AtomicBool::new(false),
            dropped: Mutex::new(Vec::new()),
        })
    }

    /// Attributes Keycloak dropped when this process read its first write
    /// back: the realm's user profile does not declare them.
    pub fn dropped_attributes(&self) -> Vec<String> {
        self.dropped.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// A service-account token, cached until shortly before it expires.
    async fn token(&self, renew: bool) -> Result<String, SyncError> {
        let mut cached = self.token.lock().await;
        if !renew
            && let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let response = self
            .http
            .post(self.token_url.clone())
            .basic_auth(&self.client_id, Some(self.client_secret.expose()))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(|e| {
                SyncError::Retryable(format!("Keycloak token endpoint unreachable: {e}"))
            })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let reason = format!(
                "Keycloak refused the service account's token request ({status}: {})",
                body["error_description"]
                    .as_str()
                    .or(body["error"].as_str())
                    .unwrap_or("no reason given")
            );
            return Err(
                if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                    SyncError::Retryable(reason)
                } else {
                    SyncError::Permanent(format!(
                        "{reason}; check KEYCLOAK_ADMIN_CLIENT_ID/SECRET and that the client has a service account"
                    ))
                },
            );
        }
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| {
                SyncError::Retryable("Keycloak's token response has no access_token".into())
            })?
            .to_owned();
        let lifetime = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(60));
        *cached = Some((
            token.clone(),
            Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN),
        ));
        Ok(token)
    }

    /// One Admin API call; a 401 renews the token once. 5xx, 429 and
    /// transport errors are retryable; the caller judges other statuses.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), SyncError> {
        let mut renew = false;
        loop {
            let token = self.token(renew).await?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| {
                SyncError::Retryable(format!("Keycloak Admin API unreachable: {e}"))
            })?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !renew {
                renew = true;
                continue;
            }
            let text = response.text().await.unwrap_or_default();
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                return Err(SyncError::Retryable(format!(
                    "Keycloak {method} {} answered {status}",
                    url.path()
                )));
            }
            let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
            return Ok((status, json));
        }
    }

    fn user_url(&self, id: &str) -> Result<Url, SyncError> {
        let mut url = self.users_url.clone();
        url.path_segments_mut()
            .map_err(|()| SyncError::Permanent("bad Keycloak URL".into()))?
            .push(id);
        Ok(url)
    }

    /// The user's full representation: by id (our stored subject), else by
    /// exact e-mail.
    async fn find_user(&self, subject: &str, email: Option<&str>) -> Result<Value, SyncError> {
        let (status, body) = self
            .call(Method::GET, self.user_url(subject)?, None)
            .await?;
        match status {
            StatusCode::OK => return Ok(body),
            StatusCode::NOT_FOUND => {}
            other => return Err(refused("GET user", other, &body)),
        }
        let Some(email) = email else {
            return Err(SyncError::Permanent(format!(
                "no Keycloak user has id {subject}, and the user has no e-mail to look for"
            )));
        };
        let mut url = self.users_url.clone();
        url.query_pairs_mut()
            .append_pair("email", email)
            .append_pair("exact", "true");
        let (status, body) = self.call(Method::GET, url, None).await?;
        if status != StatusCode::OK {
            return Err(refused("GET users by e-mail", status, &body));
        }
        let found = body.as_array().into_iter().flatten().find(|u| {
            u["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        });
        let Some(id) = found.and_then(|u| u["id"].as_str()) else {
            return Err(SyncError::Permanent(format!(
                "no Keycloak user has id {subject} or e-mail {email}"
            )));
        };
        // The search may answer a brief representation: read the whole user.
        let (status, body) = self.call(Method::GET, self.user_url(id)?, None).await?;
        match status {
            StatusCode::OK => Ok(body),
            other => Err(refused("GET user", other, &body)),
        }
    }

    /// Merges `wanted` into the user's attributes (`None` removes one) and
    /// writes the whole user back, unless nothing changes.
    pub async fn apply(
        &self,
        subject: &str,
        email: Option<&str>,
        wanted: &BTreeMap<&'static str, Option<String>>,
    ) -> Result<(), SyncError> {
        let mut user = self.find_user(subject, email).await?;
        let id = user["id"]
            .as_str()
            .ok_or_else(|| SyncError::Permanent("Keycloak's user has no id".into()))?
            .to_owned();
        if !merge(&mut user, wanted) {
            return Ok(());
        }
        let url = self.user_url(&id)?;
        let (status, body) = self.call(Method::PUT, url.clone(), Some(&user)).await?;
        if !status.is_success() {
            return Err(refused("PUT user", status, &body));
        }
        if !self.checked.swap(true, Ordering::SeqCst) {
            self.read_back(url, wanted).await;
        }
        Ok(())
    }

    /// Reads the user back once per process: Keycloak answers 204 even when
    /// its user profile made it drop our attributes.
    async fn read_back(&self, url: Url, wanted: &BTreeMap<&'static str, Option<String>>) {
        let Ok((StatusCode::OK, stored)) = self.call(Method::GET, url, None).await else {
            self.checked.store(false, Ordering::SeqCst);
            return;
        };
        let dropped: Vec<String> = wanted
            .iter()
            .filter(|(name, value)| {
                value.is_some() && stored["attributes"][**name][0].as_str() != value.as_deref()
            })
            .map(|(name, _)| (*name).to_owned())
            .collect();
        if !dropped.is_empty() {
            tracing::error!(
                attributes = ?dropped,
                "KEYCLOAK DROPPED USER ATTRIBUTES: its user profile does not declare them, so other \
                 services cannot read the tier. Declare them in the realm's user profile (Realm settings → \
                 User profile), editable by admins only (see README, \"Real Keycloak\")"
            );
        }
        if let Ok(mut d) = self.dropped.lock() {
            *d = dropped;
        }
    }
}

/// Sets `wanted` in `user["attributes"]`; whether anything changed.
pub fn merge(user: &mut Value, wanted: &BTreeMap<&'static str, Option<String>>) -> bool {
    if !user["attributes"].is_object() {
        user["attributes"] = json!({});
    }
    let attributes = user["attributes"]
        .as_object_mut()
        .expect("made an object above");
    let mut changed = false;
    for (name, value) in wanted {
        match value {
            Some(value) => {
                let new = json!([value]);
                if attributes.get(*name) != Some(&new) {
                    attributes.insert((*name).to_owned(), new);
                    changed = true;
                }
            }
            None => changed |= attributes.remove(*name).is_some(),
        }
    }
    changed
}

fn refused(what: &str, status: StatusCode, body: &Value) -> SyncError {
    let detail = body["errorMessage"]
        .as_str()
        .or(body["error"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| body.to_string());
    let hint = match status {
        StatusCode::FORBIDDEN => {
            "; the service account needs realm-management's view-users and manage-users roles"
        }
        _ => "",
    };
    SyncError::Permanent(format!("Keycloak refused {what}: {status} {detail}{hint}"))
}

/// The attributes that describe `user`'s plan now, with their subject and
/// e-mail; `None` if they are not our user.
pub async fn wanted_for(
    conn: &mut PgConnection,
    user: UserId,
) -> Result<
    Option<(
        String,
        Option<String>,
        BTreeMap<&'static str, Option<String>>,
    )>,
    SyncError,
> {
    let row: Option<(String, Option<String>, Option<String>)> =
        sqlx::query_as("select keycloak_sub, email, stripe_customer_id from users where id = $1")
            .bind(user)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((subject, email, customer)) = row else {
        return Ok(None);
    };
    let current = state::current_for_user(&mut *conn, user)
        .await
        .map_err(|e| SyncError::Retryable(e.to_string()))?;
    let live = current.as_ref().filter(|s| s.stripe.status.is_live());
    let date = |d: chrono::DateTime<chrono::Utc>| d.date_naive().to_string();
    let wanted = BTreeMap::from([
        (
            "subscription_tier",
            Some(
                live.and_then(|s| s.tier_code.clone())
                    .unwrap_or_else(|| NO_PLAN_TIER.to_owned()),
            ),
        ),
        (
            "subscription_status",
            current
                .as_ref()
                .map(|s| s.stripe.status.as_str().to_owned()),
        ),
        (
            "stripe_customer_id",
            customer.or_else(|| current.as_ref().map(|s| s.stripe.customer_id.to_string())),
        ),
        (
            "stripe_subscription_id",
            live.map(|s| s.stripe.id.to_string()),
        ),
        (
            "subscription_start_date",
            live.map(|s| date(s.stripe.created)),
        ),
        (
            "subscription_end_date",
            match (live, current.as_ref()) {
                (Some(s), _) => s.stripe.current_period_end.map(date),
                (None, Some(ended)) => ended.stripe.ended_at.map(date),
                (None, None) => None,
            },
        ),
    ]);
    Ok(Some((subject, email, wanted)))
}

/// The job: `user`'s plan into their Keycloak attributes.
pub async fn sync_user(
    conn: &mut PgConnection,
    keycloak: &KeycloakAdmin,
    user: UserId,
) -> Result<(), SyncError> {
    let Some((subject, email, wanted)) = wanted_for(conn, user).await? else {
        return Err(SyncError::Permanent(format!(
            "user {user} does not exist here"
        )));
    };
    keycloak.apply(&subject, email.as_deref(), &wanted).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_what_is_not_ours_and_removes_what_ended() {
        let mut user = json!({
            "id": "u1", "email": "a@example.com", "firstName": "Alice",
            "attributes": { "department": ["research"], "stripe_subscription_id": ["sub_1"] }
        });
        let wanted = BTreeMap::from([
            ("subscription_tier", Some("trial".to_owned())),
            ("stripe_subscription_id", None),
        ]);
        assert!(merge(&mut user, &wanted));
        assert_eq!(user["attributes"]["department"], json!(["research"]));
        assert_eq!(user["attributes"]["subscription_tier"], json!(["trial"]));
        assert!(user["attributes"].get("stripe_subscription_id").is_none());
        assert_eq!(user["firstName"], "Alice");
        assert!(!merge(&mut user, &wanted), "a second merge changes nothing");
    }
}
