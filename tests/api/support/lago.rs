//! The Lago fake (`tools/lago-fake`), one per test: port 0. Every request
//! the app sends, and every answer the fake gives, is checked against
//! Lago's OpenAPI contract; [`LagoFake::assert_no_violations`] fails the
//! test on any mismatch.

use std::{collections::HashMap, process::Child};

use serde_json::{Value, json};

pub const API_KEY: &str = "dev-lago-key";

pub struct LagoFake {
    /// `http://127.0.0.1:PORT`
    pub root: String,
    child: Child,
    client: reqwest::Client,
}

impl LagoFake {
    pub fn start() -> LagoFake {
        let (child, root) = super::spawn_node(
            "tools/lago-fake/server.mjs",
            &["--port", "0", "--api-key", API_KEY],
            "lago-fake listening on ",
        );
        LagoFake {
            root,
            child,
            client: super::http_client(),
        }
    }

    /// Points the app's Lago settings at this fake.
    pub fn configure(&self, env: &mut HashMap<String, String>) {
        env.insert("LAGO_API_URL".into(), self.root.clone());
        env.insert("LAGO_API_KEY".into(), API_KEY.into());
    }

    async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}/_fake{path}", self.root))
            .send()
            .await
            .expect("fake control request")
            .json()
            .await
            .expect("fake control JSON")
    }

    /// What the fake received: `[{method, path, query, body, status}]`.
    pub async fn requests(&self) -> Vec<Value> {
        self.get("/requests")
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Customers, plans and subscriptions as the fake holds them.
    pub async fn state(&self) -> Value {
        self.get("/state").await
    }

    pub async fn assert_no_violations(&self) {
        let violations = self.get("/violations").await;
        assert_eq!(
            violations.as_array().map(Vec::len),
            Some(0),
            "requests or answers that break Lago's contract (or our mirror-only rule): {violations:#}"
        );
    }

    /// The next `count` requests (`None`: until cleared) of `method` under
    /// `path_prefix` answer `status`.
    pub async fn faults(&self, method: &str, path_prefix: &str, status: u16, count: Option<u32>) {
        let response = self
            .client
            .post(format!("{}/_fake/faults", self.root))
            .json(&json!({ "method": method, "path_prefix": path_prefix, "status": status, "count": count }))
            .send()
            .await
            .expect("faults request");
        assert!(response.status().is_success(), "setting faults");
    }

    pub async fn clear_faults(&self) {
        let response = self
            .client
            .delete(format!("{}/_fake/faults", self.root))
            .send()
            .await
            .expect("clear faults");
        assert!(response.status().is_success());
    }
}

impl Drop for LagoFake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
