//! Checkout Sessions: `/v1/checkout/sessions`, and what paying one does (through the pay page in
//! `pages.rs` or the test controls): in payment mode a payment method, a payment intent and a
//! charge; in subscription mode the customer, the subscription and its first invoice. Also declined
//! cards, delayed payments that settle later, and expiry.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::charges::new_charge;
use super::customers::new_customer;
use super::payment_intents::{new_payment_intent, succeed_payment_intent};
use super::payment_methods::new_payment_method;
use super::prices::new_price;
use super::subscriptions::create_subscription_from_session;
use super::{DAY, Reply, expanded, filter_created, filter_eq, id_of, ok};
use crate::cards::{CardBehavior, CardInput, card_behavior, decline_reason};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::store::Store;
use crate::{AppState, now, with_store};

// ------------------------------------------------------------------ /v1 endpoints

pub(crate) async fn create(State(state): State<AppState>, p: Params) -> Reply {
    let public_url = state.public_url.clone();
    with_store(&state, |s| {
        let session = new_checkout_session(s, &p, &public_url)?;
        expanded(s, session, &p)
    })
}

pub(crate) async fn retrieve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    let s = state.lock();
    expanded(&s, s.get("checkout.session", &id)?, &p)
}

pub(crate) async fn line_items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    let s = state.lock();
    s.get("checkout.session", &id)?;
    // Line items are kept oldest first (the order they were given): list them that way.
    let items = s.line_items.get(&id).cloned().unwrap_or_default();
    ok(s.list(items, &p, &format!("/v1/checkout/sessions/{id}/line_items"))?)
}

pub(crate) async fn expire(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    with_store(&state, |s| {
        let session = expire_session(s, &id)?;
        expanded(s, session, &p)
    })
}

pub(crate) async fn list(State(state): State<AppState>, p: Params) -> Reply {
    let s = state.lock();
    let mut items = s.all("checkout.session");
    if let Some(status) = p.str("status") {
        items.retain(|o| o["status"] == status.as_str());
    }
    let items = filter_eq(items, "customer", p.str("customer"));
    let items = filter_eq(items, "payment_intent", p.str("payment_intent"));
    let items = filter_eq(items, "subscription", p.str("subscription"));
    let items = filter_created(items, &p)?;
    ok(s.list(items, &p, "/v1/checkout/sessions")?)
}

// ------------------------------------------------------------------ what Stripe does

