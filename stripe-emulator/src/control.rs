//! Test controls under `/_emulator/` — clearly not Stripe's API. JSON in, JSON out.
//! Bodies may also be form-encoded; an empty body means "defaults".

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};
use std::collections::HashMap;

use crate::cards::{self, CardInput};
use crate::error::ApiError;
use crate::params::{Params, list_of};
use crate::resources::{checkout_sessions, customers, disputes, refunds, subscriptions};
use crate::webhooks::{self, Job};
use crate::{AppState, EndpointConfig, with_store};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/reset", post(reset))
        .route("/webhooks", get(list_endpoints).post(add_endpoint))
        .route("/webhooks/{id}", delete(remove_endpoint))
        .route("/webhooks/hold", post(hold))
        .route("/webhooks/held", get(held))
        .route("/webhooks/release", post(release))
        .route("/deliveries", get(deliveries))
        .route("/events", post(create_event))
        .route("/events/{id}/deliver", post(deliver))
        .route("/subscriptions/{id}/advance", post(advance))
        .route("/subscriptions/{id}/fail_renewal", post(fail_renewal))
        .route("/customers/{id}/payment_method", post(attach_card))
        .route("/checkout/sessions/{id}/pay", post(pay))
        .route("/checkout/sessions/{id}/settle", post(settle))
        .route("/checkout/sessions/{id}/amend", post(amend))
        .route("/refunds/{id}/fail", post(fail_refund))
        .route("/charges/{id}/dispute", post(open_dispute))
        .route("/disputes/{id}/close", post(close_dispute))
}

/// JSON object bodies, or form bodies, or nothing.
fn body_params(body: &Bytes) -> Result<Params, ApiError> {
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::invalid("Body is not UTF-8.", None))?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Params::from_value(json!({})));
    }
    if trimmed.starts_with('{') {
        let value: Value = serde_json::from_str(trimmed)
            .map_err(|e| ApiError::invalid(format!("Invalid JSON: {e}"), None))?;
        return Ok(Params::from_value(stringify(value)));
    }
    Ok(Params::from_value(crate::form::parse(trimmed)))
}

/// Numbers and booleans become strings, so JSON and form bodies read the same way.
fn stringify(value: Value) -> Value {
    match value {
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        Value::Array(a) => Value::Array(a.into_iter().map(stringify).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, stringify(v))).collect()),
        other => other,
    }
}

fn reply(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "emulator": "stripe-emulator" }))
}

async fn reset(State(state): State<AppState>) -> Json<Value> {
    let mut store = state.lock();
    store.reset();
    if state.seeded {
        crate::seed::seed(&mut store);
    }
    Json(json!({ "reset": true, "seeded": state.seeded }))
}

async fn list_endpoints(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "data": state.lock().endpoints }))
}

async fn add_endpoint(State(state): State<AppState>, body: Bytes) -> Response {
    reply((|| -> Result<Value, ApiError> {
        let p = body_params(&body)?;
        let url = p.required("url")?;
        let secret = match p.str("secret") {
            Some(secret) => secret,
            None => format!("whsec_{}", &state.lock().new_id("x")[2..]),
        };
        let events = {
            let list = list_of(p.get("events"));
            let list: Vec<String> = list
                .iter()
                .flat_map(|e| e.split(','))
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty())
                .collect();
            if list.is_empty() {
                String::new()
            } else {
                format!("|{}", list.join(","))
            }
        };
        let config: EndpointConfig = format!("{url}|{secret}{events}")
            .parse()
            .map_err(|e: String| ApiError::invalid(e, Some("url")))?;
        let endpoint = state.lock().add_endpoint(config);
        Ok(serde_json::to_value(endpoint).unwrap_or(Value::Null))
    })())
}

async fn remove_endpoint(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let mut store = state.lock();
    let before = store.endpoints.len();
    store.endpoints.retain(|e| e.id != id);
    if store.endpoints.len() == before {
        return ApiError::no_such("webhook endpoint", &id).into_response();
    }
    Json(json!({ "id": id, "deleted": true })).into_response()
}

async fn hold(State(state): State<AppState>) -> Json<Value> {
    state.lock().hold = true;
    Json(json!({ "holding": true }))
}

