//! Refunds: `/v1/refunds`, how a charge is refunded (in full or in part), and how a refund fails
//! later.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{Reply, expanded, filter_created, filter_eq, id_of, ok};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::store::Store;
use crate::{AppState, now, with_store};

// ------------------------------------------------------------------ /v1 endpoints

pub(crate) async fn create(State(state): State<AppState>, p: Params) -> Reply {
    with_store(&state, |s| {
        let refund = create_refund(s, &p)?;
        expanded(s, refund, &p)
    })
}

pub(crate) async fn retrieve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Reply {
    let s = state.lock();
    expanded(&s, s.get("refund", &id)?, &p)
}

pub(crate) async fn list(State(state): State<AppState>, p: Params) -> Reply {
    let s = state.lock();
    let items = filter_eq(s.all("refund"), "charge", p.str("charge"));
    let items = filter_eq(items, "payment_intent", p.str("payment_intent"));
    let items = filter_created(items, &p)?;
    ok(s.list(items, &p, "/v1/refunds")?)
}

// ------------------------------------------------------------------ what Stripe does

pub fn create_refund(s: &mut Store, p: &Params) -> ApiResult<Value> {
    let charge_id = match (p.str("charge"), p.str("payment_intent")) {
        (Some(c), _) => {
            s.get("charge", &c)?;
            c
        }
        (None, Some(pi)) => {
            let pi_obj = s.get("payment_intent", &pi)?;
            if pi_obj["status"] != "succeeded" {
                return Err(ApiError::invalid_param(
                    "payment_intent",
                    format!(
                        "This PaymentIntent ({pi}) does not have a successful charge to refund."
                    ),
                ));
            }
            id_of(&pi_obj["latest_charge"])
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
                None,
            ));
        }
    };
    let charge = s.get("charge", &charge_id)?;
    if charge["paid"] != true {
        return Err(ApiError::invalid_param(
            "charge",
            format!("Charge {charge_id} has not been paid."),
        ));
    }
    let captured = charge["amount"].as_i64().unwrap_or(0);
    let already = charge["amount_refunded"].as_i64().unwrap_or(0);
    let remaining = captured - already;
    if remaining <= 0 {
        return Err(ApiError::invalid(
            format!("Charge {charge_id} has already been refunded."),
            None,
        )
        .with_code("charge_already_refunded"));
    }
    let amount = p.int("amount")?.unwrap_or(remaining);
    if amount <= 0 {
        return Err(ApiError::invalid_param(
            "amount",
            "Refund amount must be positive.",
        ));
    }
    if amount > remaining {
        return Err(ApiError::invalid_param(
            "amount",
            format!(
                "Refund amount ({}) is greater than unrefunded amount on charge ({}).",
                money(amount),
                money(remaining)
            ),
        )
        .with_code("amount_too_large"));
    }
    if let Some(reason) = p.str("reason")
        && !["duplicate", "fraudulent", "requested_by_customer"].contains(&reason.as_str())
    {
        return Err(ApiError::invalid_param(
            "reason",
            format!("Invalid reason: {reason}"),
        ));
    }
    let id = s.new_id("re");
    let refund = s.insert(json!({
        "id": id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": format!("txn_{}", &id[3..]),
        "charge": charge_id,
        "created": now(),
        "currency": charge["currency"].clone(),
        "destination_details": null,
        "metadata": p.metadata("metadata")?,
        "payment_intent": charge["payment_intent"].clone(),
        "reason": p.str("reason"),
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": "succeeded",
        "transfer_reversal": null,
    }));
    let total_refunded = already + amount;
    let after = s.update(&charge_id, |c| {
        c["amount_refunded"] = json!(total_refunded);
        c["refunded"] = json!(total_refunded >= captured);
    });
    s.emit("refund.created", &refund, None);
    s.emit(
        "charge.refunded",
        &after,
        Some(json!({ "amount_refunded": already, "refunded": false })),
    );
    Ok(refund)
}

/// A refund that succeeded fails later (e.g. the card was closed): the money
/// comes back to the merchant, the charge's refunded total goes down by it,
/// and Stripe emits `refund.updated`, `refund.failed` and `charge.refund.updated`
/// with the refund as it is now.
pub fn fail_refund(s: &mut Store, id: &str, reason: Option<String>) -> ApiResult<Value> {
    let refund = s.get("refund", id)?;
    if refund["status"] != "succeeded" && refund["status"] != "pending" {
        return Err(ApiError::invalid(
            format!("Refund {id} is {} and cannot fail.", refund["status"]),
            None,
        ));
    }
    let reason = reason.unwrap_or_else(|| "expired_or_canceled_card".to_owned());
    if ![
        "lost_or_stolen_card",
        "expired_or_canceled_card",
        "charge_for_pending_refund_disputed",
        "insufficient_funds",
        "declined",
        "merchant_request",
        "unknown",
    ]
    .contains(&reason.as_str())
    {
        return Err(ApiError::invalid_param(
            "failure_reason",
            format!("Invalid failure_reason: {reason}"),
        ));
    }
    let after = s.update(id, |r| {
        r["status"] = json!("failed");
        r["failure_reason"] = json!(reason);
        r["failure_balance_transaction"] = json!(format!("txn_f{}", &id[3..]));
    });
    let amount = refund["amount"].as_i64().unwrap_or(0);
    let charge_id = id_of(&refund["charge"]);
    s.update(&charge_id, |c| {
        let refunded = (c["amount_refunded"].as_i64().unwrap_or(0) - amount).max(0);
        c["amount_refunded"] = json!(refunded);
        c["refunded"] = json!(false);
    });
    let previous = json!({ "status": refund["status"].clone(), "failure_reason": null, "failure_balance_transaction": null });
    s.emit("refund.updated", &after, Some(previous.clone()));
    s.emit("refund.failed", &after, Some(previous.clone()));
    s.emit("charge.refund.updated", &after, Some(previous));
    Ok(after)
}

fn money(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}
