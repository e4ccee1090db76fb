//! The dev OpenID provider (`tools/dev-idp`), one per test: port 0, its own
//! data directory (so its own signing key), test controls on.

use std::{collections::HashMap, process::Child, time::Duration};

use serde_json::{Value, json};

pub const CLIENT_ID: &str = "ops-center-credits";
pub const CLIENT_SECRET: &str = "dev-only-client-secret";
/// The realm's service account for the Admin API (tier sync).
pub const SYNC_CLIENT_ID: &str = "ops-center-credits-sync";
pub const SYNC_CLIENT_SECRET: &str = "dev-only-sync-secret";
/// The realm's service that may spend credits (`credits-spender`).
pub const GATEWAY_CLIENT_ID: &str = "ops-center-model-gateway";
pub const GATEWAY_CLIENT_SECRET: &str = "dev-only-gateway-secret";

pub struct DevIdp {
    /// `http://127.0.0.1:PORT/realms/ops-center`
    pub issuer: String,
    /// `http://127.0.0.1:PORT`
    pub root: String,
    child: Child,
    _data_dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl DevIdp {
    /// Starts the provider and waits for its ready line.
    pub fn start() -> DevIdp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let data_arg = data_dir.path().to_string_lossy().into_owned();
        let (child, issuer) = super::spawn_node(
            "tools/dev-idp/server.mjs",
            &["--port", "0", "--test-controls", "--data-dir", &data_arg],
            "dev-idp listening on ",
        );
        let url = url::Url::parse(&issuer).expect("issuer is a URL");
        let root = url.origin().ascii_serialization();
        DevIdp {
            issuer,
            root,
            child,
            _data_dir: data_dir,
            client: super::http_client(),
        }
    }

    /// Points the app's OIDC settings at this provider.
    pub fn configure(&self, env: &mut HashMap<String, String>) {
        env.insert("OIDC_ISSUER_URL".into(), self.issuer.clone());
        env.insert("OIDC_CLIENT_ID".into(), CLIENT_ID.into());
        env.insert("OIDC_CLIENT_SECRET".into(), CLIENT_SECRET.into());
    }

    /// Also gives the app the service account that syncs tiers into users.
    pub fn configure_sync(env: &mut HashMap<String, String>) {
        env.insert("KEYCLOAK_ADMIN_CLIENT_ID".into(), SYNC_CLIENT_ID.into());
        env.insert(
            "KEYCLOAK_ADMIN_CLIENT_SECRET".into(),
            SYNC_CLIENT_SECRET.into(),
        );
    }

    /// The realm's user `username` as the provider holds it now (its dev
    /// users page, JSON).
    pub async fn user(&self, username: &str) -> Value {
        let users: Value = self
            .client
            .get(format!("{}/dev/users?format=json", self.issuer))
            .send()
            .await
            .expect("dev users request")
            .json()
            .await
            .expect("dev users JSON");
        users
            .as_array()
            .expect("a list of users")
            .iter()
            .find(|u| u["username"] == username)
            .unwrap_or_else(|| panic!("no user {username}"))
            .clone()
    }

    /// Makes the next `count` Admin API requests of `method` (`*`: any)
    /// answer `status`; `None`: until [`DevIdp::clear_admin_faults`].
    pub async fn admin_faults(&self, method: &str, status: u16, count: Option<u32>) {
        self.control(
            "/_dev/admin-api/faults",
            json!({ "method": method, "status": status, "count": count }),
        )
        .await;
    }

    pub async fn clear_admin_faults(&self) {
        let response = self
            .client
            .delete(format!("{}/_dev/admin-api/faults", self.root))
            .send()
            .await
            .expect("clear faults");
        assert!(response.status().is_success());
    }

    /// The Admin API requests received: `[{method, path, query, body, status}]`.
    pub async fn admin_requests(&self) -> Vec<Value> {
        let body: Value = self
            .client
            .get(format!("{}/_dev/admin-api/requests", self.root))
            .send()
            .await
            .expect("admin requests")
            .json()
            .await
            .expect("admin requests JSON");
        body.as_array().cloned().unwrap_or_default()
    }

    /// A service-account token (client credentials) of the sync client.
    pub async fn service_token(&self) -> String {
        self.client_token(SYNC_CLIENT_ID, SYNC_CLIENT_SECRET).await
    }

    /// A token of the model gateway, a service holding `credits-spender`.
    pub async fn spender_token(&self) -> String {
        self.client_token(GATEWAY_CLIENT_ID, GATEWAY_CLIENT_SECRET)
            .await
    }

    /// A client-credentials token of `client_id`.
    pub async fn client_token(&self, client_id: &str, secret: &str) -> String {
        let body: Value = self
            .client
            .post(format!("{}/protocol/openid-connect/token", self.issuer))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token request")
            .json()
            .await
            .expect("token JSON");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// An access token from the password grant (Keycloak's direct access grant).
    pub async fn password_token(&self, username: &str, password: &str) -> String {
        self.password_tokens(username, password).await.0
    }

    /// The access token and the ID token of one password grant.
    pub async fn password_tokens(&self, username: &str, password: &str) -> (String, String) {
        let response = self
            .client
            .post(format!("{}/protocol/openid-connect/token", self.issuer))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[
                ("grant_type", "password"),
                ("username", username),
                ("password", password),
                ("scope", "openid profile email"),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(response.status(), 200, "password grant for {username}");
        let body: Value = response.json().await.expect("token JSON");
        let token = |name: &str| {
            body[name]
                .as_str()
                .unwrap_or_else(|| panic!("{name} in the token response"))
                .to_owned()
        };
        (token("access_token"), token("id_token"))
    }

    /// A token built by the provider's test controls (`POST /_dev/mint`).
    pub async fn mint(&self, request: Value) -> String {
        let body = self.control("/_dev/mint", request).await;
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Rotates the signing key; returns `(new kid, previous kid)`.
    pub async fn rotate_keys(&self, keep_old: bool) -> (String, String) {
        let body = self
            .control("/_dev/rotate-keys", json!({ "keep_old": keep_old }))
            .await;
        (
            body["kid"].as_str().expect("kid").to_owned(),
            body["previous_kid"]
                .as_str()
                .expect("previous_kid")
                .to_owned(),
        )
    }

    /// Holds every later JWKS answer back by `delay` (`POST /_dev/jwks`);
    /// returns how many JWKS requests the provider has received so far.
    pub async fn delay_jwks(&self, delay: Duration) -> u64 {
        let millis = u64::try_from(delay.as_millis()).expect("a short delay");
        let body = self
            .control("/_dev/jwks", json!({ "delay_ms": millis }))
            .await;
        body["requests"].as_u64().expect("requests")
    }

    /// How many JWKS requests the provider has received (answered or not).
    pub async fn jwks_requests(&self) -> u64 {
        let body = self.control("/_dev/jwks", json!({})).await;
        body["requests"].as_u64().expect("requests")
    }

    async fn control(&self, path: &str, request: Value) -> Value {
        let response = self
            .client
            .post(format!("{}{path}", self.root))
            .json(&request)
            .send()
            .await
            .expect("test control request");
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.expect("test control JSON")
    }
}

impl Drop for DevIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
