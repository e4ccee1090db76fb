use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use stripe_emulator::{Config, Emulator, EndpointConfig};
use tokio::sync::Notify;

pub const KEY: &str = "sk_test_emulator";
/// In a receiver plan: answer 200 only after 2 seconds (longer than the tests' delivery timeout).
pub const SLOW: u16 = 0;
pub const SECRET: &str = "whsec_test_secret_for_receiver";

/// One webhook request as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub signature: String,
    pub body: String,
    pub json: Value,
}

impl Received {
    pub fn event_type(&self) -> &str {
        self.json["type"].as_str().unwrap_or("")
    }
}

#[derive(Default)]
pub struct ReceiverState {
    pub received: Mutex<Vec<Received>>,
    /// Statuses to answer with, in order; 200 once they run out. `SLOW` = wait 2 s, then 200.
    pub plan: Mutex<VecDeque<u16>>,
    pub notify: Notify,
}

pub struct Receiver {
    pub url: String,
    pub state: Arc<ReceiverState>,
}

impl Receiver {
    pub async fn start() -> Self {
        let state = Arc::new(ReceiverState::default());
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, state }
    }

    pub fn answer_with(&self, statuses: &[u16]) {
        self.state
            .plan
            .lock()
            .unwrap()
            .extend(statuses.iter().copied());
    }

    pub fn all(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn of_type(&self, event_type: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| r.event_type() == event_type)
            .collect()
    }

    /// Waits (up to 10 s) until `count` requests of this type have arrived.
    pub async fn wait_for(&self, event_type: &str, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.state.notify.notified();
            let found = self.of_type(event_type);
            if found.len() >= count {
                return found;
            }
            let types: Vec<String> = self
                .all()
                .iter()
                .map(|r| r.event_type().to_owned())
                .collect();
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out waiting for {count} × {event_type}; got {types:?}");
            }
        }
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let body = String::from_utf8(body.to_vec()).unwrap();
    let received = Received {
        signature: headers
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        json: serde_json::from_str(&body).unwrap_or(Value::Null),
        body,
    };
    let status = state.plan.lock().unwrap().pop_front().unwrap_or(200);
    state.received.lock().unwrap().push(received);
    state.notify.notify_waiters();
    if status == SLOW {
        tokio::time::sleep(Duration::from_secs(2)).await;
        return StatusCode::OK;
    }
    StatusCode::from_u16(status).unwrap()
}

pub struct Harness {
    pub emulator: Emulator,
    pub receiver: Receiver,
    pub client: stripe::Client,
    pub http: reqwest::Client,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let receiver = Receiver::start().await;
        let mut config = Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            public_url: None,
            seed: true,
            webhooks: vec![EndpointConfig {
                url: receiver.url.clone(),
                secret: SECRET.into(),
                events: None,
            }],
            retry_base_secs: 0.05,
            max_attempts: 4,
            delivery_timeout_secs: 2.0,
        };
        adjust(&mut config);
        let emulator = Emulator::start(config).await.unwrap();
        let client = stripe::ClientBuilder::new(KEY)
            .url(emulator.base_url.clone())
            .build()
            .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            emulator,
            receiver,
            client,
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.base_url)
    }

    /// Posts the pay form as a browser would.
    pub async fn pay(&self, session_url: &str, card: &str) -> reqwest::Response {
        self.http
            .post(session_url)
            .form(&[
                ("email", "buyer@example.com"),
                ("cardNumber", card),
                ("cardExpiry", "12 / 34"),
                ("cardCvc", "123"),
                ("billingName", "Ada Buyer"),
            ])
            .send()
            .await
            .unwrap()
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(self.url(&format!("/_emulator{path}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let json: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {json}");
        json
    }

    pub async fn control_get(&self, path: &str) -> Value {
        self.http
            .get(self.url(&format!("/_emulator{path}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}
