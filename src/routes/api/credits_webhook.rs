//! `POST /api/v1/billing/credits/webhook`: Stripe's signed events for credit
//! purchases, verified by the [`Verified`] extractor against
//! `STRIPE_WEBHOOK_SECRET_CREDITS` (anything refused there is a 400 and
//! changes nothing). `backend::webhook::handle` does the
//! rest in one transaction (paid checkouts: in one batch with concurrent
//! deliveries, answered after its commit): a duplicate id or an ignored
//! type is a 2xx no-op, database or Stripe trouble a 5xx so Stripe retries.

use axum::{Json, extract::State};
use backend::{
    AppState,
    stripe::CreditsEvent,
    webhook::{self, Handled},
};
use serde_json::{Value, json};

use super::signed::Verified;
use crate::error::AppError;

pub async fn receive(
    State(state): State<AppState>,
    Verified(event): Verified<CreditsEvent>,
) -> Result<Json<Value>, AppError> {
    let handled = webhook::handle(&state.pool, &state.stripe, &state.fulfilments, &event)
        .await
        .map_err(crate::error::internal)?;
    Ok(Json(match handled {
        Handled::Duplicate => json!({ "received": true, "duplicate": true }),
        Handled::Ignored => json!({ "received": true, "ignored": true }),
        Handled::Applied(_) => json!({ "received": true }),
    }))
}
