//! Stripe's resources, one file each: its `/v1` endpoints (the handlers `api::router` routes to)
//! and what Stripe does to it (creation, state changes, the events it emits). Each of those
//! functions works on the locked store.
//!
//! The helpers below are shared by every resource.

pub mod billing_portal;
pub mod charges;
pub mod checkout_sessions;
pub mod customers;
pub mod disputes;
pub mod events;
pub mod invoices;
pub mod payment_intents;
pub mod payment_methods;
pub mod prices;
pub mod products;
pub mod refunds;
pub mod subscriptions;

use axum::Json;
use serde_json::{Map, Value};

use crate::error::ApiResult;
use crate::params::Params;
use crate::store::Store;

pub(crate) const DAY: i64 = 86_400;

pub(crate) type Reply = ApiResult<Json<Value>>;

pub(crate) fn ok(value: Value) -> Reply {
    Ok(Json(value))
}

pub(crate) fn expanded(store: &Store, value: Value, params: &Params) -> Reply {
    ok(store.expand(value, &params.list("expand")))
}

pub(crate) fn filter_eq(items: Vec<Value>, field: &str, want: Option<String>) -> Vec<Value> {
    match want {
        None => items,
        Some(want) => items
            .into_iter()
            .filter(|o| id_of(&o[field]) == want)
            .collect(),
    }
}

/// The id in a field that may hold an id or an expanded object.
pub fn id_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(o) => o.get("id").and_then(Value::as_str).unwrap_or("").to_owned(),
        _ => String::new(),
    }
}

pub(crate) fn filter_created(items: Vec<Value>, params: &Params) -> ApiResult<Vec<Value>> {
    Ok(match params.range("created")? {
        None => items,
        Some(range) => items
            .into_iter()
            .filter(|o| range.contains(o["created"].as_i64().unwrap_or(0)))
            .collect(),
    })
}

/// The top-level fields of `before` that differ in `after` (Stripe's `previous_attributes`).
pub fn previous_attributes(before: &Value, after: &Value, ignore: &[&str]) -> Value {
    let mut out = Map::new();
    if let (Some(b), Some(a)) = (before.as_object(), after.as_object()) {
        for (k, v) in b {
            if !ignore.contains(&k.as_str()) && a.get(k) != Some(v) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}