pub fn new_checkout_session(s: &mut Store, p: &Params, public_url: &str) -> ApiResult<Value> {
    let mode = p.required("mode")?;
    if mode != "payment" && mode != "subscription" {
        return Err(ApiError::invalid_param(
            "mode",
            format!("The emulator supports mode `payment` and `subscription`, not `{mode}`."),
        ));
    }
    let customer = p.str("customer");
    let customer_email = p.str("customer_email");
    if customer.is_some() && customer_email.is_some() {
        return Err(ApiError::invalid_param(
            "customer_email",
            "You may only specify one of these parameters: customer, customer_email.",
        ));
    }
    if let Some(c) = &customer {
        s.get("customer", c)?;
    }
    let given = p.items("line_items");
    if given.is_empty() {
        return Err(ApiError::missing_param("line_items"));
    }
    let id = format!("cs_test_{}", &s.new_id("x")[2..]);
    let mut items = Vec::new();
    let mut currency: Option<String> = None;
    let mut total = 0i64;
    for (n, item) in given.iter().enumerate() {
        let param = format!("line_items[{n}]");
        let price = if let Some(price_id) = item.str("price") {
            s.get("price", &price_id)?
        } else if item.has("price_data") {
            let data = item.sub("price_data");
            let mut fields = data.0.clone();
            if data.has("product_data") {
                fields["product_data"] = data.0["product_data"].clone();
            }
            new_price(s, &Params::from_value(fields))?
        } else {
            return Err(ApiError::missing_param(&format!("{param}[price]")));
        };
        if price["active"] != true {
            return Err(ApiError::invalid_param(
                &format!("{param}[price]"),
                format!(
                    "The price specified ({}) is inactive. This field only accepts active prices.",
                    price["id"].as_str().unwrap_or("")
                ),
            ));
        }
        let recurring = price["type"] == "recurring";
        if mode == "payment" && recurring {
            return Err(ApiError::invalid_param(
                &format!("{param}[price]"),
                "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.",
            ));
        }
        if mode == "subscription" && !recurring {
            return Err(ApiError::invalid_param(
                &format!("{param}[price]"),
                "You must provide at least one recurring price in `subscription` mode when using prices.",
            ));
        }
        let item_currency = price["currency"].as_str().unwrap_or("usd").to_owned();
        if currency.get_or_insert_with(|| item_currency.clone()) != &item_currency {
            return Err(ApiError::invalid_param(
                &format!("{param}[price]"),
                "All prices must use the same currency.",
            ));
        }
        let quantity = item.int("quantity")?.unwrap_or(1);
        if quantity < 1 {
            return Err(ApiError::invalid_param(
                &format!("{param}[quantity]"),
                "Quantity must be at least 1.",
            ));
        }
        let amount = price["unit_amount"].as_i64().unwrap_or(0) * quantity;
        total += amount;
        let product_name = s
            .find(price["product"].as_str().unwrap_or(""))
            .and_then(|pr| pr["name"].as_str())
            .unwrap_or("Item")
            .to_owned();
        let line_id = s.new_id("li");
        items.push(json!({
            "id": line_id,
            "object": "item",
            "adjustable_quantity": null,
            "amount_discount": 0,
            "amount_subtotal": amount,
            "amount_tax": 0,
            "amount_total": amount,
            "currency": item_currency,
            "description": product_name,
            "metadata": {},
            "price": price,
            "quantity": quantity,
        }));
    }
    let created = now();
    let expires_at = match p.int("expires_at")? {
        Some(t) if t < created + 1800 || t > created + DAY => {
            return Err(ApiError::invalid_param(
                "expires_at",
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.",
            ));
        }
        Some(t) => t,
        None => created + DAY,
    };
    let customer_creation = p.str("customer_creation").or_else(|| {
        (customer.is_none()).then(|| {
            if mode == "subscription" {
                "always"
            } else {
                "if_required"
            }
            .to_owned()
        })
    });
    let session = json!({
        "id": id,
        "object": "checkout.session",
        "adaptive_pricing": null,
        "after_expiration": null,
        "allow_promotion_codes": p.bool("allow_promotion_codes")?,
        "amount_subtotal": total,
        "amount_total": total,
        "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
        "billing_address_collection": p.str("billing_address_collection"),
        "cancel_url": p.str("cancel_url"),
        "client_reference_id": p.str("client_reference_id"),
        "client_secret": null,
        "consent": null,
        "consent_collection": null,
        "created": created,
        "currency": currency,
        "custom_fields": [],
        "custom_text": {
            "after_submit": null,
            "shipping_address": null,
            "submit": null,
            "terms_of_service_acceptance": null,
        },
        "customer": customer,
        "customer_creation": customer_creation,
        "customer_details": null,
        "customer_email": customer_email,
        "discounts": [],
        "expires_at": expires_at,
        "invoice": null,
        "invoice_creation": null,
        "livemode": false,
        "locale": p.str("locale"),
        "metadata": p.metadata("metadata")?,
        "mode": mode,
        "payment_intent": null,
        "payment_link": null,
        "payment_method_collection": if mode == "subscription" { "always" } else { "if_required" },
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "recovered_from": null,
        "saved_payment_method_options": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_options": [],
        "status": "open",
        "submit_type": p.str("submit_type"),
        "subscription": null,
        "success_url": p.str("success_url"),
        "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
        "ui_mode": "hosted_page",
        "url": format!("{public_url}/c/pay/{id}"),
    });
    // Stripe keeps these but does not show them on the session.
    s.session_extras.insert(
        id.clone(),
        json!({
            "payment_intent_data": { "metadata": p.sub("payment_intent_data").metadata("metadata")? },
            "subscription_data": { "metadata": p.sub("subscription_data").metadata("metadata")? },
        }),
    );
    s.line_items.insert(id.clone(), items);
    Ok(s.insert(session))
}

pub fn expire_session(s: &mut Store, id: &str) -> ApiResult<Value> {
    let session = s.get("checkout.session", id)?;
    if session["status"] != "open" {
        return Err(ApiError::invalid(
            format!(
                "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of \"{}\".",
                session["status"].as_str().unwrap_or("")
            ),
            None,
        ));
    }
    let session = s.update(id, |cs| {
        cs["status"] = json!("expired");
        cs["url"] = Value::Null;
    });
    s.emit("checkout.session.expired", &session, None);
    Ok(session)
}

