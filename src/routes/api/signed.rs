//! Stripe's signed webhook requests, for both endpoints: the [`Verified`]
//! extractor reads the raw body, checks `Stripe-Signature` against every
//! secret configured for the endpoint (a list, for rotation) and reads the
//! event (the envelope, and the object only for the types the endpoint
//! handles). Anything refused there is a 400 (`missing_signature`,
//! `invalid_signature`, `stale_signature`, `invalid_payload`) and changes
//! nothing.

use axum::{
    body::Bytes,
    extract::{FromRef, FromRequest, Request},
};
use backend::{
    AppState,
    config::StripeConfig,
    stripe::{
        CreditsEvent, SignatureError, SubscriptionEvent, verify_credits_event,
        verify_subscription_event,
    },
};

use crate::error::{AppError, ErrorCode};

/// An event one of our webhook endpoints reads.
pub trait SignedEvent: Sized {
    /// The endpoint's name in logs.
    const ENDPOINT: &'static str;

    fn verify(
        payload: &[u8],
        signature: Option<&str>,
        stripe: &StripeConfig,
    ) -> Result<Self, SignatureError>;
}

/// The credits endpoint's events, signed with `STRIPE_WEBHOOK_SECRET_CREDITS`.
impl SignedEvent for CreditsEvent {
    const ENDPOINT: &'static str = "credits";

    fn verify(
        payload: &[u8],
        signature: Option<&str>,
        stripe: &StripeConfig,
    ) -> Result<Self, SignatureError> {
        verify_credits_event(payload, signature, &stripe.webhook_secrets_credits)
    }
}

/// The subscription endpoint's events, signed with `STRIPE_WEBHOOK_SECRET`.
impl SignedEvent for SubscriptionEvent {
    const ENDPOINT: &'static str = "subscriptions";

    fn verify(
        payload: &[u8],
        signature: Option<&str>,
        stripe: &StripeConfig,
    ) -> Result<Self, SignatureError> {
        verify_subscription_event(payload, signature, &stripe.webhook_secrets_subscriptions)
    }
}

/// A webhook event whose signature was verified; otherwise a 400.
pub struct Verified<E>(pub E);

impl<S, E> FromRequest<S> for Verified<E>
where
    S: Send + Sync,
    AppState: FromRef<S>,
    E: SignedEvent,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
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
        let state = AppState::from_ref(state);
        E::verify(&body, signature.as_deref(), &state.config.stripe)
            .map(Verified)
            .map_err(|error| {
                tracing::warn!(error = %error, endpoint = E::ENDPOINT, "webhook refused");
                let code = match error {
                    SignatureError::Missing => ErrorCode::MissingSignature,
                    SignatureError::BadSignature => ErrorCode::InvalidSignature,
                    SignatureError::Stale => ErrorCode::StaleSignature,
                    SignatureError::BadPayload(_) => ErrorCode::InvalidPayload,
                };
                AppError::new(code, error.to_string())
            })
    }
}
