//! Products: `/v1/products` and how one is made.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{Reply, expanded, filter_created, ok, previous_attributes};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::store::Store;
use crate::{AppState, now, with_store};

// ------------------------------------------------------------------ /v1 endpoints

pub(crate) async fn create(State(state): State<AppState>, p: Params) -> Reply {
    with_store(&state, |s| {
        let product = new_product(s, &p)?;
        s.emit("product.created", &product, None);
        ok(product)
    })
}

pub(crate) async fn retrieve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    let s = state.lock();
    expanded(&s, s.get("product", &id)?, &p)
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    with_store(&state, |s| {
        let before = s.get("product", &id)?;
        if let Some(price) = p.str("default_price") {
            s.get("price", &price)?;
        }
        let mut after = before.clone();
        if let Some(name) = p.str("name") {
            after["name"] = json!(name);
        }
        if p.has("description") {
            after["description"] = json!(p.str("description"));
        }
        if let Some(active) = p.bool("active")? {
            after["active"] = json!(active);
        }
        if p.has("default_price") {
            after["default_price"] = json!(p.str("default_price"));
        }
        p.metadata_into("metadata", &mut after["metadata"])?;
        after["updated"] = json!(now());
        let after = s.update(&id, |o| *o = after);
        let previous = previous_attributes(&before, &after, &["updated"]);
        s.emit("product.updated", &after, Some(previous));
        expanded(s, after, &p)
    })
}

pub(crate) async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Reply {
    with_store(&state, |s| {
        let product = s.get("product", &id)?;
        if s.all("price").iter().any(|pr| pr["product"] == id.as_str()) {
            return Err(ApiError::invalid(
                "This product cannot be deleted because it has one or more user-created prices.",
                None,
            ));
        }
        s.remove(&id);
        s.emit("product.deleted", &product, None);
        ok(json!({ "id": id, "object": "product", "deleted": true }))
    })
}

pub(crate) async fn list(State(state): State<AppState>, p: Params) -> Reply {
    let s = state.lock();
    let mut items = s.all("product");
    if let Some(active) = p.bool("active")? {
        items.retain(|o| o["active"] == active);
    }
    let ids = p.list("ids");
    if !ids.is_empty() {
        items.retain(|o| ids.iter().any(|i| o["id"] == i.as_str()));
    }
    let items = filter_created(items, &p)?;
    ok(s.list(items, &p, "/v1/products")?)
}

// ------------------------------------------------------------------ what Stripe does

pub fn new_product(s: &mut Store, p: &Params) -> ApiResult<Value> {
    let name = p.required("name")?;
    let id = match p.str("id") {
        Some(id) if s.exists(&id) => {
            return Err(
                ApiError::invalid_param("id", format!("Product already exists: {id}"))
                    .with_code("resource_already_exists"),
            );
        }
        Some(id) => id,
        None => s.new_id("prod"),
    };
    let t = now();
    Ok(s.insert(json!({
        "id": id,
        "object": "product",
        "active": p.bool("active")?.unwrap_or(true),
        "created": t,
        "default_price": null,
        "description": p.str("description"),
        "images": [],
        "livemode": false,
        "marketing_features": [],
        "metadata": p.metadata("metadata")?,
        "name": name,
        "package_dimensions": null,
        "shippable": null,
        "statement_descriptor": p.str("statement_descriptor"),
        "tax_code": null,
        "type": "service",
        "unit_label": p.str("unit_label"),
        "updated": t,
        "url": null,
    })))
}
