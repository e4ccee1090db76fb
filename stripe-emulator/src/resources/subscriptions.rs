//! Subscriptions: `/v1/subscriptions`, and how one starts (from a paid Checkout Session), changes,
//! renews and ends.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::checkout_sessions::PayError;
use super::invoices::{
    Line, add_pending_items, bill_subscription, emit_invoice_events, item_line, pending_lines,
    proration_lines,
};
use super::{DAY, Reply, expanded, filter_created, filter_eq, id_of, ok, previous_attributes};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::store::Store;
use crate::{AppState, now, with_store};

// ------------------------------------------------------------------ /v1 endpoints

pub(crate) async fn list(State(state): State<AppState>, p: Params) -> Reply {
    let s = state.lock();
    let mut items = filter_eq(s.all("subscription"), "customer", p.str("customer"));
    match p.str("status").as_deref() {
        None => items.retain(|o| o["status"] != "canceled"),
        Some("all") => {}
        Some(status) => items.retain(|o| o["status"] == status),
    }
    if let Some(price) = p.str("price") {
        items.retain(|o| {
            o["items"]["data"]
                .as_array()
                .is_some_and(|d| d.iter().any(|i| i["price"]["id"] == price.as_str()))
        });
    }
    let items = filter_created(items, &p)?;
    ok(s.list(items, &p, "/v1/subscriptions")?)
}

pub(crate) async fn retrieve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    let s = state.lock();
    expanded(&s, s.get("subscription", &id)?, &p)
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    with_store(&state, |s| {
        let sub = update_subscription(s, &id, &p)?;
        expanded(s, sub, &p)
    })
}

pub(crate) async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    with_store(&state, |s| {
        let sub = s.get("subscription", &id)?;
        if sub["status"] == "canceled" {
            return Err(ApiError::invalid(
                format!(
                    "A canceled subscription can only update its cancellation_details and metadata. ({id})"
                ),
                None,
            ));
        }
        let sub = cancel_subscription_now(s, &id, "cancellation_requested");
        expanded(s, sub, &p)
    })
}

// ------------------------------------------------------------------ what Stripe does

fn period_end(start: i64, interval: &str, count: i64) -> i64 {
    let days = match interval {
        "day" => 1,
        "week" => 7,
        "year" => 365,
        _ => 30,
    };
    start + days * count * DAY
}

fn plan_of(price: &Value) -> Value {
    json!({
        "id": price["id"].clone(),
        "object": "plan",
        "active": price["active"].clone(),
        "amount": price["unit_amount"].clone(),
        "amount_decimal": price["unit_amount_decimal"].clone(),
        "billing_scheme": "per_unit",
        "created": price["created"].clone(),
        "currency": price["currency"].clone(),
        "interval": price["recurring"]["interval"].clone(),
        "interval_count": price["recurring"]["interval_count"].clone(),
        "livemode": false,
        "metadata": price["metadata"].clone(),
        "meter": null,
        "nickname": price["nickname"].clone(),
        "product": price["product"].clone(),
        "tiers_mode": null,
        "transform_usage": null,
        "trial_period_days": null,
        "usage_type": "licensed",
    })
}

fn subscription_item(
    s: &Store,
    sub_id: &str,
    price: &Value,
    quantity: i64,
    start: i64,
    end: i64,
) -> Value {
    json!({
        "id": s.new_id("si"),
        "object": "subscription_item",
        "billing_thresholds": null,
        "created": now(),
        "current_period_end": end,
        "current_period_start": start,
        "discounts": [],
        "metadata": {},
        "plan": plan_of(price),
        "price": price,
        "quantity": quantity,
        "subscription": sub_id,
        "tax_rates": [],
    })
}

