//! Events: `/v1/events`, the record of everything that happened (what webhooks deliver).

use axum::extract::{Path, State};

use super::{Reply, filter_created, ok};
use crate::AppState;
use crate::params::Params;

// ------------------------------------------------------------------ /v1 endpoints

pub(crate) async fn list(State(state): State<AppState>, p: Params) -> Reply {
    let s = state.lock();
    let mut items = s.all("event");
    if let Some(kind) = p.str("type") {
        if let Some(prefix) = kind.strip_suffix('*') {
            items.retain(|e| e["type"].as_str().is_some_and(|t| t.starts_with(prefix)));
        } else {
            items.retain(|e| e["type"] == kind.as_str());
        }
    }
    let types = p.list("types");
    if !types.is_empty() {
        items.retain(|e| types.iter().any(|t| e["type"] == t.as_str()));
    }
    if let Some(delivered) = p.bool("delivery_success")? {
        items.retain(|e| (e["pending_webhooks"].as_i64().unwrap_or(0) == 0) == delivered);
    }
    let items = filter_created(items, &p)?;
    ok(s.list(items, &p, "/v1/events")?)
}

pub(crate) async fn retrieve(State(state): State<AppState>, Path(id): Path<String>) -> Reply {
    let s = state.lock();
    ok(s.get("event", &id)?)
}
