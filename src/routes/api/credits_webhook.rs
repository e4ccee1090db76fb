//! `POST /api/v1/billing/credits/webhook`: Stripe's signed events for credit
//! purchases. Reads the raw body, verifies it against every configured
//! secret, and hands a typed event to the purchase service. A bad signature
//! or stale timestamp is 400 and changes nothing; a database failure is 5xx
//! so Stripe retries; unknown event types are acknowledged and ignored.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use backend::{
    AppState, checkout,
    purchases::{self, Actor, Settlement},
    stripe::{CreditsEventKind, SignatureError, verify_credits_event},
};
use serde_json::{Value, json};

use crate::error::AppError;

const ENDPOINT: &str = "credits";

pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let payload = std::str::from_utf8(&body).map_err(|_| {
        AppError::new(
            StatusCode::BAD_REQUEST,
            "invalid_payload",
            "The body is not UTF-8 text.",
        )
    })?;
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let event = verify_credits_event(
        payload,
        signature,
        &state.config.stripe.webhook_secrets_credits,
    )
    .map_err(|error| {
        tracing::warn!(error = %error, "credits webhook refused");
        let code = match error {
            SignatureError::Missing => "missing_signature",
            SignatureError::BadSignature => "invalid_signature",
            SignatureError::Stale => "stale_signature",
            SignatureError::BadPayload(_) => "invalid_payload",
        };
        AppError::new(StatusCode::BAD_REQUEST, code, error.to_string())
    })?;

    if already_handled(&state, &event.id).await? {
        return Ok(Json(json!({ "received": true, "duplicate": true })));
    }
    let actor = Actor::StripeEvent(&event.id);
    let settlement = match &event.kind {
        CreditsEventKind::CheckoutSettled(outcome) => Some(
            checkout::fulfil_checkout(&state.pool, &state.stripe, outcome, actor)
                .await
                .map_err(webhook_failed),
        ),
        CreditsEventKind::CheckoutPaymentFailed(session) => Some(
            purchases::mark_failed(&state.pool, session, actor)
                .await
                .map_err(webhook_failed),
        ),
        CreditsEventKind::CheckoutExpired(session) => Some(
            purchases::mark_expired(&state.pool, session, actor)
                .await
                .map_err(webhook_failed),
        ),
        CreditsEventKind::ChargeRefunded {
            payment_intent_id,
            amount_refunded,
        } => Some(
            checkout::apply_stripe_refund(
                &state.pool,
                &state.stripe,
                payment_intent_id,
                *amount_refunded,
                actor,
            )
            .await
            .map_err(webhook_failed),
        ),
        CreditsEventKind::Ignored => {
            tracing::debug!(event = %event.id, event_type = %event.event_type, "credits webhook: event type ignored");
            None
        }
    };
    if let Some(settlement) = settlement {
        match settlement? {
            Settlement::UnknownSession => {
                tracing::info!(event = %event.id, "credits webhook: not one of our purchases")
            }
            other => tracing::info!(event = %event.id, outcome = ?other, "credits webhook handled"),
        }
    }
    remember(&state, &event.id, &event.event_type).await?;
    Ok(Json(json!({ "received": true })))
}

/// Whether this event id was handled before (a redelivery is a no-op).
async fn already_handled(state: &AppState, event_id: &str) -> Result<bool, AppError> {
    sqlx::query_scalar("select exists(select 1 from stripe_webhook_events where event_id = $1)")
        .bind(event_id)
        .fetch_one(&state.pool)
        .await
        .map_err(|e| AppError::internal("webhook_failed", e))
}

/// Records the event after it was handled, so a failure part-way leaves it
/// to Stripe's retry (handling is idempotent either way).
async fn remember(state: &AppState, event_id: &str, event_type: &str) -> Result<(), AppError> {
    sqlx::query(
        "insert into stripe_webhook_events (event_id, event_type, endpoint) values ($1, $2, $3) \
         on conflict (event_id) do nothing",
    )
    .bind(event_id)
    .bind(event_type)
    .bind(ENDPOINT)
    .execute(&state.pool)
    .await
    .map_err(|e| AppError::internal("webhook_failed", e))?;
    Ok(())
}

/// Database or Stripe trouble: 5xx, so Stripe delivers the event again.
fn webhook_failed(error: impl std::error::Error + Send + Sync + 'static) -> AppError {
    AppError::internal("webhook_failed", error)
}