pub(crate) fn create_subscription_from_session(
    s: &mut Store,
    session: &Value,
    customer: &str,
    pm: &Value,
) -> Result<Value, PayError> {
    let session_id = id_of(&session["id"]);
    let lines = s.line_items.get(&session_id).cloned().unwrap_or_default();
    let first = &lines[0]["price"];
    let start = now();
    let end = period_end(
        start,
        first["recurring"]["interval"].as_str().unwrap_or("month"),
        first["recurring"]["interval_count"].as_i64().unwrap_or(1),
    );
    let sub_id = s.new_id("sub");
    let items: Vec<Value> = lines
        .iter()
        .map(|l| {
            subscription_item(
                s,
                &sub_id,
                &l["price"],
                l["quantity"].as_i64().unwrap_or(1),
                start,
                end,
            )
        })
        .collect();
    let lines: Vec<Line> = items
        .iter()
        .map(|item| item_line(s, item, start, end))
        .collect();
    let sub = json!({
        "id": sub_id,
        "object": "subscription",
        "application": null,
        "application_fee_percent": null,
        "automatic_tax": { "disabled_reason": null, "enabled": false, "liability": null },
        "billing_cycle_anchor": start,
        "billing_cycle_anchor_config": null,
        "billing_mode": { "flexible": null, "type": "classic", "updated_at": null },
        "billing_schedules": [],
        "billing_thresholds": null,
        "cancel_at": null,
        "cancel_at_period_end": false,
        "canceled_at": null,
        "cancellation_details": { "comment": null, "feedback": null, "reason": null },
        "collection_method": "charge_automatically",
        "created": start,
        "currency": session["currency"].clone(),
        "current_period_end": end,
        "current_period_start": start,
        "customer": customer,
        "days_until_due": null,
        "default_payment_method": pm["id"].clone(),
        "default_source": null,
        "default_tax_rates": [],
        "description": null,
        "discounts": [],
        "ended_at": null,
        "invoice_settings": { "account_tax_ids": null, "issuer": { "type": "self" } },
        "items": {
            "object": "list",
            "data": items,
            "has_more": false,
            "url": format!("/v1/subscription_items?subscription={sub_id}"),
        },
        "latest_invoice": null,
        "livemode": false,
        "metadata": s.session_extras.get(&session_id).map_or(json!({}), |x| x["subscription_data"]["metadata"].clone()),
        "next_pending_invoice_item_invoice": null,
        "on_behalf_of": null,
        "pause_collection": null,
        "payment_settings": null,
        "pending_invoice_item_interval": null,
        "pending_setup_intent": null,
        "pending_update": null,
        "schedule": null,
        "start_date": start,
        "status": "active",
        "test_clock": null,
        "transfer_data": null,
        "trial_end": null,
        "trial_settings": null,
        "trial_start": null,
    });
    s.insert(sub);
    let invoice = bill_subscription(
        s,
        &sub_id,
        "subscription_create",
        &lines,
        (start, start),
        false,
    );
    let sub = s.update(&sub_id, |sub| sub["latest_invoice"] = invoice["id"].clone());
    s.emit("customer.subscription.created", &sub, None);
    emit_invoice_events(s, &invoice);
    Ok(sub)
}