/// Expires every open session whose `expires_at` has passed (Stripe does this on its own).
pub fn expire_due_sessions(s: &mut Store, at: i64) {
    let due: Vec<String> = s
        .all("checkout.session")
        .into_iter()
        .filter(|cs| cs["status"] == "open" && cs["expires_at"].as_i64().is_some_and(|t| t <= at))
        .map(|cs| id_of(&cs["id"]))
        .collect();
    for id in due {
        let _ = expire_session(s, &id);
    }
}

/// Why the pay page shows an error instead of completing.
#[derive(Debug)]
pub struct PayError {
    pub message: String,
}

/// Pays an open session with a card whose behaviour is known not to need a confirmation step
/// (or whose confirmation was given). Returns the updated session.
pub fn pay_session(s: &mut Store, id: &str, card: &CardInput) -> Result<Value, PayError> {
    let fail = |m: &str| PayError {
        message: m.to_owned(),
    };
    let session = s
        .get("checkout.session", id)
        .map_err(|e| fail(&e.message))?;
    if session["status"] != "open" {
        return Err(fail("This Checkout Session is no longer active."));
    }
    let behavior = card_behavior(&card.number).map_err(fail)?;
    let mode = session["mode"].as_str().unwrap_or("payment").to_owned();
    let async_card = matches!(
        behavior,
        CardBehavior::AsyncSucceeds | CardBehavior::AsyncFails
    );
    if async_card && mode != "payment" {
        return Err(fail(
            "This delayed-notification test card works only in payment mode.",
        ));
    }
    let email = session["customer"]
        .as_str()
        .and_then(|c| s.find(c))
        .and_then(|c| c["email"].as_str())
        .map(str::to_owned)
        .or_else(|| session["customer_email"].as_str().map(str::to_owned))
        .unwrap_or_else(|| card.email.trim().to_owned());
    if email.is_empty() || !email.contains('@') {
        return Err(fail("Your email address is invalid."));
    }
    let amount = session["amount_total"].as_i64().unwrap_or(0);
    let currency = session["currency"].as_str().unwrap_or("usd").to_owned();

    // The customer: given, or created when the session asks for one.
    let mut customer = session["customer"].as_str().map(str::to_owned);
    let needs_customer = customer.is_none() && session["customer_creation"] == "always";
    // A card that attaches but fails every charge is declined when Checkout charges it.
    let declined = matches!(
        behavior,
        CardBehavior::Declined | CardBehavior::InsufficientFunds | CardBehavior::ChargeFails
    );
    if needs_customer && !declined {
        let params = Params::from_value(json!({ "email": email, "name": card.name }));
        let created = new_customer(s, &params).map_err(|e| fail(&e.message))?;
        customer = Some(id_of(&created["id"]));
    }
    // A declined card is not saved to the customer.
    let owner = if declined { None } else { customer.as_deref() };
    let pm = new_payment_method(s, card, &email, owner);

    if mode == "subscription" {
        if declined {
            return Err(fail(decline_reason(behavior).1));
        }
        let customer = customer.unwrap_or_default();
        let sub = create_subscription_from_session(s, &session, &customer, &pm)?;
        let invoice = id_of(&sub["latest_invoice"]);
        let session = s.update(id, |cs| {
            cs["status"] = json!("complete");
            cs["payment_status"] = json!("paid");
            cs["customer"] = json!(customer);
            cs["subscription"] = sub["id"].clone();
            cs["invoice"] = json!(invoice);
            cs["customer_details"] = customer_details(&email, &card.name);
            cs["url"] = Value::Null;
        });
        s.emit("checkout.session.completed", &session, None);
        return Ok(session);
    }

    // Payment mode: one payment intent per session, reused across attempts.
    let pi_id = match session["payment_intent"].as_str() {
        Some(existing) => existing.to_owned(),
        None => {
            let metadata = s
                .session_extras
                .get(id)
                .map_or(json!({}), |x| x["payment_intent_data"]["metadata"].clone());
            let pi = new_payment_intent(s, amount, &currency, customer.as_deref(), metadata);
            s.emit("payment_intent.created", &pi, None);
            let pi_id = id_of(&pi["id"]);
            s.update(id, |cs| cs["payment_intent"] = json!(pi_id));
            pi_id
        }
    };
    if customer.is_some() {
        s.update(&pi_id, |pi| pi["customer"] = json!(customer));
    }
    if declined {
        let (code, message) = decline_reason(behavior);
        let charge = new_charge(s, &pi_id, &pm, false, Some((code, message)));
        s.emit("charge.failed", &charge, None);
        let pi = s.update(&pi_id, |pi| {
            pi["status"] = json!("requires_payment_method");
            pi["latest_charge"] = charge["id"].clone();
            pi["last_payment_error"] = json!({
                "type": "card_error",
                "code": "card_declined",
                "decline_code": code,
                "message": message,
                "payment_method": s_pm_snapshot(&pm),
            });
        });
        s.emit("payment_intent.payment_failed", &pi, None);
        return Err(fail(message));
    }
    if async_card {
        s.async_payments
            .insert(id.to_owned(), behavior == CardBehavior::AsyncSucceeds);
        let pi = s.update(&pi_id, |pi| {
            pi["status"] = json!("processing");
            pi["payment_method"] = pm["id"].clone();
        });
        s.emit("payment_intent.processing", &pi, None);
        let session = s.update(id, |cs| {
            cs["status"] = json!("complete");
            cs["payment_status"] = json!("unpaid");
            cs["customer"] = json!(customer);
            cs["customer_details"] = customer_details(&email, &card.name);
            cs["url"] = Value::Null;
        });
        s.emit("checkout.session.completed", &session, None);
        return Ok(session);
    }
    succeed_payment_intent(s, &pi_id, &pm);
    let session = s.update(id, |cs| {
        cs["status"] = json!("complete");
        cs["payment_status"] = json!("paid");
        cs["customer"] = json!(customer);
        cs["customer_details"] = customer_details(&email, &card.name);
        cs["url"] = Value::Null;
    });
    s.emit("checkout.session.completed", &session, None);
    Ok(session)
}

