//! Invoices: `/v1/invoices` (list, retrieve, lines, `pay`, `create_preview`), and how a
//! subscription is billed: invoice lines, prorations (one integer formula shared by the update
//! and its preview), pending invoice items, the customer's credit balance, and charging the card.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::charges::new_charge;
use super::payment_intents::{new_payment_intent, succeed_payment_intent};
use super::subscriptions::{self, ItemChanges};
use super::{DAY, Reply, expanded, filter_created, filter_eq, id_of, ok, previous_attributes};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::store::Store;
use crate::{AppState, now, with_store};

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

/// `POST /v1/invoices/{id}/pay`: charges an open invoice now (`payment_method`, else the
/// subscription's or the customer's default card).
pub(crate) async fn pay(State(state): State<AppState>, Path(id): Path<String>, p: Params) -> Reply {
    with_store(&state, |s| {
        let invoice = pay_invoice(s, &id, p.str("payment_method"))?;
        expanded(s, invoice, &p)
    })
}

/// `POST /v1/invoices/create_preview`: the invoice a subscription change (or the next renewal)
/// would produce. Nothing is stored and nothing is emitted.
pub(crate) async fn create_preview(State(state): State<AppState>, p: Params) -> Reply {
    let s = state.lock();
    let invoice = preview_invoice(&s, &p)?;
    expanded(&s, invoice, &p)
}

// ------------------------------------------------------------------ what Stripe does

/// One invoice line before it is put on an invoice.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub amount: i64,
    /// The price object (for `pricing` and the description).
    pub price: Value,
    pub quantity: i64,
    pub subscription_item: String,
    pub proration: bool,
    pub start: i64,
    pub end: i64,
    pub description: String,
    /// The pending invoice item (`ii_…`) this line bills, if any.
    pub invoice_item: Option<String>,
}

/// Stripe's proration of `amount` for the part of [start, end) left after `at`:
/// `amount × (end − at) / (end − start)` in integer cents, rounded half away from zero.
/// `at` outside the period counts as its start or end. The subscription update and the invoice
/// preview both use this, so they agree to the cent.
pub(crate) fn prorate(amount: i64, start: i64, end: i64, at: i64) -> i64 {
    let period = i128::from((end - start).max(1));
    let remaining = i128::from(end - at).clamp(0, period);
    let numerator = i128::from(amount) * remaining;
    let half = period / 2;
    let rounded = if numerator >= 0 {
        (numerator + half) / period
    } else {
        (numerator - half) / period
    };
    rounded as i64
}

pub(crate) fn product_name(s: &Store, price: &Value) -> String {
    s.find(price["product"].as_str().unwrap_or(""))
        .and_then(|p| p["name"].as_str())
        .unwrap_or("Subscription")
        .to_owned()
}

/// `3 Dec 2026` (UTC), as Stripe writes dates in proration descriptions.
pub(crate) fn short_date(t: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = t.div_euclid(DAY) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!("{day} {} {year}", MONTHS[(month - 1) as usize])
}

/// The full-price line of a subscription item over [start, end).
pub(crate) fn item_line(s: &Store, item: &Value, start: i64, end: i64) -> Line {
    let quantity = item["quantity"].as_i64().unwrap_or(1);
    let price = item["price"].clone();
    let amount = price["unit_amount"].as_i64().unwrap_or(0) * quantity;
    Line {
        amount,
        description: format!("{quantity} × {}", product_name(s, &price)),
        price,
        quantity,
        subscription_item: id_of(&item["id"]),
        proration: false,
        start,
        end,
        invoice_item: None,
    }
}

