//! `POST /api/v1/billing/webhooks/stripe` (alias `/webhooks/stripe/checkout`):
//! Stripe's signed subscription events, verified against
//! `STRIPE_WEBHOOK_SECRET` (a list, for rotation). Refusals are 400 and
//! change nothing; `backend::subscriptions::webhook::handle` does the rest:
//! a duplicate id or an ignored type is a 2xx no-op, database or Stripe
//! trouble a 5xx so Stripe retries.

use axum::{
    Json,
    extract::{FromRef, FromRequest, Request, State},
};
use backend::{
    AppState,
    stripe::{SubscriptionEvent, verify_subscription_event},
    subscriptions::webhook::{self, Handled},
};
use serde_json::{Value, json};

use super::credits_webhook::{read_signed, refusal};
use crate::error::{AppError, ErrorCode};

pub async fn receive(
    State(state): State<AppState>,
    VerifiedSubscriptionEvent(event): VerifiedSubscriptionEvent,
) -> Result<Json<Value>, AppError> {
    let handled = webhook::handle(&state.pool, &state.stripe, &event)
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

/// A subscription event whose signature was verified; otherwise a 400.
pub struct VerifiedSubscriptionEvent(pub SubscriptionEvent);

impl<S> FromRequest<S> for VerifiedSubscriptionEvent
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (body, signature) = read_signed(request, state).await?;
        let state = AppState::from_ref(state);
        verify_subscription_event(
            &body,
            signature.as_deref(),
            &state.config.stripe.webhook_secrets_subscriptions,
        )
        .map(VerifiedSubscriptionEvent)
        .map_err(|error| refusal("subscriptions", error))
    }
}
