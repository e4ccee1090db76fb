//! Invoices: `/v1/invoices`, and how a subscription period is billed and charged.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::charges::new_charge;
use super::payment_intents::{new_payment_intent, succeed_payment_intent};
use super::{DAY, Reply, expanded, filter_created, filter_eq, id_of, ok};
use crate::params::Params;
use crate::store::Store;
use crate::{AppState, now};

// ------------------------------------------------------------------ /v1 endpoints

pub(crate) async fn list(State(state): State<AppState>, p: Params) -> Reply {
    let s = state.lock();
    let mut items = filter_eq(s.all("invoice"), "customer", p.str("customer"));
    if let Some(sub) = p.str("subscription") {
        items.retain(|o| o["subscription"] == sub.as_str());
    }
    if let Some(status) = p.str("status") {
        items.retain(|o| o["status"] == status.as_str());
    }
    let items = filter_created(items, &p)?;
    ok(s.list(items, &p, "/v1/invoices")?)
}

pub(crate) async fn retrieve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    let s = state.lock();
    expanded(&s, s.get("invoice", &id)?, &p)
}

pub(crate) async fn lines(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    let s = state.lock();
    let invoice = s.get("invoice", &id)?;
    let items = invoice["lines"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ok(s.list(items, &p, &format!("/v1/invoices/{id}/lines"))?)
}

// ------------------------------------------------------------------ what Stripe does

/// Creates an invoice for the subscription's items over [start, end) and tries to charge it.
/// `amount_override` bills a different total (prorations).
pub(crate) fn bill_subscription(
    s: &mut Store,
    sub_id: &str,
    reason: &str,
    start: i64,
    end: i64,
    succeed: bool,
    amount_override: Option<i64>,
) -> Value {
    let sub = s.find(sub_id).cloned().unwrap_or(Value::Null);
    let customer_id = id_of(&sub["customer"]);
    let customer = s.find(&customer_id).cloned().unwrap_or(Value::Null);
    let invoice_id = s.new_id("in");
    let currency = sub["currency"].clone();
    let mut lines = Vec::new();
    let mut total = 0;
    for item in sub["items"]["data"].as_array().cloned().unwrap_or_default() {
        let quantity = item["quantity"].as_i64().unwrap_or(1);
        let amount = item["price"]["unit_amount"].as_i64().unwrap_or(0) * quantity;
        let amount = amount_override.unwrap_or(amount);
        total += amount;
        let product_name = s
            .find(item["price"]["product"].as_str().unwrap_or(""))
            .and_then(|p| p["name"].as_str())
            .unwrap_or("Subscription")
            .to_owned();
        lines.push(json!({
            "id": s.new_id("il"),
            "object": "line_item",
            "amount": amount,
            "currency": currency,
            "description": format!("{quantity} × {product_name}"),
            "discount_amounts": [],
            "discountable": true,
            "discounts": [],
            "invoice": invoice_id,
            "livemode": false,
            "metadata": {},
            "parent": {
                "type": "subscription_item_details",
                "invoice_item_details": null,
                "subscription_item_details": {
                    "invoice_item": null,
                    "proration": amount_override.is_some(),
                    "proration_details": { "credited_items": null },
                    "subscription": sub_id,
                    "subscription_item": item["id"].clone(),
                },
            },
            "period": { "end": end, "start": start },
            "pretax_credit_amounts": [],
            "pricing": {
                "price_details": { "price": item["price"]["id"].clone(), "product": item["price"]["product"].clone() },
                "type": "price_details",
                "unit_amount_decimal": item["price"]["unit_amount_decimal"].clone(),
            },
            "quantity": quantity,
            "subtotal": amount,
            "taxes": [],
        }));
        if amount_override.is_some() {
            break;
        }
    }
    let created = now();
    let seq = customer["next_invoice_sequence"].as_i64().unwrap_or(1);
    s.update(&customer_id, |c| {
        c["next_invoice_sequence"] = json!(seq + 1)
    });
    let pm_id = id_of(&sub["default_payment_method"]);
    let pm = s.find(&pm_id).cloned().unwrap_or(Value::Null);
    let pi = new_payment_intent(
        s,
        total,
        currency.as_str().unwrap_or("usd"),
        Some(&customer_id),
        json!({}),
    );
    let pi_id = id_of(&pi["id"]);
    s.emit("payment_intent.created", &pi, None);
    let charge_id;
    if succeed {
        let pi = succeed_payment_intent(s, &pi_id, &pm);
        charge_id = pi["latest_charge"].clone();
    } else {
        let charge = new_charge(
            s,
            &pi_id,
            &pm,
            false,
            Some(("generic_decline", "Your card was declined.")),
        );
        s.emit("charge.failed", &charge, None);
        charge_id = charge["id"].clone();
        let pi = s.update(&pi_id, |pi| {
            pi["status"] = json!("requires_payment_method");
            pi["payment_method"] = pm["id"].clone();
            pi["latest_charge"] = charge["id"].clone();
            pi["last_payment_error"] = json!({
                "type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
                "message": "Your card was declined."
            });
        });
        s.emit("payment_intent.payment_failed", &pi, None);
    }
    let invoice = json!({
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Stripe Emulator",
        "amount_due": total,
        "amount_overpaid": 0,
        "amount_paid": if succeed { total } else { 0 },
        "amount_remaining": if succeed { 0 } else { total },
        "amount_shipping": 0,
        "attempt_count": 1,
        "attempted": true,
        "auto_advance": !succeed,
        "automatic_tax": { "disabled_reason": null, "enabled": false, "liability": null, "provider": null, "status": null },
        "billing_reason": reason,
        "charge": charge_id,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "customer_email": customer["email"].clone(),
        "customer_name": customer["name"].clone(),
        "default_payment_method": null,
        "default_tax_rates": [],
        "description": null,
        "discounts": [],
        "due_date": null,
        "ending_balance": 0,
        "hosted_invoice_url": null,
        "invoice_pdf": null,
        "issuer": { "type": "self" },
        "lines": { "object": "list", "data": lines, "has_more": false, "url": format!("/v1/invoices/{invoice_id}/lines") },
        "livemode": false,
        "metadata": {},
        "next_payment_attempt": if succeed { Value::Null } else { json!(created + 3 * DAY) },
        "number": format!("{}-{:04}", customer["invoice_prefix"].as_str().unwrap_or("EMU"), seq),
        "parent": {
            "type": "subscription_details",
            "quote_details": null,
            "subscription_details": { "metadata": sub["metadata"].clone(), "subscription": sub_id },
        },
        "payment_intent": pi_id,
        "payment_settings": { "default_mandate": null, "payment_method_options": null, "payment_method_types": null },
        "period_end": if reason == "subscription_create" { created } else { start },
        "period_start": if reason == "subscription_create" { created } else { s_prev_start(&sub, start) },
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "starting_balance": 0,
        "status": if succeed { "paid" } else { "open" },
        "status_transitions": {
            "finalized_at": created,
            "marked_uncollectible_at": null,
            "paid_at": if succeed { json!(created) } else { Value::Null },
            "voided_at": null,
        },
        "subscription": sub_id,
        "subtotal": total,
        "total": total,
        "total_discount_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": created,
    });
    s.insert(invoice)
}

fn s_prev_start(sub: &Value, start: i64) -> i64 {
    sub["current_period_start"].as_i64().unwrap_or(start)
}

pub(crate) fn emit_invoice_events(s: &mut Store, invoice: &Value) {
    s.emit("invoice.created", invoice, None);
    s.emit("invoice.finalized", invoice, None);
    if invoice["status"] == "paid" {
        s.emit("invoice.paid", invoice, None);
        s.emit("invoice.payment_succeeded", invoice, None);
    } else {
        s.emit("invoice.payment_failed", invoice, None);
    }
}