/// Moves the subscription to its next period and bills it (`subscription_cycle`, with the
/// pending prorations). When `succeed` is false, or the default card fails every charge
/// (`4000 0000 0000 0341`), the renewal fails and the subscription goes `past_due`. A subscription
/// set to cancel at period end is canceled instead.
pub fn advance_subscription(s: &mut Store, id: &str, succeed: bool) -> ApiResult<Value> {
    let before = s.get("subscription", id)?;
    if before["status"] == "canceled" {
        return Err(ApiError::invalid(
            format!("Subscription {id} is canceled."),
            None,
        ));
    }
    if before["cancel_at_period_end"] == true {
        return Ok(cancel_subscription_now(s, id, "cancellation_requested"));
    }
    let start = before["current_period_end"].as_i64().unwrap_or_else(now);
    let items = before["items"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let end = next_period_end(start, &items);
    s.update(id, |sub| {
        sub["current_period_start"] = json!(start);
        sub["current_period_end"] = json!(end);
        if let Some(items) = sub["items"]["data"].as_array_mut() {
            for item in items {
                item["current_period_start"] = json!(start);
                item["current_period_end"] = json!(end);
            }
        }
    });
    // Pending prorations first, then the new period of every item.
    let mut lines = pending_lines(s, id);
    lines.extend(items.iter().map(|item| item_line(s, item, start, end)));
    let invoice = bill_subscription(
        s,
        id,
        "subscription_cycle",
        &lines,
        (start, start),
        !succeed,
    );
    let paid = invoice["status"] == "paid";
    let after = s.update(id, |sub| {
        sub["latest_invoice"] = invoice["id"].clone();
        sub["status"] = json!(if paid { "active" } else { "past_due" });
    });
    emit_invoice_events(s, &invoice);
    let previous = previous_attributes(&before, &after, &[]);
    s.emit("customer.subscription.updated", &after, Some(previous));
    Ok(after)
}

/// Ends the subscription now (`customer.subscription.deleted`).
pub fn cancel_subscription_now(s: &mut Store, id: &str, reason: &str) -> Value {
    let t = now();
    let sub = s.update(id, |sub| {
        sub["status"] = json!("canceled");
        sub["canceled_at"] = json!(t);
        sub["ended_at"] = json!(t);
        sub["cancellation_details"]["reason"] = json!(reason);
    });
    s.emit("customer.subscription.deleted", &sub, None);
    sub
}

/// The new items of a subscription after `items[N][…]` changes, and the proration lines the
/// changes make as of a moment (before `proration_behavior` decides what happens to them).
pub(crate) struct ItemChanges {
    pub items: Vec<Value>,
    pub prorations: Vec<Line>,
}

/// The moment a change is prorated at: `proration_date` (default now), held inside the current
/// period [start, end] (the emulator's periods may lie in the future after `advance`).
pub(crate) fn proration_moment(proration_date: Option<i64>, start: i64, end: i64) -> i64 {
    proration_date
        .unwrap_or_else(now)
        .clamp(start, end.max(start))
}

/// The end of the period starting at `start` for the (first) item's price interval.
pub(crate) fn next_period_end(start: i64, items: &[Value]) -> i64 {
    let price = items.first().map(|i| &i["price"]).unwrap_or(&Value::Null);
    period_end(
        start,
        price["recurring"]["interval"].as_str().unwrap_or("month"),
        price["recurring"]["interval_count"].as_i64().unwrap_or(1),
    )
}

/// Applies `items[N][id|price|quantity|deleted]` (under `param`, e.g. `items` or
/// `subscription_details[items]`) to the subscription's items without storing anything, and
/// prorates each change as of `at`. `POST /v1/subscriptions/{id}` and the invoice preview both
/// call this, so the preview shows what the update bills.
pub(crate) fn apply_item_changes(
    s: &Store,
    sub: &Value,
    changes: &[Params],
    param: &str,
    at: i64,
) -> ApiResult<ItemChanges> {
    let sub_id = id_of(&sub["id"]);
    let start = sub["current_period_start"].as_i64().unwrap_or_else(now);
    let end = sub["current_period_end"].as_i64().unwrap_or_else(now);
    let mut items: Vec<Value> = sub["items"]["data"].as_array().cloned().unwrap_or_default();
    let mut prorations = Vec::new();
    for (n, change) in changes.iter().enumerate() {
        let param = format!("{param}[{n}]");
        let index = match change.str("id") {
            Some(item_id) => Some(
                items
                    .iter()
                    .position(|i| i["id"] == item_id.as_str())
                    .ok_or_else(|| {
                        ApiError::invalid_param(
                            &format!("{param}[id]"),
                            format!("No such subscription item: '{item_id}'"),
                        )
                    })?,
            ),
            None => None,
        };
        if change.bool("deleted")? == Some(true) {
            if let Some(i) = index {
                let old = items.remove(i);
                let quantity = old["quantity"].as_i64().unwrap_or(1);
                prorations.extend(proration_lines(
                    s,
                    &id_of(&old["id"]),
                    Some((&old["price"], quantity)),
                    None,
                    (start, end, at),
                ));
            }
            continue;
        }
        let price = match change.str("price") {
            Some(price_id) => {
                let price = s.get("price", &price_id)?;
                if price["type"] != "recurring" {
                    return Err(ApiError::invalid_param(
                        &format!("{param}[price]"),
                        "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.",
                    ));
                }
                Some(price)
            }
            None => None,
        };
        let quantity = change.int("quantity")?;
        if quantity.is_some_and(|q| q < 0) {
            return Err(ApiError::invalid_param(
                &format!("{param}[quantity]"),
                "Quantity must be zero or more.",
            ));
        }
        match index {
            Some(i) => {
                let old_price = items[i]["price"].clone();
                let old_quantity = items[i]["quantity"].as_i64().unwrap_or(1);
                let item = &mut items[i];
                let price_changed = price.as_ref().is_some_and(|p| p["id"] != old_price["id"]);
                if let Some(price) = price {
                    item["plan"] = plan_of(&price);
                    item["price"] = price;
                }
                // Stripe: a new price without a quantity resets the quantity to 1.
                let new_quantity = quantity.unwrap_or(if price_changed { 1 } else { old_quantity });
                item["quantity"] = json!(new_quantity);
                if price_changed || new_quantity != old_quantity {
                    prorations.extend(proration_lines(
                        s,
                        &id_of(&item["id"]),
                        Some((&old_price, old_quantity)),
                        Some((&item["price"], new_quantity)),
                        (start, end, at),
                    ));
                }
            }
            None => {
                let price =
                    price.ok_or_else(|| ApiError::missing_param(&format!("{param}[price]")))?;
                let quantity = quantity.unwrap_or(1);
                let item = subscription_item(s, &sub_id, &price, quantity, start, end);
                prorations.extend(proration_lines(
                    s,
                    &id_of(&item["id"]),
                    None,
                    Some((&price, quantity)),
                    (start, end, at),
                ));
                items.push(item);
            }
        }
    }
    Ok(ItemChanges { items, prorations })
}

/// The billing interval of a list of items (their first price's).
fn interval_of(items: &[Value]) -> (Value, Value) {
    let price = items.first().map(|i| &i["price"]).unwrap_or(&Value::Null);
    (
        price["recurring"]["interval"].clone(),
        price["recurring"]["interval_count"].clone(),
    )
}

/// When a change moves the subscription to another billing interval (monthly → yearly),
/// Stripe resets the billing cycle to the moment of the change and invoices at once, whatever
/// `proration_behavior` says: a credit for the unused time of every old item (unless `none`)
/// and the new items for a full new period [at, new end). `None` when the interval stays.
pub(crate) fn cycle_reset(
    s: &Store,
    before: &Value,
    items: &[Value],
    at: i64,
    prorate: bool,
) -> Option<(Vec<Line>, i64)> {
    let old_items = before["items"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if items.is_empty() || interval_of(&old_items) == interval_of(items) {
        return None;
    }
    let start = before["current_period_start"].as_i64().unwrap_or(at);
    let end = before["current_period_end"].as_i64().unwrap_or(at);
    let new_end = next_period_end(at, items);
    let mut lines = Vec::new();
    if prorate {
        for old in &old_items {
            lines.extend(proration_lines(
                s,
                &id_of(&old["id"]),
                Some((&old["price"], old["quantity"].as_i64().unwrap_or(1))),
                None,
                (start, end, at),
            ));
        }
    }
    lines.extend(items.iter().map(|item| item_line(s, item, at, new_end)));
    Some((lines, new_end))
}

/// `POST /v1/subscriptions/{id}`: `cancel_at_period_end`, `items[N][id|price|quantity|deleted]`,
/// `proration_behavior`, `proration_date`, `metadata`.
///
/// Prorations (unless `proration_behavior=none`) become pending invoice items. With
/// `always_invoice` they are invoiced at once (`billing_reason=subscription_update`): a positive
/// total is charged to the default card, a negative one becomes credit on the customer's
/// balance. With `create_prorations` they wait for the next renewal invoice. A change to another
/// billing interval resets the cycle and invoices at once (see [`cycle_reset`]).
pub fn update_subscription(s: &mut Store, id: &str, p: &Params) -> ApiResult<Value> {
    let before = s.get("subscription", id)?;
    if before["status"] == "canceled" {
        return Err(ApiError::invalid(
            format!(
                "A canceled subscription can only update its cancellation_details and metadata. ({id})"
            ),
            None,
        ));
    }
    let proration = p
        .str("proration_behavior")
        .unwrap_or_else(|| "create_prorations".into());
    if !["create_prorations", "always_invoice", "none"].contains(&proration.as_str()) {
        return Err(ApiError::invalid_param(
            "proration_behavior",
            format!("Invalid proration_behavior: {proration}"),
        ));
    }
    let mut after = before.clone();
    if let Some(flag) = p.bool("cancel_at_period_end")? {
        after["cancel_at_period_end"] = json!(flag);
        after["cancel_at"] = if flag {
            after["current_period_end"].clone()
        } else {
            Value::Null
        };
        after["canceled_at"] = if flag { json!(now()) } else { Value::Null };
        after["cancellation_details"]["reason"] = if flag {
            json!("cancellation_requested")
        } else {
            Value::Null
        };
    }
    p.metadata_into("metadata", &mut after["metadata"])?;
    let start = before["current_period_start"].as_i64().unwrap_or_else(now);
    let end = before["current_period_end"].as_i64().unwrap_or_else(now);
    let at = proration_moment(p.int("proration_date")?, start, end);
    let ItemChanges {
        mut items,
        prorations,
    } = apply_item_changes(s, &before, &p.items("items"), "items", at)?;
    let reset = cycle_reset(s, &before, &items, at, proration != "none");
    if let Some((_, new_end)) = &reset {
        for item in &mut items {
            item["current_period_start"] = json!(at);
            item["current_period_end"] = json!(new_end);
        }
        after["current_period_start"] = json!(at);
        after["current_period_end"] = json!(new_end);
        after["billing_cycle_anchor"] = json!(at);
        if after["cancel_at_period_end"] == true {
            after["cancel_at"] = json!(new_end);
        }
    }
    after["items"]["data"] = json!(items);
    let after = s.update(id, |sub| *sub = after);
    let previous = previous_attributes(&before, &after, &[]);
    s.emit("customer.subscription.updated", &after, Some(previous));
    let immediate = match reset {
        Some((lines, _)) => {
            let mut all = pending_lines(s, id);
            all.extend(lines);
            Some(all)
        }
        None if proration == "none" || prorations.is_empty() => None,
        None => {
            add_pending_items(s, &after, &prorations);
            (proration == "always_invoice").then(|| pending_lines(s, id))
        }
    };
    if let Some(lines) = immediate {
        let invoice = bill_subscription(s, id, "subscription_update", &lines, (at, at), false);
        let paid = invoice["status"] == "paid";
        s.update(id, |sub| {
            sub["latest_invoice"] = invoice["id"].clone();
            if !paid {
                sub["status"] = json!("past_due");
            }
        });
        emit_invoice_events(s, &invoice);
        if !paid {
            let now_sub = s.get("subscription", id)?;
            s.emit(
                "customer.subscription.updated",
                &now_sub,
                Some(json!({ "status": after["status"].clone() })),
            );
        }
    }
    s.get("subscription", id)
}
