//! A whole purchase world over HTTP: the real app, the in-process Stripe
//! emulator (hosted pay page, Stripe API, signed webhooks to the app's
//! credits endpoint) and the dev identity provider, plus the look-ups the
//! purchase-flow tests assert with (API views and `credit_ledger` rows).

use std::{collections::HashMap, time::Duration};

use backend::{catalogue, detach::Detached, stripe::StripeGateway};
use serde_json::{Value, json};
use stripe_emulator::Emulator;

use super::{DevIdp, TestApp, spawn_app_with};

pub const KEY: &str = "sk_test_credits_api";
pub const WEBHOOK_SECRET: &str = "whsec_credits_api";

/// A card that pays at once.
pub const CARD_OK: &str = "4242424242424242";
/// A card that is declined on the pay page.
pub const CARD_DECLINED: &str = "4000000000000002";
/// A delayed payment (checkout completes unpaid) that settles as succeeded.
pub const CARD_DELAYED_OK: &str = "4000000000000077";
/// A delayed payment (checkout completes unpaid) that settles as failed.
pub const CARD_DELAYED_FAIL: &str = "4000000000000085";

/// How long a poll waits for something asynchronous (a webhook) to show.
const POLL_FOR: Duration = Duration::from_secs(15);
const POLL_EVERY: Duration = Duration::from_millis(50);

pub struct World {
    pub app: TestApp,
    pub emulator: Emulator,
    pub idp: DevIdp,
    pub http: reqwest::Client,
    pub stripe: StripeGateway,
    /// The app's environment (for [`World::another_instance`]).
    pub env: HashMap<String, String>,
}

/// Starts the emulator, the identity provider and the app (catalogue synced
/// into the emulator), with the app's credits webhook registered.
pub async fn world() -> World {
    world_with(|_| {}).await
}

/// Like [`world`], with the app's environment adjusted by `configure` last
/// (e.g. `RATE_LIMIT_BURST`).
pub async fn world_with(configure: impl FnOnce(&mut HashMap<String, String>)) -> World {
    let emulator = super::stripe::start_emulator().await;
    let idp = DevIdp::start();
    let mut env_used = HashMap::new();
    let app = spawn_app_with(|env| {
        world_env(env, &emulator, &idp);
        configure(env);
        env_used = env.clone();
    })
    .await;
    let stripe = super::stripe::gateway(&emulator, KEY);
    catalogue::sync(&app.pool, &stripe).await.unwrap();
    let world = World {
        app,
        emulator,
        idp,
        http: super::http_client(),
        stripe,
        env: env_used,
    };
    world
        .control(
            "/webhooks",
            json!({ "url": world.app.url("/api/v1/billing/credits/webhook"), "secret": WEBHOOK_SECRET }),
        )
        .await;
    world
}

/// The app's environment in a world: the emulator's Stripe, the provider.
fn world_env(env: &mut HashMap<String, String>, emulator: &Emulator, idp: &DevIdp) {
    env.insert("STRIPE_SECRET_KEY".into(), KEY.into());
    env.insert("STRIPE_API_BASE".into(), emulator.base_url.clone());
    env.insert(
        "STRIPE_WEBHOOK_SECRET_CREDITS".into(),
        WEBHOOK_SECRET.into(),
    );
    idp.configure(env);
}

impl World {
    /// Starts another instance of the app on the same database (as a second
    /// replica behind a load balancer would); returns its base URL and its
    /// detached work.
    pub async fn another_instance(&self) -> (String, Detached) {
        let app = self.another_application().await;
        let instance = (
            format!("http://{}", app.local_addr()),
            app.state().detached.clone(),
        );
        tokio::spawn(app.run_until_stopped());
        instance
    }

    /// Another instance of the app on the same database, bound but not yet
    /// serving: the caller runs it (and decides when it stops).
    pub async fn another_application(&self) -> ops_center_credits::Application {
        let mut env = self.env.clone();
        env.insert("LEPTOS_SITE_ADDR".into(), "127.0.0.1:0".into());
        let config = backend::Config::from_lookup(|name| env.get(name).cloned())
            .expect("valid test configuration");
        ops_center_credits::Application::build(config)
            .await
            .expect("another instance starts")
    }

    // ------------------------------------------------------------ emulator

