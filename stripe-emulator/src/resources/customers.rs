//! Customers: `/v1/customers` (with search and their payment methods) and how one is made.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::payment_methods::new_payment_method;
use super::subscriptions::cancel_subscription_now;
use super::{Reply, expanded, filter_created, filter_eq, id_of, ok, previous_attributes};
use crate::cards::{CardBehavior, CardInput, card_behavior, decline_reason};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::store::Store;
use crate::{AppState, now, with_store};

// ------------------------------------------------------------------ /v1 endpoints

pub(crate) async fn create(State(state): State<AppState>, p: Params) -> Reply {
    with_store(&state, |s| {
        let customer = new_customer(s, &p)?;
        expanded(s, customer, &p)
    })
}

pub(crate) async fn retrieve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    let s = state.lock();
    match s.find(&id) {
        Some(c) if c["object"] == "customer" && c["deleted"] == true => ok(json!({
            "id": id, "object": "customer", "deleted": true
        })),
        _ => expanded(&s, s.get("customer", &id)?, &p),
    }
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    with_store(&state, |s| {
        let before = s.get("customer", &id)?;
        let mut after = before.clone();
        for field in ["email", "name", "description", "phone"] {
            if p.has(field) {
                after[field] = json!(p.str(field));
            }
        }
        let settings = p.sub("invoice_settings");
        if settings.has("default_payment_method") {
            let pm = settings.str("default_payment_method");
            if let Some(pm) = &pm {
                let method = s.get("payment_method", pm)?;
                if method["customer"] != id.as_str() {
                    return Err(ApiError::invalid_param(
                        "invoice_settings[default_payment_method]",
                        format!(
                            "The customer does not have a payment method with the ID {pm}. The payment method must be attached to the customer."
                        ),
                    ));
                }
            }
            after["invoice_settings"]["default_payment_method"] = json!(pm);
        }
        p.metadata_into("metadata", &mut after["metadata"])?;
        let after = s.update(&id, |o| *o = after);
        let previous = previous_attributes(&before, &after, &[]);
        s.emit("customer.updated", &after, Some(previous));
        expanded(s, after, &p)
    })
}

pub(crate) async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Reply {
    with_store(&state, |s| {
        let customer = s.get("customer", &id)?;
        for sub in s.all("subscription") {
            if sub["customer"] == id.as_str() && sub["status"] != "canceled" {
                cancel_subscription_now(s, &id_of(&sub["id"]), "cancellation_requested");
            }
        }
        s.remove(&id);
        s.emit("customer.deleted", &customer, None);
        ok(json!({ "id": id, "object": "customer", "deleted": true }))
    })
}

pub(crate) async fn list(State(state): State<AppState>, p: Params) -> Reply {
    let s = state.lock();
    let mut items = s.all("customer");
    if let Some(email) = p.str("email") {
        items.retain(|o| o["email"] == email.as_str());
    }
    let items = filter_created(items, &p)?;
    ok(s.list(items, &p, "/v1/customers")?)
}

/// Stripe's search query language, the subset that matters here:
/// `email:'a@b.c'`, `name:'x'`, `metadata['k']:'v'`, `field~'substring'`, joined by AND/OR.
pub(crate) async fn search(State(state): State<AppState>, p: Params) -> Reply {
    let query = p.required("query")?;
    let s = state.lock();
    let matcher = SearchQuery::parse(&query)?;
    let items: Vec<Value> = s
        .all("customer")
        .into_iter()
        .filter(|c| matcher.matches(c))
        .collect();
    let limit = p.int("limit")?.unwrap_or(10).clamp(1, 100) as usize;
    let total = items.len();
    let data: Vec<Value> = items.into_iter().take(limit).collect();
    ok(json!({
        "object": "search_result",
        "data": data,
        "has_more": total > limit,
        "next_page": null,
        "total_count": total,
        "url": "/v1/customers/search",
    }))
}

pub(crate) async fn list_payment_methods(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    let s = state.lock();
    s.get("customer", &id)?;
    let mut items = filter_eq(s.all("payment_method"), "customer", Some(id.clone()));
    if let Some(kind) = p.str("type") {
        items.retain(|o| o["type"] == kind.as_str());
    }
    ok(s.list(items, &p, &format!("/v1/customers/{id}/payment_methods"))?)
}

// ------------------------------------------------------------------ what Stripe does

pub fn new_customer(s: &mut Store, p: &Params) -> ApiResult<Value> {
    let id = s.new_id("cus");
    let prefix: String = id[4..12].to_uppercase();
    let customer = s.insert(json!({
        "id": id,
        "object": "customer",
        "address": null,
        "balance": 0,
        "created": now(),
        "currency": null,
        "default_source": null,
        "delinquent": false,
        "description": p.str("description"),
        "discount": null,
        "email": p.str("email"),
        "invoice_prefix": prefix,
        "invoice_settings": {
            "custom_fields": null,
            "default_payment_method": null,
            "footer": null,
            "rendering_options": null,
        },
        "livemode": false,
        "metadata": p.metadata("metadata")?,
        "name": p.str("name"),
        "next_invoice_sequence": 1,
        "phone": p.str("phone"),
        "preferred_locales": [],
        "shipping": null,
        "tax_exempt": "none",
        "test_clock": null,
    }));
    s.emit("customer.created", &customer, None);
    Ok(customer)
}

