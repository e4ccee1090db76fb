//! Charges: `/v1/charges` and how a payment intent charges a card.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{Reply, expanded, filter_created, filter_eq, ok};
use crate::AppState;
use crate::now;
use crate::params::Params;
use crate::store::Store;

// ------------------------------------------------------------------ /v1 endpoints

pub(crate) async fn list(State(state): State<AppState>, p: Params) -> Reply {
    let s = state.lock();
    let items = filter_eq(s.all("charge"), "customer", p.str("customer"));
    let items = filter_eq(items, "payment_intent", p.str("payment_intent"));
    let items = filter_created(items, &p)?;
    ok(s.list(items, &p, "/v1/charges")?)
}

pub(crate) async fn retrieve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    let s = state.lock();
    expanded(&s, s.get("charge", &id)?, &p)
}

// ------------------------------------------------------------------ what Stripe does

pub(crate) fn new_charge(
    s: &mut Store,
    pi_id: &str,
    pm: &Value,
    paid: bool,
    failure: Option<(&str, &str)>,
) -> Value {
    let pi = s.find(pi_id).cloned().unwrap_or(Value::Null);
    let id = s.new_id("ch");
    let amount = pi["amount"].as_i64().unwrap_or(0);
    let card = &pm["card"];
    s.insert(json!({
        "id": id,
        "object": "charge",
        "amount": amount,
        "amount_captured": if paid { amount } else { 0 },
        "amount_refunded": 0,
        "application": null,
        "application_fee": null,
        "application_fee_amount": null,
        "balance_transaction": if paid { json!(format!("txn_{}", &id[3..])) } else { Value::Null },
        "billing_details": if pm["billing_details"].is_object() {
            pm["billing_details"].clone()
        } else {
            json!({ "address": null, "email": null, "name": null, "phone": null, "tax_id": null })
        },
        "calculated_statement_descriptor": "EMULATOR",
        "captured": paid,
        "created": now(),
        "currency": pi["currency"].clone(),
        "customer": pi["customer"].clone(),
        "description": null,
        "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": failure.map(|_| "card_declined"),
        "failure_message": failure.map(|(_, m)| m),
        "fraud_details": {},
        "livemode": false,
        "metadata": pi["metadata"].clone(),
        "on_behalf_of": null,
        "outcome": {
            "network_status": if paid { "approved_by_network" } else { "declined_by_network" },
            "reason": failure.map(|(c, _)| c),
            "risk_level": "normal",
            "risk_score": 20,
            "seller_message": if paid { "Payment complete." } else { "The bank did not return any further details with this decline." },
            "type": if paid { "authorized" } else { "issuer_declined" },
        },
        "paid": paid,
        "payment_intent": pi_id,
        "payment_method": pm["id"].clone(),
        "payment_method_details": {
            "card": {
                "brand": card["brand"].clone(),
                "country": "US",
                "exp_month": card["exp_month"].clone(),
                "exp_year": card["exp_year"].clone(),
                "fingerprint": card["fingerprint"].clone(),
                "funding": "credit",
                "last4": card["last4"].clone(),
                "network": card["brand"].clone(),
            },
            "type": "card",
        },
        "receipt_email": null,
        "receipt_number": null,
        "receipt_url": null,
        "refunded": false,
        "review": null,
        "shipping": null,
        "source_transfer": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": if paid { "succeeded" } else { "failed" },
        "transfer_data": null,
        "transfer_group": null,
    }))
}