    /// `POST /_emulator{path}` with a JSON body; panics unless 2xx.
    pub async fn control(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/_emulator{path}", self.emulator.base_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    /// `GET {path}` on the emulator's Stripe API (e.g. `/v1/events?…`).
    pub async fn stripe_get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.emulator.base_url))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// `POST {path}` on the emulator's Stripe API, form-encoded as Stripe expects.
    pub async fn stripe_post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.emulator.base_url))
            .bearer_auth(KEY)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "POST {path}: {body}");
        body
    }

    /// Ids of the events of `event_type` whose object has `field` = `value`
    /// (e.g. `("checkout.session.completed", "id", session_id)`), oldest first.
    pub async fn events(&self, event_type: &str, field: &str, value: &str) -> Vec<String> {
        let list = self
            .stripe_get(&format!("/v1/events?type={event_type}&limit=100"))
            .await;
        let mut ids: Vec<String> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["data"]["object"][field] == value)
            .map(|event| event["id"].as_str().unwrap().to_owned())
            .collect();
        ids.reverse();
        ids
    }

    /// The one event of `event_type` about the object with `field` = `value`.
    pub async fn event(&self, event_type: &str, field: &str, value: &str) -> String {
        let mut ids = self.events(event_type, field, value).await;
        assert_eq!(
            ids.len(),
            1,
            "expected one {event_type} with {field}={value}: {ids:?}"
        );
        ids.remove(0)
    }

    /// Waits until the app has acknowledged (2xx) a delivery of `event_id`,
    /// so whatever it was going to do has been done.
    pub async fn wait_for_delivery(&self, event_id: &str) {
        let deadline = tokio::time::Instant::now() + POLL_FOR;
        let mut attempts = Value::Null;
        while tokio::time::Instant::now() < deadline {
            attempts = self
                .http
                .get(format!(
                    "{}/_emulator/deliveries?event_id={event_id}",
                    self.emulator.base_url
                ))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if attempts["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["success"] == true)
            {
                return;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        panic!("{event_id} was never delivered successfully: {attempts}");
    }

    /// Delivers `event_id` again `times` times (all at once if `concurrent`);
    /// asserts every delivery was acknowledged with 2xx.
    pub async fn redeliver(&self, event_id: &str, times: u32, concurrent: bool) {
        let attempts = self
            .control(
                &format!("/events/{event_id}/deliver"),
                json!({ "times": times, "concurrent": concurrent }),
            )
            .await;
        let attempts = attempts["data"].as_array().unwrap();
        assert_eq!(attempts.len(), times as usize, "{attempts:?}");
        for attempt in attempts {
            assert_eq!(attempt["success"], true, "{attempt}");
        }
    }

    /// Settles a delayed payment (`succeeded` or `failed`).
    pub async fn settle(&self, session_id: &str, outcome: &str) {
        self.control(
            &format!("/checkout/sessions/{session_id}/settle"),
            json!({ "outcome": outcome }),
        )
        .await;
    }

    /// Changes an open session as no Stripe call can (`amount_total`,
    /// `currency`, `livemode`), or reopens an expired one (`reopen`), so
    /// that what the buyer pays differs from what we asked for.
    pub async fn amend_session(&self, session_id: &str, changes: Value) -> Value {
        self.control(&format!("/checkout/sessions/{session_id}/amend"), changes)
            .await
    }

    /// Refunds `amount` cents (all that is left if `None`) of the session's payment.
    pub async fn refund(&self, session_id: &str, amount: Option<i64>) -> Value {
        let session = self
            .stripe_get(&format!("/v1/checkout/sessions/{session_id}"))
            .await;
        let payment_intent = session["payment_intent"].as_str().unwrap().to_owned();
        let amount = amount.map(|a| a.to_string());
        let mut form = vec![("payment_intent", payment_intent.as_str())];
        if let Some(amount) = &amount {
            form.push(("amount", amount.as_str()));
        }
        self.stripe_post("/v1/refunds", &form).await
    }

    /// A refund that succeeded fails after the fact: the emulator sends
    /// `charge.refund.updated` (status `failed`) and friends. Returns the refund.
    pub async fn fail_refund(&self, refund_id: &str) -> Value {
        self.control(&format!("/refunds/{refund_id}/fail"), json!({}))
            .await
    }

    /// The buyer disputes the payment of `session_id` with their bank: the
    /// emulator opens a Dispute on its charge and sends
    /// `charge.dispute.created`. Returns the dispute.
    pub async fn dispute(&self, session_id: &str) -> Value {
        let session = self
            .stripe_get(&format!("/v1/checkout/sessions/{session_id}"))
            .await;
        let intent = self
            .stripe_get(&format!(
                "/v1/payment_intents/{}",
                session["payment_intent"].as_str().unwrap()
            ))
            .await;
        let charge = intent["latest_charge"].as_str().unwrap().to_owned();
        self.control(&format!("/charges/{charge}/dispute"), json!({}))
            .await
    }

    /// The bank decides the dispute (`won` or `lost`): `charge.dispute.closed`.
    pub async fn close_dispute(&self, dispute_id: &str, outcome: &str) -> Value {
        self.control(
            &format!("/disputes/{dispute_id}/close"),
            json!({ "outcome": outcome }),
        )
        .await
    }

    // ------------------------------------------------------------ the app

    /// A page as a browser asking for HTML gets it (bearer token as `token`'s
    /// user, anonymous with `None`): status, body and any redirect target.
    pub async fn page(&self, token: Option<&str>, path: &str) -> (u16, String, Option<String>) {
        let mut request = self
            .http
            .get(self.app.url(path))
            .header("accept", "text/html");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, response.text().await.unwrap(), location)
    }

    pub async fn token(&self, user: &str) -> String {
        self.idp
            .password_token(user, &format!("{user}-password"))
            .await
    }

    pub async fn api(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, self.app.url(&format!("/api/v1/billing{path}")))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn balance(&self, token: &str) -> i64 {
        self.api(token, reqwest::Method::GET, "/credits/balance", None)
            .await
            .1["balance"]
            .as_i64()
            .unwrap()
    }

    /// The caller's purchase history, newest first.
    pub async fn history(&self, token: &str) -> Vec<Value> {
        let (status, history) = self
            .api(token, reqwest::Method::GET, "/credits/history", None)
            .await;
        assert_eq!(status, 200, "{history}");
        history.as_array().unwrap().clone()
    }

    /// Starts a purchase; returns `(checkout_url, session_id)`.
    pub async fn buy(&self, token: &str, code: &str) -> (String, String) {
        let (status, body) = self
            .api(
                token,
                reqwest::Method::POST,
                "/credits/purchase",
                Some(json!({ "package_code": code })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        (
            body["checkout_url"].as_str().unwrap().to_owned(),
            body["session_id"].as_str().unwrap().to_owned(),
        )
    }

    /// The success-page return: `POST /credits/checkout/{session}/confirm`.
    pub async fn confirm(&self, token: &str, session_id: &str) -> (u16, Value) {
        self.api(
            token,
            reqwest::Method::POST,
            &format!("/credits/checkout/{session_id}/confirm"),
            None,
        )
        .await
    }

    /// Pays on the emulator's hosted page as a browser would; returns where it redirects.
    pub async fn pay(&self, checkout_url: &str, card: &str) -> reqwest::Response {
        self.http
            .post(checkout_url)
            .form(&[
                ("email", "alice@example.com"),
                ("cardNumber", card),
                ("cardExpiry", "12 / 34"),
                ("cardCvc", "123"),
                ("billingName", "Alice"),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Buys `code` and pays with `card` on the hosted page (which must accept it).
    pub async fn buy_and_pay(&self, token: &str, code: &str, card: &str) -> String {
        let (checkout_url, session_id) = self.buy(token, code).await;
        let paid = self.pay(&checkout_url, card).await;
        assert_eq!(paid.status(), 303, "paying with {card}");
        session_id
    }

    pub async fn wait_for_balance(&self, token: &str, expected: i64) {
        let deadline = tokio::time::Instant::now() + POLL_FOR;
        while tokio::time::Instant::now() < deadline {
            if self.balance(token).await == expected {
                return;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        panic!(
            "balance never reached {expected}, it is {}",
            self.balance(token).await
        );
    }

    /// The purchases an admin sees at `GET /credits/admin/purchases?status=needs_review`.
    pub async fn needs_review(&self, admin: &str) -> Vec<Value> {
        let (status, list) = self
            .api(
                admin,
                reqwest::Method::GET,
                "/credits/admin/purchases?status=needs_review",
                None,
            )
            .await;
        assert_eq!(status, 200, "{list}");
        list.as_array().unwrap().clone()
    }

    // ------------------------------------------------------------ the database

    /// Our purchase id for the checkout `session`.
    pub async fn purchase_id(&self, session: &str) -> String {
        sqlx::query_scalar::<_, uuid::Uuid>(
            "select id from credit_purchases where stripe_checkout_session_id = $1",
        )
        .bind(session)
        .fetch_one(&self.app.pool)
        .await
        .unwrap()
        .to_string()
    }

    /// `token`'s user id (the first request records the user).
    pub async fn user_id(&self, token: &str) -> String {
        let (_, me) = self
            .api(token, reqwest::Method::GET, "/credits/balance", None)
            .await;
        me["user_id"].as_str().unwrap().to_owned()
    }

    /// The status of the purchase paid through `session_id`.
    pub async fn status(&self, session_id: &str) -> String {
        sqlx::query_scalar(
            "select status from credit_purchases where stripe_checkout_session_id = $1",
        )
        .bind(session_id)
        .fetch_one(&self.app.pool)
        .await
        .unwrap()
    }

    pub async fn wait_for_status(&self, session_id: &str, expected: &str) {
        let deadline = tokio::time::Instant::now() + POLL_FOR;
        while tokio::time::Instant::now() < deadline {
            if self.status(session_id).await == expected {
                return;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        panic!(
            "purchase {session_id} never became {expected}, it is {}",
            self.status(session_id).await
        );
    }

    /// The ledger amounts written for the purchase paid through `session_id`,
    /// oldest first, by source: `(source, amount)`.
    pub async fn ledger_for(&self, session_id: &str) -> Vec<(String, i64)> {
        sqlx::query_as(
            "select l.source, l.amount from credit_ledger l \
             join credit_purchases p on p.id = l.purchase_id \
             where p.stripe_checkout_session_id = $1 order by l.id",
        )
        .bind(session_id)
        .fetch_all(&self.app.pool)
        .await
        .unwrap()
    }

    /// How many purchase grants exist for `session_id` (never more than one).
    pub async fn grants_for(&self, session_id: &str) -> usize {
        self.ledger_for(session_id)
            .await
            .iter()
            .filter(|(source, _)| source == "purchase")
            .count()
    }

    /// The rules of the ledger, checked across the whole database:
    /// every balance is the sum of its user's ledger rows, no purchase is
    /// granted twice, and each purchase's net ledger is what its status
    /// says (its credits once completed, less the refunded share, nothing
    /// while pending, failed, expired or disputed).
    pub async fn assert_ledger_consistent(&self) {
        let pool = &self.app.pool;
        let off_balances: Vec<(uuid::Uuid, Option<i64>, Option<i64>)> = sqlx::query_as(
            "select coalesce(b.user_id, l.user_id), b.balance, l.total from credit_balances b \
             full outer join (select user_id, sum(amount)::bigint as total from credit_ledger group by user_id) l \
               on l.user_id = b.user_id \
             where b.balance is distinct from l.total",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        assert!(
            off_balances.is_empty(),
            "balances that are not the sum of their ledger (user, balance, ledger sum): {off_balances:?}"
        );

        let granted_twice: Vec<(Option<String>, i64)> = sqlx::query_as(
            "select p.stripe_checkout_session_id, count(*) from credit_ledger l \
             join credit_purchases p on p.id = l.purchase_id \
             where l.source = 'purchase' group by p.id having count(*) > 1",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        assert!(
            granted_twice.is_empty(),
            "sessions granted more than once: {granted_twice:?}"
        );

        let wrong_net: Vec<(Option<String>, String, i64, i64)> = sqlx::query_as(
            "select p.stripe_checkout_session_id, p.status, \
                    case when p.status in ('completed', 'refunded', 'partially_refunded') \
                         then p.amount_credits - coalesce(p.amount_credits * p.refunded_cents / nullif(p.amount_paid_cents, 0), 0) \
                         else 0 end as expected, \
                    coalesce((select sum(amount) from credit_ledger l where l.purchase_id = p.id), 0)::bigint as net \
             from credit_purchases p",
        )
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, _, expected, net): &(_, _, i64, i64)| expected != net)
        .collect();
        assert!(
            wrong_net.is_empty(),
            "purchases whose ledger does not match their status (session, status, expected, net): {wrong_net:?}"
        );
        super::assert_wallet_consistent(pool).await;
    }
}
