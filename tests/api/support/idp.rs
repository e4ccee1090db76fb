//! The dev OpenID provider (`tools/dev-idp`), one per test: port 0, its own
//! data directory (so its own signing key), test controls on.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use serde_json::{Value, json};

pub const CLIENT_ID: &str = "ops-center-credits";
pub const CLIENT_SECRET: &str = "dev-only-client-secret";

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
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new("node")
            .arg(repo.join("tools/dev-idp/server.mjs"))
            .args(["--port", "0", "--test-controls", "--data-dir"])
            .arg(data_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs tools/dev-idp/server.mjs (npm ci --prefix tools/dev-idp first)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(issuer) = line.strip_prefix("dev-idp listening on ") {
                    let _ = tx.send(issuer.trim().to_owned());
                }
            }
        });
        let issuer = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(issuer) => issuer,
            Err(_) => {
                let _ = child.kill();
                panic!("dev-idp did not print its ready line within 30 s");
            }
        };
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
