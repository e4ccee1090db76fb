//! Prices: `/v1/prices`, how one is made, and who holds a lookup key.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::products::new_product;
use super::{Reply, expanded, filter_created, filter_eq, id_of, ok, previous_attributes};
use crate::error::{ApiError, ApiResult};
use crate::now;
use crate::params::Params;
use crate::store::Store;
use crate::{AppState, with_store};

// ------------------------------------------------------------------ /v1 endpoints

pub(crate) async fn create(State(state): State<AppState>, p: Params) -> Reply {
    with_store(&state, |s| {
        let price = new_price(s, &p)?;
        expanded(s, price, &p)
    })
}

pub(crate) async fn retrieve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    let s = state.lock();
    expanded(&s, s.get("price", &id)?, &p)
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    with_store(&state, |s| {
        let before = s.get("price", &id)?;
        let mut after = before.clone();
        if let Some(active) = p.bool("active")? {
            after["active"] = json!(active);
        }
        if p.has("nickname") {
            after["nickname"] = json!(p.str("nickname"));
        }
        if p.has("lookup_key") {
            let key = p.str("lookup_key");
            if let Some(key) = &key {
                claim_lookup_key(s, key, &id, p.bool("transfer_lookup_key")?.unwrap_or(false))?;
            }
            after["lookup_key"] = json!(key);
        }
        p.metadata_into("metadata", &mut after["metadata"])?;
        let after = s.update(&id, |o| *o = after);
        let previous = previous_attributes(&before, &after, &[]);
        s.emit("price.updated", &after, Some(previous));
        expanded(s, after, &p)
    })
}

pub(crate) async fn list(State(state): State<AppState>, p: Params) -> Reply {
    let s = state.lock();
    let mut items = s.all("price");
    if let Some(active) = p.bool("active")? {
        items.retain(|o| o["active"] == active);
    }
    if let Some(currency) = p.str("currency") {
        items.retain(|o| o["currency"] == currency.to_lowercase().as_str());
    }
    if let Some(kind) = p.str("type") {
        items.retain(|o| o["type"] == kind.as_str());
    }
    if let Some(interval) = p.sub("recurring").str("interval") {
        items.retain(|o| o["recurring"]["interval"] == interval.as_str());
    }
    let keys = p.list("lookup_keys");
    if !keys.is_empty() {
        items.retain(|o| keys.iter().any(|k| o["lookup_key"] == k.as_str()));
    }
    let items = filter_eq(items, "product", p.str("product"));
    let items = filter_created(items, &p)?;
    ok(s.list(items, &p, "/v1/prices")?)
}

// ------------------------------------------------------------------ what Stripe does

/// Gives `key` to `price_id`, taking it from another price only when `transfer` is set.
pub fn claim_lookup_key(s: &mut Store, key: &str, price_id: &str, transfer: bool) -> ApiResult<()> {
    let holder = s
        .all("price")
        .into_iter()
        .find(|pr| pr["lookup_key"] == key && pr["id"] != price_id);
    if let Some(holder) = holder {
        let holder_id = id_of(&holder["id"]);
        if !transfer {
            return Err(ApiError::invalid_param(
                "lookup_key",
                format!("A price (`{holder_id}`) already uses that lookup key."),
            ));
        }
        s.update(&holder_id, |pr| pr["lookup_key"] = Value::Null);
    }
    Ok(())
}

pub fn new_price(s: &mut Store, p: &Params) -> ApiResult<Value> {
    let currency = p.required("currency")?.to_lowercase();
    let unit_amount = p
        .int("unit_amount")?
        .ok_or_else(|| ApiError::missing_param("unit_amount"))?;
    if unit_amount < 0 {
        return Err(ApiError::invalid_param(
            "unit_amount",
            "This value must be greater than or equal to 0.",
        ));
    }
    let product = if let Some(product) = p.str("product") {
        s.get("product", &product)?;
        product
    } else if p.has("product_data") {
        let product = new_product(s, &p.sub("product_data"))?;
        s.emit("product.created", &product, None);
        id_of(&product["id"])
    } else {
        return Err(ApiError::missing_param("product"));
    };
    let recurring = if p.has("recurring") {
        let r = p.sub("recurring");
        let interval = r
            .required("interval")
            .map_err(|_| ApiError::missing_param("recurring[interval]"))?;
        if !["day", "week", "month", "year"].contains(&interval.as_str()) {
            return Err(ApiError::invalid_param(
                "recurring[interval]",
                format!(
                    "Invalid recurring[interval]: must be one of day, week, month, or year ({interval})"
                ),
            ));
        }
        json!({
            "interval": interval,
            "interval_count": r.int("interval_count")?.unwrap_or(1).max(1),
            "meter": null,
            "trial_period_days": null,
            "usage_type": "licensed",
        })
    } else {
        Value::Null
    };
    let id = s.new_id("price");
    if let Some(key) = p.str("lookup_key") {
        claim_lookup_key(
            s,
            &key,
            &id,
            p.bool("transfer_lookup_key")?.unwrap_or(false),
        )?;
    }
    let price = s.insert(json!({
        "id": id,
        "object": "price",
        "active": p.bool("active")?.unwrap_or(true),
        "billing_scheme": "per_unit",
        "created": now(),
        "currency": currency,
        "custom_unit_amount": null,
        "livemode": false,
        "lookup_key": p.str("lookup_key"),
        "metadata": p.metadata("metadata")?,
        "nickname": p.str("nickname"),
        "product": product,
        "recurring": recurring,
        "tax_behavior": p.str("tax_behavior").unwrap_or_else(|| "unspecified".into()),
        "tiers_mode": null,
        "transform_quantity": null,
        "type": if recurring.is_null() { "one_time" } else { "recurring" },
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_amount.to_string(),
    }));
    s.emit("price.created", &price, None);
    Ok(price)
}
