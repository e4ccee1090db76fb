//! Purchases held for review (`needs_review`): the buyer paid, but the
//! payment did not match the purchase or came after it had expired or
//! failed, so nothing was granted. An admin settles each one, once:
//!
//! - **grant**: the purchase's snapshot credits under the ledger reference a
//!   normal fulfilment uses (`checkout_session:<id>`, unique), so a double
//!   click or a late webhook can never grant twice; the purchase completes.
//! - **refund**: the whole payment goes back through Stripe (one idempotency
//!   key per purchase, so a repeat makes no second refund); the purchase
//!   becomes `refunded` and no credits move (none were granted).

use domain::PurchaseStatus;
use serde_json::json;
use sqlx::PgPool;

use crate::{
    audit::Actor,
    ids::{PaymentIntentId, PurchaseId, RefundId, UserId},
    purchases::{self, Held, PurchaseError},
    stripe::{StripeError, StripeGateway},
};

/// What the admin decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewAction {
    Grant,
    Refund,
}

impl ReviewAction {
    /// `grant` or `refund`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "grant" => Some(ReviewAction::Grant),
            "refund" => Some(ReviewAction::Refund),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewAction::Grant => "grant",
            ReviewAction::Refund => "refund",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("there is no purchase {0}")]
    NotFound(PurchaseId),
    #[error("the purchase is {0}, not waiting for review")]
    NotInReview(PurchaseStatus),
    #[error("the purchase has no Stripe payment to refund")]
    NoPayment,
    /// Stripe refused (e.g. the payment was refunded elsewhere meanwhile).
    #[error("Stripe refused the refund: {message}")]
    StripeRefused { message: String },
    #[error("Stripe could not be reached or failed")]
    Stripe(#[source] StripeError),
    #[error(transparent)]
    Purchase(#[from] PurchaseError),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// What the review did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewOutcome {
    pub action: ReviewAction,
    /// The purchase's status afterwards: `completed` or `refunded`.
    pub status: PurchaseStatus,
    /// Credits granted by this action (0 for a refund).
    pub credits_granted: i64,
    /// Stripe's refund id, for a refund.
    pub refund_id: Option<RefundId>,
}

/// Settles a purchase held for review as `admin`. The purchase row stays
/// locked from the check to the end (through the Stripe call for a
/// refund), so a grant and a refund of one purchase, or two of either,
/// never both go through: the later one finds it settled (`NotInReview`).
pub async fn review_purchase(
    pool: &PgPool,
    stripe: &StripeGateway,
    admin: UserId,
    purchase_id: PurchaseId,
    action: ReviewAction,
) -> Result<ReviewOutcome, ReviewError> {
    let held = match purchases::lock_held(pool, purchase_id).await? {
        Held::Found(held) => *held,
        Held::NotInReview(status) => return Err(ReviewError::NotInReview(status)),
        Held::NotFound => return Err(ReviewError::NotFound(purchase_id)),
    };
    match action {
        ReviewAction::Grant => {
            let credits = held.credits().get();
            let status = held.grant(admin).await?;
            Ok(ReviewOutcome {
                action,
                status,
                credits_granted: credits,
                refund_id: None,
            })
        }
        ReviewAction::Refund => {
            let payment_intent: PaymentIntentId = held
                .payment_intent_id()
                .cloned()
                .ok_or(ReviewError::NoPayment)?;
            let receipt = stripe
                .create_refund(
                    &payment_intent,
                    None,
                    &format!("review-refund-{purchase_id}"),
                )
                .await
                .map_err(|error| match error {
                    StripeError::Rejected { message, .. } => ReviewError::StripeRefused { message },
                    other => ReviewError::Stripe(other),
                })?;
            tracing::info!(purchase = %purchase_id, refund = %receipt.refund_id, amount = receipt.amount.get(), "held purchase refunded in Stripe");
            let details = json!({
                "refund": receipt.refund_id,
                "payment_intent": payment_intent,
                "amount_cents": receipt.amount.get(),
            });
            let status = held.refunded(details, Actor::Admin(admin)).await?;
            Ok(ReviewOutcome {
                action,
                status,
                credits_granted: 0,
                refund_id: Some(receipt.refund_id),
            })
        }
    }
}
