//! Payment intents: `/v1/payment_intents`, how one is made, and how it succeeds.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::charges::new_charge;
use super::{Reply, expanded, filter_created, filter_eq, ok};
use crate::AppState;
use crate::now;
use crate::params::Params;
use crate::store::Store;

// ------------------------------------------------------------------ /v1 endpoints

pub(crate) async fn list(State(state): State<AppState>, p: Params) -> Reply {
    let s = state.lock();
    let items = filter_eq(s.all("payment_intent"), "customer", p.str("customer"));
    let items = filter_created(items, &p)?;
    ok(s.list(items, &p, "/v1/payment_intents")?)
}

pub(crate) async fn retrieve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    let s = state.lock();
    expanded(&s, s.get("payment_intent", &id)?, &p)
}

// ------------------------------------------------------------------ what Stripe does

pub(crate) fn new_payment_intent(
    s: &mut Store,
    amount: i64,
    currency: &str,
    customer: Option<&str>,
    metadata: Value,
) -> Value {
    let id = s.new_id("pi");
    s.insert(json!({
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "application": null,
        "application_fee_amount": null,
        "automatic_payment_methods": null,
        "canceled_at": null,
        "cancellation_reason": null,
        "capture_method": "automatic_async",
        "client_secret": format!("{id}_secret_emulator"),
        "confirmation_method": "automatic",
        "created": now(),
        "currency": currency,
        "customer": customer,
        "description": null,
        "last_payment_error": null,
        "latest_charge": null,
        "livemode": false,
        "metadata": if metadata.is_object() { metadata } else { json!({}) },
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": null,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "processing": null,
        "receipt_email": null,
        "review": null,
        "setup_future_usage": null,
        "shipping": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": "requires_payment_method",
        "transfer_data": null,
        "transfer_group": null,
    }))
}

/// Charges the payment method for the intent's amount and marks it succeeded.
pub(crate) fn succeed_payment_intent(s: &mut Store, pi_id: &str, pm: &Value) -> Value {
    let charge = new_charge(s, pi_id, pm, true, None);
    s.emit("charge.succeeded", &charge, None);
    let pi = s.update(pi_id, |pi| {
        pi["status"] = json!("succeeded");
        pi["amount_received"] = pi["amount"].clone();
        pi["payment_method"] = pm["id"].clone();
        pi["latest_charge"] = charge["id"].clone();
        pi["last_payment_error"] = Value::Null;
    });
    s.emit("payment_intent.succeeded", &pi, None);
    pi
}