/// The proration lines for an item going from (old price, quantity) to (new price, quantity)
/// as of `at` in [start, end): a credit for the unused time on the old one and a charge for
/// the remaining time on the new one (either may be absent: a new item, a deleted item).
pub(crate) fn proration_lines(
    s: &Store,
    item_id: &str,
    old: Option<(&Value, i64)>,
    new: Option<(&Value, i64)>,
    (start, end, at): (i64, i64, i64),
) -> Vec<Line> {
    let mut lines = Vec::new();
    let after = short_date(at);
    for (side, sign, wording) in [(old, -1, "Unused"), (new, 1, "Remaining")] {
        let Some((price, quantity)) = side else {
            continue;
        };
        let amount = sign
            * prorate(
                price["unit_amount"].as_i64().unwrap_or(0) * quantity,
                start,
                end,
                at,
            );
        if amount != 0 {
            lines.push(Line {
                amount,
                description: format!("{wording} time on {} after {after}", product_name(s, price)),
                price: price.clone(),
                quantity,
                subscription_item: item_id.to_owned(),
                proration: true,
                start: at,
                end,
                invoice_item: None,
            });
        }
    }
    lines
}

/// Keeps proration lines as pending invoice items of the subscription (`invoiceitem.created`);
/// the next invoice of the subscription bills them.
pub(crate) fn add_pending_items(s: &mut Store, sub: &Value, lines: &[Line]) {
    let sub_id = id_of(&sub["id"]);
    for line in lines {
        let id = s.new_id("ii");
        let item = s.insert(json!({
            "id": id,
            "object": "invoiceitem",
            "amount": line.amount,
            "currency": sub["currency"].clone(),
            "customer": id_of(&sub["customer"]),
            "customer_account": null,
            "date": now(),
            "description": line.description,
            "discountable": false,
            "discounts": [],
            "frozen_fields": null,
            "invoice": null,
            "invoicing_rules": null,
            "livemode": false,
            "metadata": {},
            "net_amount": line.amount,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {
                    "subscription": sub_id,
                    "subscription_item": line.subscription_item,
                },
            },
            "period": { "end": line.end, "start": line.start },
            "pricing": pricing(&line.price),
            "proration": line.proration,
            "proration_details": { "credited_items": null, "discount_amounts": [] },
            "quantity": line.quantity,
            "quantity_decimal": line.quantity.to_string(),
            "tax_rates": [],
            "test_clock": null,
        }));
        s.emit("invoiceitem.created", &item, None);
    }
}

