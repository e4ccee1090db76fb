//! Billing portal sessions: `/v1/billing_portal/sessions` (the portal page itself is in `pages.rs`).

use axum::extract::State;
use serde_json::json;

use super::{Reply, ok};
use crate::params::Params;
use crate::{AppState, now, with_store};

// ------------------------------------------------------------------ /v1 endpoints

pub(crate) async fn create(State(state): State<AppState>, p: Params) -> Reply {
    let public_url = state.public_url.clone();
    with_store(&state, |s| {
        let customer = p.required("customer")?;
        s.get("customer", &customer)?;
        let id = s.new_id("bps");
        let session = json!({
            "id": id,
            "object": "billing_portal.session",
            "configuration": p.str("configuration").unwrap_or_else(|| "bpc_emulator_default".into()),
            "created": now(),
            "customer": customer,
            "customer_account": null,
            "flow": null,
            "livemode": false,
            "locale": p.str("locale"),
            "on_behalf_of": null,
            "return_url": p.str("return_url"),
            "url": format!("{public_url}/p/session/{id}"),
        });
        ok(s.insert(session))
    })
}