fn s_pm_snapshot(pm: &Value) -> Value {
    pm.clone()
}

fn customer_details(email: &str, name: &str) -> Value {
    json!({
        "address": null,
        "business_name": null,
        "email": email,
        "individual_name": null,
        "name": if name.trim().is_empty() { Value::Null } else { json!(name.trim()) },
        "phone": null,
        "tax_exempt": "none",
        "tax_ids": [],
    })
}

/// Settles a delayed-notification payment: `outcome` overrides the card's planned result.
pub fn settle_async(s: &mut Store, session_id: &str, outcome: Option<bool>) -> ApiResult<Value> {
    let session = s.get("checkout.session", session_id)?;
    let planned = s.async_payments.remove(session_id).ok_or_else(|| {
        ApiError::invalid(
            format!("Checkout Session {session_id} has no payment awaiting settlement."),
            None,
        )
    })?;
    let succeed = outcome.unwrap_or(planned);
    let pi_id = id_of(&session["payment_intent"]);
    let pm_id = s
        .find(&pi_id)
        .map(|pi| id_of(&pi["payment_method"]))
        .unwrap_or_default();
    let pm = s.find(&pm_id).cloned().unwrap_or(Value::Null);
    if succeed {
        succeed_payment_intent(s, &pi_id, &pm);
        let session = s.update(session_id, |cs| cs["payment_status"] = json!("paid"));
        s.emit("checkout.session.async_payment_succeeded", &session, None);
        Ok(session)
    } else {
        let charge = new_charge(
            s,
            &pi_id,
            &pm,
            false,
            Some(("generic_decline", "Your payment failed.")),
        );
        s.emit("charge.failed", &charge, None);
        let pi = s.update(&pi_id, |pi| {
            pi["status"] = json!("requires_payment_method");
            pi["latest_charge"] = charge["id"].clone();
            pi["last_payment_error"] = json!({
                "type": "card_error", "code": "payment_failed", "message": "Your payment failed."
            });
        });
        s.emit("payment_intent.payment_failed", &pi, None);
        let session = s.get("checkout.session", session_id)?;
        s.emit("checkout.session.async_payment_failed", &session, None);
        Ok(session)
    }
}