/// The customer saves a test card as its default payment method (and that of its live
/// subscriptions), as the portal or an app's "update card" page would: `payment_method.attached`,
/// `customer.updated`, `customer.subscription.updated`. Cards that are declined outright do not
/// attach (402); `4000 0000 0000 0341` attaches, and every later charge on it fails.
pub fn attach_default_card(s: &mut Store, customer_id: &str, number: &str) -> ApiResult<Value> {
    let before = s.get("customer", customer_id)?;
    if before["deleted"] == true {
        return Err(ApiError::no_such("customer", customer_id));
    }
    let behavior = card_behavior(number)
        .map_err(|m| ApiError::card("incorrect_number", None, m).with_param("card"))?;
    match behavior {
        CardBehavior::Declined | CardBehavior::InsufficientFunds => {
            let (code, message) = decline_reason(behavior);
            return Err(ApiError::card("card_declined", Some(code), message));
        }
        CardBehavior::AsyncSucceeds | CardBehavior::AsyncFails => {
            return Err(ApiError::invalid_param(
                "card",
                "Delayed-notification test cards work only in Checkout payment mode.",
            ));
        }
        _ => {}
    }
    let input = CardInput {
        email: before["email"].as_str().unwrap_or("").to_owned(),
        name: before["name"].as_str().unwrap_or("").to_owned(),
        number: number.to_owned(),
        exp_month: 12,
        exp_year: 2040,
    };
    let email = input.email.clone();
    let pm = new_payment_method(s, &input, &email, Some(customer_id));
    let pm_id = id_of(&pm["id"]);
    if behavior == CardBehavior::ChargeFails {
        s.failing_cards.insert(pm_id.clone());
    }
    let after = s.update(customer_id, |c| {
        c["invoice_settings"]["default_payment_method"] = json!(pm_id)
    });
    let previous = previous_attributes(&before, &after, &[]);
    s.emit("customer.updated", &after, Some(previous));
    for sub in s.all("subscription") {
        if sub["customer"] == customer_id && sub["status"] != "canceled" {
            let updated = s.update(&id_of(&sub["id"]), |x| {
                x["default_payment_method"] = json!(pm_id)
            });
            let previous = previous_attributes(&sub, &updated, &[]);
            s.emit("customer.subscription.updated", &updated, Some(previous));
        }
    }
    Ok(pm)
}

/// A parsed search query: clauses joined by AND (all) or OR (any).
pub struct SearchQuery {
    clauses: Vec<(Vec<String>, bool, String)>,
    any: bool,
}

impl SearchQuery {
    pub fn parse(query: &str) -> ApiResult<Self> {
        let bad = || {
            ApiError::invalid_param(
                "query",
                format!("The emulator could not parse the search query: {query}"),
            )
        };
        let any = query.contains(" OR ");
        let mut clauses = Vec::new();
        for raw in query.split(if any { " OR " } else { " AND " }) {
            let raw = raw.trim();
            let (field, substring, value) = if let Some((f, v)) = raw.split_once(':') {
                (f, false, v)
            } else if let Some((f, v)) = raw.split_once('~') {
                (f, true, v)
            } else {
                return Err(bad());
            };
            let value = value
                .trim()
                .trim_matches(|c| c == '\'' || c == '"')
                .to_owned();
            let field = field.trim();
            let path = if let Some(rest) = field.strip_prefix("metadata[") {
                let key = rest
                    .trim_end_matches(']')
                    .trim_matches(|c| c == '\'' || c == '"');
                vec!["metadata".to_owned(), key.to_owned()]
            } else {
                vec![field.to_owned()]
            };
            clauses.push((path, substring, value));
        }
        if clauses.is_empty() {
            return Err(bad());
        }
        Ok(Self { clauses, any })
    }

    pub fn matches(&self, object: &Value) -> bool {
        let check = |(path, substring, value): &(Vec<String>, bool, String)| {
            let mut field = object;
            for key in path {
                field = &field[key.as_str()];
            }
            let text = match field {
                Value::String(s) => s.clone(),
                Value::Null => return false,
                other => other.to_string(),
            };
            if *substring {
                text.to_lowercase().contains(&value.to_lowercase())
            } else {
                text.eq_ignore_ascii_case(value)
            }
        };
        if self.any {
            self.clauses.iter().any(check)
        } else {
            self.clauses.iter().all(check)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_query_subset() {
        let q = SearchQuery::parse("email:'a@b.c'").unwrap();
        assert!(q.matches(&json!({"email": "A@b.c"})));
        assert!(!q.matches(&json!({"email": "x@b.c"})));
        let q = SearchQuery::parse("metadata['user_id']:'42' AND name~'ann'").unwrap();
        assert!(q.matches(&json!({"metadata": {"user_id": "42"}, "name": "Joanna"})));
    }
}
