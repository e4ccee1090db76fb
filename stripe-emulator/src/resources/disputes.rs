//! Disputes: `/v1/disputes`, and how a card holder opens one and the bank closes it (driven by
//! the test controls; Stripe has no API call for either).

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{Reply, expanded, filter_created, filter_eq, ok};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::now;
use crate::params::Params;
use crate::store::Store;

// ------------------------------------------------------------------ /v1 endpoints

pub(crate) async fn retrieve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    let s = state.lock();
    expanded(&s, s.get("dispute", &id)?, &p)
}

pub(crate) async fn list(State(state): State<AppState>, p: Params) -> Reply {
    let s = state.lock();
    let items = filter_eq(s.all("dispute"), "charge", p.str("charge"));
    let items = filter_eq(items, "payment_intent", p.str("payment_intent"));
    let items = filter_created(items, &p)?;
    ok(s.list(items, &p, "/v1/disputes")?)
}

// ------------------------------------------------------------------ what Stripe does

/// The card holder disputes the charge: a Dispute for the part of the
/// charge not refunded, status `needs_response`, and `charge.dispute.created`.
pub fn open_dispute(s: &mut Store, charge_id: &str, reason: Option<String>) -> ApiResult<Value> {
    let charge = s.get("charge", charge_id)?;
    if charge["paid"] != true {
        return Err(ApiError::invalid(
            format!("Charge {charge_id} has not been paid."),
            None,
        ));
    }
    if charge["disputed"] == true {
        return Err(ApiError::invalid(
            format!("Charge {charge_id} is already disputed."),
            None,
        ));
    }
    let amount =
        charge["amount"].as_i64().unwrap_or(0) - charge["amount_refunded"].as_i64().unwrap_or(0);
    if amount <= 0 {
        return Err(ApiError::invalid(
            format!("Charge {charge_id} has been refunded in full."),
            None,
        ));
    }
    let reason = reason.unwrap_or_else(|| "fraudulent".to_owned());
    let id = s.new_id("dp");
    let created = now();
    let dispute = s.insert(json!({
        "id": id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge_id,
        "created": created,
        "currency": charge["currency"].clone(),
        "enhanced_eligibility_types": [],
        "evidence": {
            "access_activity_log": null, "billing_address": null, "cancellation_policy": null,
            "cancellation_policy_disclosure": null, "cancellation_rebuttal": null,
            "customer_communication": null, "customer_email_address": null, "customer_name": null,
            "customer_purchase_ip": null, "customer_signature": null,
            "duplicate_charge_documentation": null, "duplicate_charge_explanation": null,
            "duplicate_charge_id": null, "product_description": null, "receipt": null,
            "refund_policy": null, "refund_policy_disclosure": null, "refund_refusal_explanation": null,
            "service_date": null, "service_documentation": null, "shipping_address": null,
            "shipping_carrier": null, "shipping_date": null, "shipping_documentation": null,
            "shipping_tracking_number": null, "uncategorized_file": null, "uncategorized_text": null,
            "enhanced_evidence": {},
        },
        "evidence_details": {
            "due_by": created + 7 * 24 * 3600,
            "enhanced_eligibility": {},
            "has_evidence": false,
            "past_due": false,
            "submission_count": 0,
        },
        "is_charge_refundable": false,
        "livemode": false,
        "metadata": {},
        "network_reason_code": null,
        "payment_intent": charge["payment_intent"].clone(),
        "payment_method_details": null,
        "reason": reason,
        "status": "needs_response",
    }));
    s.update(charge_id, |c| c["disputed"] = json!(true));
    s.emit("charge.dispute.created", &dispute, None);
    Ok(dispute)
}

/// The bank decides the dispute (`won` or `lost`): `charge.dispute.closed`.
pub fn close_dispute(s: &mut Store, id: &str, won: bool) -> ApiResult<Value> {
    let dispute = s.get("dispute", id)?;
    if dispute["status"] == "won" || dispute["status"] == "lost" {
        return Err(ApiError::invalid(
            format!("Dispute {id} is already closed ({}).", dispute["status"]),
            None,
        ));
    }
    let status = if won { "won" } else { "lost" };
    let after = s.update(id, |d| d["status"] = json!(status));
    s.emit(
        "charge.dispute.closed",
        &after,
        Some(json!({ "status": dispute["status"].clone() })),
    );
    Ok(after)
}