/// The subscription's invoice items not yet on an invoice, oldest first.
pub(crate) fn pending_lines(s: &Store, sub_id: &str) -> Vec<Line> {
    let mut items: Vec<Value> = s
        .all("invoiceitem")
        .into_iter()
        .filter(|ii| {
            ii["invoice"].is_null()
                && ii["parent"]["subscription_details"]["subscription"] == sub_id
        })
        .collect();
    items.reverse();
    items
        .iter()
        .map(|ii| {
            let price_id = ii["pricing"]["price_details"]["price"]
                .as_str()
                .unwrap_or("");
            Line {
                amount: ii["amount"].as_i64().unwrap_or(0),
                price: s.find(price_id).cloned().unwrap_or(Value::Null),
                quantity: ii["quantity"].as_i64().unwrap_or(1),
                subscription_item: ii["parent"]["subscription_details"]["subscription_item"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                proration: ii["proration"] == true,
                start: ii["period"]["start"].as_i64().unwrap_or(0),
                end: ii["period"]["end"].as_i64().unwrap_or(0),
                description: ii["description"].as_str().unwrap_or("").to_owned(),
                invoice_item: Some(id_of(&ii["id"])),
            }
        })
        .collect()
}

fn pricing(price: &Value) -> Value {
    json!({
        "price_details": { "price": price["id"].clone(), "product": price["product"].clone() },
        "type": "price_details",
        "unit_amount_decimal": price["unit_amount_decimal"].clone(),
    })
}

fn line_json(s: &Store, line: &Line, invoice_id: &Value, currency: &Value, sub_id: &str) -> Value {
    json!({
        "id": s.new_id("il"),
        "object": "line_item",
        "amount": line.amount,
        "currency": currency,
        "description": line.description,
        "discount_amounts": [],
        "discountable": !line.proration,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": false,
        "metadata": {},
        "parent": {
            "type": "subscription_item_details",
            "invoice_item_details": null,
            "subscription_item_details": {
                "invoice_item": line.invoice_item,
                "proration": line.proration,
                "proration_details": { "credited_items": null },
                "subscription": sub_id,
                "subscription_item": line.subscription_item,
            },
        },
        "period": { "end": line.end, "start": line.start },
        "pretax_credit_amounts": [],
        "pricing": pricing(&line.price),
        "quantity": line.quantity,
        "subtotal": line.amount,
        "taxes": [],
    })
}

/// What an invoice of `lines` looks like before it is finalized (not stored). Its total is the
/// sum of the lines; the customer's balance is applied (a credit lowers `amount_due`, never below
/// zero; what is left over stays credit in `ending_balance`). A `preview` has the `upcoming_in_…`
/// id, no number and no hosted page.
pub(crate) fn invoice_object(
    s: &Store,
    sub: &Value,
    reason: &str,
    lines: &[Line],
    (period_start, period_end): (i64, i64),
    created: i64,
    preview: bool,
) -> Value {
    let sub_id = id_of(&sub["id"]);
    let customer_id = id_of(&sub["customer"]);
    let customer = s.find(&customer_id).cloned().unwrap_or(Value::Null);
    let currency = sub["currency"].clone();
    let id = if preview {
        format!("upcoming_in_{}", &s.new_id("x")[2..])
    } else {
        s.new_id("in")
    };
    let id_value = if preview { Value::Null } else { json!(id) };
    let data: Vec<Value> = lines
        .iter()
        .map(|l| line_json(s, l, &id_value, &currency, &sub_id))
        .collect();
    let total: i64 = lines.iter().map(|l| l.amount).sum();
    let starting_balance = customer["balance"].as_i64().unwrap_or(0);
    let owed = total + starting_balance;
    let amount_due = owed.max(0);
    let seq = customer["next_invoice_sequence"].as_i64().unwrap_or(1);
    json!({
        "id": id,
        "object": "invoice",
        "account_country": "US",
        "account_name": "Stripe Emulator",
        "amount_due": amount_due,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": amount_due,
        "amount_shipping": 0,
        "attempt_count": 0,
        "attempted": false,
        "auto_advance": !preview,
        "automatic_tax": { "disabled_reason": null, "enabled": false, "liability": null, "provider": null, "status": null },
        "billing_reason": reason,
        "charge": null,
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
        "ending_balance": if preview { Value::Null } else { json!(owed.min(0)) },
        "hosted_invoice_url": if preview { Value::Null } else { json!(format!("{}/i/{id}", s.public_url)) },
        "invoice_pdf": null,
        "issuer": { "type": "self" },
        "lines": {
            "object": "list",
            "data": data,
            "has_more": false,
            "url": if preview { "/v1/invoices/upcoming/lines".to_owned() } else { format!("/v1/invoices/{id}/lines") },
        },
        "livemode": false,
        "metadata": {},
        "next_payment_attempt": if preview { json!(created) } else { Value::Null },
        "number": if preview {
            Value::Null
        } else {
            json!(format!("{}-{:04}", customer["invoice_prefix"].as_str().unwrap_or("EMU"), seq))
        },
        "parent": {
            "type": "subscription_details",
            "quote_details": null,
            "subscription_details": { "metadata": sub["metadata"].clone(), "subscription": sub_id },
        },
        "payment_intent": null,
        "payment_settings": { "default_mandate": null, "payment_method_options": null, "payment_method_types": null },
        "period_end": period_end,
        "period_start": period_start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "starting_balance": starting_balance,
        "status": "draft",
        "status_transitions": {
            "finalized_at": null,
            "marked_uncollectible_at": null,
            "paid_at": null,
            "voided_at": null,
        },
        "subscription": sub_id,
        "subtotal": total,
        "total": total,
        "total_discount_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": null,
    })
}

/// The card an invoice of this subscription is charged with: the subscription's default
/// payment method, else the customer's.
pub(crate) fn default_card(s: &Store, sub: &Value) -> Option<Value> {
    let from_sub = id_of(&sub["default_payment_method"]);
    let from_customer = s
        .find(&id_of(&sub["customer"]))
        .map(|c| id_of(&c["invoice_settings"]["default_payment_method"]))
        .unwrap_or_default();
    [from_sub, from_customer]
        .into_iter()
        .filter(|id| !id.is_empty())
        .find_map(|id| s.find(&id).cloned())
}

/// Whether a charge on this card goes through (`fail` forces a decline).
fn charge_succeeds(s: &Store, pm: &Value, fail: bool) -> bool {
    !fail && pm.is_object() && !s.failing_cards.contains(&id_of(&pm["id"]))
}

/// Finalizes and stores an invoice from [`invoice_object`]: takes the next invoice number, moves
/// the customer's balance, marks the pending items it bills as invoiced, and charges `pm` for
/// `amount_due` (nothing due: paid at once, without a payment). `fail` declines the charge.
pub(crate) fn finalize_and_charge(
    s: &mut Store,
    mut invoice: Value,
    pm: Option<&Value>,
    fail: bool,
) -> Value {
    let invoice_id = id_of(&invoice["id"]);
    let customer_id = id_of(&invoice["customer"]);
    let created = invoice["created"].as_i64().unwrap_or_else(now);
    let ending_balance = invoice["ending_balance"].as_i64().unwrap_or(0);
    let before = s.find(&customer_id).cloned().unwrap_or(Value::Null);
    let after = s.update(&customer_id, |c| {
        c["next_invoice_sequence"] = json!(c["next_invoice_sequence"].as_i64().unwrap_or(1) + 1);
        c["balance"] = json!(ending_balance);
    });
    if before["balance"] != after["balance"] {
        s.emit(
            "customer.updated",
            &after,
            Some(json!({ "balance": before["balance"].clone() })),
        );
    }
    let billed: Vec<String> = invoice["lines"]["data"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .filter_map(|l| {
                    l["parent"]["subscription_item_details"]["invoice_item"]
                        .as_str()
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    for ii in billed {
        s.update(&ii, |ii| ii["invoice"] = json!(invoice_id));
    }
    invoice["status"] = json!("open");
    invoice["status_transitions"]["finalized_at"] = json!(created);
    invoice["webhooks_delivered_at"] = json!(created);
    let amount_due = invoice["amount_due"].as_i64().unwrap_or(0);
    if amount_due == 0 {
        invoice["status"] = json!("paid");
        invoice["auto_advance"] = json!(false);
        invoice["status_transitions"]["paid_at"] = json!(created);
        return s.insert(invoice);
    }
    let currency = invoice["currency"].as_str().unwrap_or("usd").to_owned();
    let pi = new_payment_intent(s, amount_due, &currency, Some(&customer_id), json!({}));
    let pi_id = id_of(&pi["id"]);
    s.emit("payment_intent.created", &pi, None);
    invoice["payment_intent"] = json!(pi_id);
    s.insert(invoice);
    let pm = pm.cloned().unwrap_or(Value::Null);
    charge_invoice(s, &invoice_id, &pm, fail)
}

/// One payment attempt on an open invoice with `pm`: on success the invoice is paid (its
/// payment intent succeeds); on failure a failed charge, `payment_intent.payment_failed`, and
/// the invoice stays open with its next automatic attempt in three days. Emits no invoice events.
fn charge_invoice(s: &mut Store, invoice_id: &str, pm: &Value, fail: bool) -> Value {
    let invoice = s.find(invoice_id).cloned().unwrap_or(Value::Null);
    let pi_id = id_of(&invoice["payment_intent"]);
    let t = now();
    if charge_succeeds(s, pm, fail) {
        let pi = succeed_payment_intent(s, &pi_id, pm);
        s.update(invoice_id, |inv| {
            inv["status"] = json!("paid");
            inv["amount_paid"] = inv["amount_due"].clone();
            inv["amount_remaining"] = json!(0);
            inv["attempted"] = json!(true);
            inv["attempt_count"] = json!(inv["attempt_count"].as_i64().unwrap_or(0) + 1);
            inv["auto_advance"] = json!(false);
            inv["charge"] = pi["latest_charge"].clone();
            inv["next_payment_attempt"] = Value::Null;
            inv["status_transitions"]["paid_at"] = json!(t);
        })
    } else {
        let charge = new_charge(
            s,
            &pi_id,
            pm,
            false,
            Some(("generic_decline", "Your card was declined.")),
        );
        s.emit("charge.failed", &charge, None);
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
        s.update(invoice_id, |inv| {
            inv["attempted"] = json!(true);
            inv["attempt_count"] = json!(inv["attempt_count"].as_i64().unwrap_or(0) + 1);
            inv["charge"] = charge["id"].clone();
            inv["next_payment_attempt"] = json!(t + 3 * DAY);
        })
    }
}

/// Creates, finalizes and charges an invoice of `lines` for the subscription (its default card;
/// `fail` declines the charge). Returns the stored invoice; the caller emits its events.
pub(crate) fn bill_subscription(
    s: &mut Store,
    sub_id: &str,
    reason: &str,
    lines: &[Line],
    period: (i64, i64),
    fail: bool,
) -> Value {
    let sub = s.find(sub_id).cloned().unwrap_or(Value::Null);
    let invoice = invoice_object(s, &sub, reason, lines, period, now(), false);
    let pm = default_card(s, &sub);
    finalize_and_charge(s, invoice, pm.as_ref(), fail)
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

/// `POST /v1/invoices/{id}/pay`. A declined card answers Stripe's 402 `card_error` and leaves
/// the invoice open. Paying the latest invoice of a `past_due` subscription makes it `active`.
pub fn pay_invoice(s: &mut Store, id: &str, payment_method: Option<String>) -> ApiResult<Value> {
    let invoice = s.get("invoice", id)?;
    match invoice["status"].as_str() {
        Some("open") => {}
        Some("paid") => return Err(ApiError::invalid("Invoice is already paid", None)),
        Some(other) => {
            return Err(ApiError::invalid(
                format!("You cannot pay an invoice with status {other}."),
                None,
            ));
        }
        None => return Err(ApiError::no_such("invoice", id)),
    }
    let customer_id = id_of(&invoice["customer"]);
    let sub_id = id_of(&invoice["subscription"]);
    let sub = s.find(&sub_id).cloned().unwrap_or(Value::Null);
    let pm = match payment_method {
        Some(pm_id) => {
            let pm = s.get("payment_method", &pm_id)?;
            if id_of(&pm["customer"]) != customer_id {
                return Err(ApiError::invalid_param(
                    "payment_method",
                    format!(
                        "The PaymentMethod {pm_id} does not belong to the Customer {customer_id}. Please use a PaymentMethod attached to this Customer."
                    ),
                ));
            }
            pm
        }
        None => default_card(s, &sub)
            .or_else(|| {
                let id = s
                    .find(&customer_id)
                    .map(|c| id_of(&c["invoice_settings"]["default_payment_method"]))?;
                s.find(&id).cloned()
            })
            .ok_or_else(|| {
                ApiError::invalid(
                    "This customer has no attached payment source or default payment method. Please consider adding a default payment method.",
                    None,
                )
            })?,
    };
    if invoice["payment_intent"].is_null() {
        let amount = invoice["amount_remaining"].as_i64().unwrap_or(0);
        let currency = invoice["currency"].as_str().unwrap_or("usd").to_owned();
        let pi = new_payment_intent(s, amount, &currency, Some(&customer_id), json!({}));
        s.emit("payment_intent.created", &pi, None);
        s.update(id, |inv| inv["payment_intent"] = pi["id"].clone());
    }
    let invoice = charge_invoice(s, id, &pm, false);
    if invoice["status"] != "paid" {
        s.emit("invoice.payment_failed", &invoice, None);
        return Err(ApiError::card(
            "card_declined",
            Some("generic_decline"),
            "Your card was declined.",
        ));
    }
    s.emit("invoice.paid", &invoice, None);
    s.emit("invoice.payment_succeeded", &invoice, None);
    if sub["status"] == "past_due" && id_of(&sub["latest_invoice"]) == id {
        let after = s.update(&sub_id, |sub| sub["status"] = json!("active"));
        let previous = previous_attributes(&sub, &after, &[]);
        s.emit("customer.subscription.updated", &after, Some(previous));
    }
    Ok(invoice)
}

/// `POST /v1/invoices/create_preview`.
///
/// - `subscription` (or the `customer`'s live subscription renewing first) with
///   `subscription_details[items|proration_behavior|proration_date|cancel_at_period_end]`:
///   with `always_invoice` and a change to prorate, the invoice the update bills at once (the
///   proration lines plus pending items); otherwise the next renewal invoice (the next period
///   at the new prices, plus the prorations and pending items), dated at the period end;
/// - `customer` and `subscription_details[items]` without a subscription: the first invoice of a
///   new subscription.
fn preview_invoice(s: &Store, p: &Params) -> ApiResult<Value> {
    let details = p.sub("subscription_details");
    let proration = details
        .str("proration_behavior")
        .unwrap_or_else(|| "create_prorations".into());
    if !["create_prorations", "always_invoice", "none"].contains(&proration.as_str()) {
        return Err(ApiError::invalid_param(
            "subscription_details[proration_behavior]",
            format!("Invalid proration_behavior: {proration}"),
        ));
    }
    let customer = p.str("customer");
    if let Some(c) = &customer {
        s.get("customer", c)?;
    }
    let sub = match p.str("subscription") {
        Some(sub_id) => {
            let sub = s.get("subscription", &sub_id)?;
            if customer
                .as_deref()
                .is_some_and(|c| c != id_of(&sub["customer"]))
            {
                return Err(ApiError::invalid_param(
                    "subscription",
                    format!(
                        "The subscription {sub_id} does not belong to the customer {}.",
                        customer.clone().unwrap_or_default()
                    ),
                ));
            }
            if sub["status"] == "canceled" {
                return Err(ApiError::invalid_param(
                    "subscription",
                    format!("The subscription {sub_id} is canceled: it has no upcoming invoice."),
                ));
            }
            Some(sub)
        }
        None => None,
    };
    let changes = details.items("items");
    let sub = match (sub, &customer) {
        (Some(sub), _) => sub,
        (None, Some(c)) if !changes.is_empty() => return preview_new_subscription(s, c, &changes),
        (None, Some(c)) => s
            .all("subscription")
            .into_iter()
            .filter(|sub| sub["customer"] == c.as_str() && sub["status"] != "canceled")
            .min_by_key(|sub| sub["current_period_end"].as_i64().unwrap_or(i64::MAX))
            .ok_or_else(|| no_upcoming(c))?,
        (None, None) => return Err(ApiError::missing_param("customer")),
    };
    let sub_id = id_of(&sub["id"]);
    let start = sub["current_period_start"].as_i64().unwrap_or_else(now);
    let end = sub["current_period_end"].as_i64().unwrap_or_else(now);
    let at = subscriptions::proration_moment(details.int("proration_date")?, start, end);
    let ItemChanges { items, prorations } =
        subscriptions::apply_item_changes(s, &sub, &changes, "subscription_details[items]", at)?;
    if let Some((reset_lines, _)) =
        subscriptions::cycle_reset(s, &sub, &items, at, proration != "none")
    {
        let mut lines = pending_lines(s, &sub_id);
        lines.extend(reset_lines);
        return Ok(invoice_object(
            s,
            &sub,
            "subscription_update",
            &lines,
            (at, at),
            at,
            true,
        ));
    }
    let prorations = if proration == "none" {
        Vec::new()
    } else {
        prorations
    };
    let mut lines = pending_lines(s, &sub_id);
    lines.extend(prorations.iter().cloned());
    if proration == "always_invoice" && !prorations.is_empty() {
        return Ok(invoice_object(
            s,
            &sub,
            "subscription_update",
            &lines,
            (at, at),
            at,
            true,
        ));
    }
    let cancels = details
        .bool("cancel_at_period_end")?
        .unwrap_or(sub["cancel_at_period_end"] == true);
    if cancels {
        return Err(no_upcoming(&id_of(&sub["customer"])));
    }
    let next_end = subscriptions::next_period_end(end, &items);
    let mut sub = sub;
    sub["items"]["data"] = json!(items);
    for item in &items {
        lines.push(item_line(s, item, end, next_end));
    }
    Ok(invoice_object(
        s,
        &sub,
        "subscription_cycle",
        &lines,
        (end, end),
        end,
        true,
    ))
}

fn no_upcoming(customer: &str) -> ApiError {
    let mut err = ApiError::no_such("upcoming invoice", customer)
        .with_code("invoice_upcoming_none")
        .with_param_none();
    err.message = format!("No upcoming invoices for customer: {customer}");
    err
}

/// The first invoice of a subscription the customer does not have yet.
fn preview_new_subscription(s: &Store, customer: &str, changes: &[Params]) -> ApiResult<Value> {
    let start = now();
    let mut items = Vec::new();
    for (n, change) in changes.iter().enumerate() {
        let param = format!("subscription_details[items][{n}][price]");
        let price_id = change
            .str("price")
            .ok_or_else(|| ApiError::missing_param(&param))?;
        let price = s.get("price", &price_id)?;
        if price["type"] != "recurring" {
            return Err(ApiError::invalid_param(
                &param,
                "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
            ));
        }
        items.push(json!({
            "id": s.new_id("si"),
            "price": price,
            "quantity": change.int("quantity")?.unwrap_or(1),
        }));
    }
    let end = subscriptions::next_period_end(start, &items);
    let sub = json!({
        "id": null,
        "customer": customer,
        "currency": items[0]["price"]["currency"].clone(),
        "metadata": {},
    });
    let lines: Vec<Line> = items.iter().map(|i| item_line(s, i, start, end)).collect();
    let mut invoice = invoice_object(
        s,
        &sub,
        "subscription_create",
        &lines,
        (start, start),
        start,
        true,
    );
    // There is no subscription yet.
    invoice["subscription"] = Value::Null;
    invoice["parent"] = Value::Null;
    if let Some(lines) = invoice["lines"]["data"].as_array_mut() {
        for line in lines {
            line["parent"]["subscription_item_details"]["subscription"] = Value::Null;
        }
    }
    Ok(invoice)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proration_is_integer_and_signed() {
        // Half of a 30-day period left of $30: $15.
        assert_eq!(prorate(3000, 0, 30 * DAY, 15 * DAY), 1500);
        assert_eq!(prorate(-3000, 0, 30 * DAY, 15 * DAY), -1500);
        // Rounds half away from zero: 1 cent over 2 seconds, 1 second left.
        assert_eq!(prorate(1, 0, 2, 1), 1);
        assert_eq!(prorate(-1, 0, 2, 1), -1);
        // Outside the period: all of it or nothing.
        assert_eq!(prorate(4900, 100, 200, 50), 4900);
        assert_eq!(prorate(4900, 100, 200, 250), 0);
        assert_eq!(short_date(0), "1 Jan 1970");
        assert_eq!(short_date(1_796_256_000), "3 Dec 2026");
    }
}