async fn held(State(state): State<AppState>) -> Json<Value> {
    let store = state.lock();
    let data: Vec<Value> = store
        .held
        .iter()
        .map(|j| {
            json!({
                "event_id": j.event_id,
                "endpoint_id": j.endpoint_id,
                "type": store.find(&j.event_id).map(|e| e["type"].clone()).unwrap_or(Value::Null),
            })
        })
        .collect();
    Json(json!({ "holding": store.hold, "data": data }))
}

async fn release(State(state): State<AppState>, body: Bytes) -> Response {
    let p = match body_params(&body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let order = p.list("order");
    let reverse = p.bool("reverse").ok().flatten().unwrap_or(false);
    let keep = p.bool("keep_holding").ok().flatten().unwrap_or(false);
    let attempts = webhooks::release(&state, &order, reverse, keep).await;
    Json(json!({ "data": attempts })).into_response()
}

async fn deliveries(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let store = state.lock();
    let data: Vec<_> = store
        .attempts
        .iter()
        .filter(|a| q.get("event_id").is_none_or(|v| &a.event_id == v))
        .filter(|a| q.get("endpoint_id").is_none_or(|v| &a.endpoint_id == v))
        .filter(|a| q.get("type").is_none_or(|v| &a.event_type == v))
        .cloned()
        .collect();
    Json(json!({ "data": data }))
}

async fn deliver(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> Response {
    let p = match body_params(&body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let times = p.int("times").ok().flatten().unwrap_or(1).clamp(1, 100) as u32;
    let concurrent = p.bool("concurrent").ok().flatten().unwrap_or(false);
    let endpoints: Vec<String> = {
        let store = state.lock();
        let Some(event) = store.find(&id).filter(|e| e["object"] == "event") else {
            return ApiError::no_such("event", &id).into_response();
        };
        let event_type = event["type"].as_str().unwrap_or_default().to_owned();
        match p.str("endpoint_id") {
            Some(e) => vec![e],
            None => store
                .endpoints
                .iter()
                .filter(|e| e.wants(&event_type))
                .map(|e| e.id.clone())
                .collect(),
        }
    };
    let signing = webhooks::Signing {
        timestamp_offset_secs: p.int("timestamp_offset_secs").ok().flatten().unwrap_or(0),
        secret: p.str("secret"),
    };
    let mut all = Vec::new();
    for endpoint_id in endpoints {
        let job = Job {
            event_id: id.clone(),
            endpoint_id,
        };
        all.extend(webhooks::deliver_times(&state, job, times, concurrent, &signing).await);
    }
    Json(json!({ "data": all })).into_response()
}

/// Emits an arbitrary event (`{"type": "…", "object": {…}}`), delivered like any other —
/// e.g. a type the app does not know, to check it is acknowledged and ignored.
async fn create_event(State(state): State<AppState>, body: Bytes) -> Response {
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return ApiError::invalid(format!("Invalid JSON: {e}"), None).into_response(),
    };
    let Some(event_type) = value["type"].as_str().filter(|t| !t.is_empty()) else {
        return ApiError::missing_param("type").into_response();
    };
    let object = if value["object"].is_object() {
        value["object"].clone()
    } else {
        json!({ "object": "unknown", "id": "obj_emulator" })
    };
    let event_id = with_store(&state, |s| s.emit(event_type, &object, None));
    let event = state.lock().find(&event_id).cloned().unwrap_or(Value::Null);
    Json(event).into_response()
}

async fn advance(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> Response {
    let fail = body_params(&body)
        .ok()
        .and_then(|p| p.bool("fail").ok().flatten())
        .unwrap_or(false);
    reply(with_store(&state, |s| {
        subscriptions::advance_subscription(s, &id, !fail)
    }))
}

async fn fail_renewal(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    reply(with_store(&state, |s| {
        subscriptions::advance_subscription(s, &id, false)
    }))
}

/// The customer saves a new card (`{"card": "4000000000000341"}`, default `4242…`): it becomes
/// the customer's default and that of its live subscriptions, so the next renewal charges it.
async fn attach_card(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let p = match body_params(&body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let number: String = p
        .str("card")
        .unwrap_or_else(|| cards::CARD_SUCCEEDS.into())
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect();
    reply(with_store(&state, |s| {
        customers::attach_default_card(s, &id, &number)
    }))
}

async fn pay(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> Response {
    let p = match body_params(&body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let input = CardInput {
        email: p
            .str("email")
            .unwrap_or_else(|| "customer@example.com".into()),
        name: p.str("name").unwrap_or_default(),
        number: p.str("card").unwrap_or_else(|| cards::CARD_SUCCEEDS.into()),
        exp_month: 12,
        exp_year: 2040,
    };
    match crate::pages::pay_programmatically(&state, &id, &input) {
        Ok(session) => Json(session).into_response(),
        Err(message) => (
            StatusCode::PAYMENT_REQUIRED,
            Json(ApiError::card("card_declined", None, &message).to_json()),
        )
            .into_response(),
    }
}

async fn settle(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> Response {
    let p = match body_params(&body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let outcome = match p.str("outcome").as_deref() {
        None => None,
        Some("succeeded") => Some(true),
        Some("failed") => Some(false),
        Some(other) => {
            return ApiError::invalid_param(
                "outcome",
                format!("outcome must be succeeded or failed, not {other}"),
            )
            .into_response();
        }
    };
    reply(with_store(&state, |s| {
        checkout_sessions::settle_async(s, &id, outcome)
    }))
}

/// Changes a payment-mode session the way no Stripe API call can, to test a
/// client's checks on what it is paid: `amount_total` (cents, also the
/// subtotal; the card is then charged that), `currency`, `livemode`, and
/// `reopen=true` to make an expired session payable again (a payment that
/// arrives after the client was told the session expired). The line items
/// stay as they were. Answers the session.
async fn amend(State(state): State<AppState>, Path(id): Path<String>, body: Bytes) -> Response {
    let p = match body_params(&body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let public_url = state.public_url.clone();
    reply(with_store(&state, |s| {
        let session = s.get("checkout.session", &id)?;
        if session["mode"] != "payment" {
            return Err(ApiError::invalid(
                "Only payment-mode sessions can be amended.",
                None,
            ));
        }
        let amount = p.int("amount_total")?;
        if amount.is_some_and(|a| a < 0) {
            return Err(ApiError::invalid_param(
                "amount_total",
                "amount_total must not be negative".to_owned(),
            ));
        }
        let currency = p.str("currency").map(|c| c.to_lowercase());
        let livemode = p.bool("livemode")?;
        let reopen = p.bool("reopen")?.unwrap_or(false);
        if reopen && session["status"] != "expired" {
            return Err(ApiError::invalid_param(
                "reopen",
                "only an expired session can be reopened".to_owned(),
            ));
        }
        if !reopen && session["status"] != "open" {
            return Err(ApiError::invalid(
                "Only open sessions can be amended (or expired ones reopened).",
                None,
            ));
        }
        Ok(s.update(&id, |cs| {
            if let Some(amount) = amount {
                cs["amount_total"] = json!(amount);
                cs["amount_subtotal"] = json!(amount);
            }
            if let Some(currency) = currency {
                cs["currency"] = json!(currency);
            }
            if let Some(livemode) = livemode {
                cs["livemode"] = json!(livemode);
            }
            if reopen {
                cs["status"] = json!("open");
                cs["url"] = json!(format!("{public_url}/c/pay/{id}"));
            }
        }))
    }))
}

/// A refund fails after the fact (`{"failure_reason": …}` optional).
async fn fail_refund(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let p = match body_params(&body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let reason = p.str("failure_reason");
    reply(with_store(&state, |s| refunds::fail_refund(s, &id, reason)))
}

/// The card holder disputes the charge (`{"reason": …}` optional).
async fn open_dispute(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let p = match body_params(&body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let reason = p.str("reason");
    reply(with_store(&state, |s| {
        disputes::open_dispute(s, &id, reason)
    }))
}

/// The dispute is decided: `{"outcome": "won"}` or `{"outcome": "lost"}`.
async fn close_dispute(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let p = match body_params(&body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let won = match p.str("outcome").as_deref() {
        Some("won") => true,
        Some("lost") => false,
        other => {
            return ApiError::invalid_param(
                "outcome",
                format!(
                    "outcome must be won or lost, not {}",
                    other.unwrap_or("missing")
                ),
            )
            .into_response();
        }
    };
    reply(with_store(&state, |s| disputes::close_dispute(s, &id, won)))
}
