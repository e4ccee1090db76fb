//! Payment methods: `/v1/payment_methods` and the card saved when a test card pays.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{Reply, expanded, filter_eq, ok};
use crate::AppState;
use crate::cards::{CardInput, brand};
use crate::now;
use crate::params::Params;
use crate::store::Store;

// ------------------------------------------------------------------ /v1 endpoints

pub(crate) async fn list(State(state): State<AppState>, p: Params) -> Reply {
    let s = state.lock();
    let mut items = filter_eq(s.all("payment_method"), "customer", p.str("customer"));
    if let Some(kind) = p.str("type") {
        items.retain(|o| o["type"] == kind.as_str());
    }
    ok(s.list(items, &p, "/v1/payment_methods")?)
}

pub(crate) async fn retrieve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    let s = state.lock();
    expanded(&s, s.get("payment_method", &id)?, &p)
}

// ------------------------------------------------------------------ what Stripe does

pub(crate) fn new_payment_method(
    s: &mut Store,
    card: &CardInput,
    email: &str,
    customer: Option<&str>,
) -> Value {
    let id = s.new_id("pm");
    let last4 = card.number[card.number.len().saturating_sub(4)..].to_owned();
    let brand = brand(&card.number);
    let pm = s.insert(json!({
        "id": id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": { "city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null },
            "email": email,
            "name": if card.name.trim().is_empty() { Value::Null } else { json!(card.name.trim()) },
            "phone": null,
            "tax_id": null,
        },
        "card": {
            "brand": brand,
            "checks": { "address_line1_check": null, "address_postal_code_check": null, "cvc_check": "pass" },
            "country": "US",
            "display_brand": brand,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "fingerprint": format!("emu{}", &card.number[card.number.len().saturating_sub(8)..]),
            "funding": "credit",
            "generated_from": null,
            "last4": last4,
            "networks": { "available": [brand], "preferred": null },
            "regulated_status": "unregulated",
            "three_d_secure_usage": { "supported": true },
            "wallet": null,
        },
        "created": now(),
        "customer": customer,
        "livemode": false,
        "metadata": {},
        "type": "card",
    }));
    if customer.is_some() {
        s.emit("payment_method.attached", &pm, None);
    }
    pm
}
