//! `POST /api/v1/billing/webhooks/stripe` (alias `/webhooks/stripe/checkout`):
//! Stripe's signed subscription events, verified against
//! `STRIPE_WEBHOOK_SECRET` (a list, for rotation). Refusals are 400 and
//! change nothing; `backend::subscriptions::webhook::handle` does the rest:
//! a duplicate id or an ignored type is a 2xx no-op, database or Stripe
//! trouble a 5xx so Stripe retries.

use axum::{Json, extract::State};
use backend::{
    AppState,
    stripe::SubscriptionEvent,
    subscriptions::webhook::{self, Handled},
};
use serde_json::{Value, json};

use super::signed::Verified;
use crate::error::{AppError, ErrorCode};

pub async fn receive(
    State(state): State<AppState>,
    Verified(event): Verified<SubscriptionEvent>,
) -> Result<Json<Value>, AppError> {
    let handled = webhook::handle(&state.pool, &state.stripe, &state.outbox, &event)
        .await
        .map_err(|error| {
            let code = match error {
                backend::subscriptions::SubscriptionError::Stripe(_) => {
                    ErrorCode::StripeUnavailable
                }
                backend::subscriptions::SubscriptionError::Database(_) => {
                    ErrorCode::DatabaseUnavailable
                }
                _ => ErrorCode::InternalError,
            };
            crate::error::upstream(code, error)
        })?;
    Ok(Json(match handled {
        Handled::Duplicate => json!({ "received": true, "duplicate": true }),
        Handled::Ignored => json!({ "received": true, "ignored": true }),
        Handled::Applied => json!({ "received": true }),
    }))
}
