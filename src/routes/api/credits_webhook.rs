//! `POST /api/v1/billing/credits/webhook`: Stripe's signed events for credit
//! purchases. The [`VerifiedEvent`] extractor reads the raw body, checks
//! `Stripe-Signature` against every configured secret and reads the event
//! (envelope, and the object only for types we handle); anything refused
//! there is a 400 and changes nothing. `backend::webhook::handle` does the
//! rest in one transaction: a duplicate id or an ignored type is a 2xx
//! no-op, database or Stripe trouble a 5xx so Stripe retries.

use axum::{
    Json,
    body::Bytes,
    extract::{FromRef, FromRequest, Request, State},
};
use backend::{
    AppState,
    stripe::{CreditsEvent, SignatureError, verify_credits_event},
    webhook::{self, Handled},
};
use serde_json::{Value, json};

use crate::error::{AppError, ErrorCode};

pub async fn receive(
    State(state): State<AppState>,
    VerifiedEvent(event): VerifiedEvent,
) -> Result<Json<Value>, AppError> {
    let handled = webhook::handle(&state.pool, &state.stripe, &event)
        .await
        .map_err(crate::error::internal)?;
    Ok(Json(match handled {
        Handled::Duplicate => json!({ "received": true, "duplicate": true }),
        Handled::Ignored => json!({ "received": true, "ignored": true }),
        Handled::Applied(_) => json!({ "received": true }),
    }))
}

/// A Stripe event for the credits endpoint whose signature was verified
/// against `STRIPE_WEBHOOK_SECRET_CREDITS`; otherwise a 400
/// (`missing_signature`, `invalid_signature`, `stale_signature`,
/// `invalid_payload`).
pub struct VerifiedEvent(pub CreditsEvent);

impl<S> FromRequest<S> for VerifiedEvent
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (body, signature) = read_signed(request, state).await?;
        let state = AppState::from_ref(state);
        verify_credits_event(
            &body,
            signature.as_deref(),
            &state.config.stripe.webhook_secrets_credits,
        )
        .map(VerifiedEvent)
        .map_err(|error| refusal("credits", error))
    }
}

/// The raw body and the `Stripe-Signature` header of a webhook request.
pub(super) async fn read_signed<S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<(Bytes, Option<String>), AppError> {
    let signature = request
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = Bytes::from_request(request, state).await.map_err(|_| {
        AppError::new(
            ErrorCode::InvalidPayload,
            "The request body could not be read.",
        )
    })?;
    Ok((body, signature))
}

/// A webhook request refused before anything ran: always a 400.
pub(super) fn refusal(endpoint: &str, error: SignatureError) -> AppError {
    tracing::warn!(error = %error, endpoint, "webhook refused");
    let code = match error {
        SignatureError::Missing => ErrorCode::MissingSignature,
        SignatureError::BadSignature => ErrorCode::InvalidSignature,
        SignatureError::Stale => ErrorCode::StaleSignature,
        SignatureError::BadPayload(_) => ErrorCode::InvalidPayload,
    };
    AppError::new(code, error.to_string())
}
