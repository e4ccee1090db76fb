//! An admin refunds a purchase through Stripe, fully or in part.
//!
//! Stripe makes the refund; the credits come back through
//! [`purchases::record_refund`], keyed by the charge's cumulative refunded
//! amount, which is exactly what Stripe's `charge.refunded` webhook reports
//! for the same refund. Whichever arrives second finds that total already
//! recorded and changes nothing, so credits are never taken back twice.

use domain::{Cents, PurchaseStatus};
use serde_json::json;
use sqlx::PgPool;

use crate::{
    ids::{PurchaseId, UserId},
    purchases::{self, Actor, PurchaseError},
    stripe::{StripeError, StripeGateway},
};

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("there is no purchase {0}")]
    NotFound(PurchaseId),
    #[error("a {0} purchase cannot be refunded; only completed or partially refunded ones can")]
    NotRefundable(PurchaseStatus),
    #[error("the purchase has no Stripe payment to refund")]
    NoPayment,
    #[error("a refund must be more than $0.00")]
    ZeroAmount,
    #[error("at most {refundable} is left to refund; {requested} is too much")]
    TooMuch { requested: Cents, refundable: Cents },
    /// Stripe refused (e.g. the charge was refunded elsewhere meanwhile).
    #[error("Stripe refused the refund: {message}")]
    StripeRefused { message: String },
    #[error("Stripe could not be reached or failed")]
    Stripe(#[source] StripeError),
    #[error(transparent)]
    Purchase(#[from] PurchaseError),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// What the refund did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOutcome {
    /// Stripe's refund id (`re_…`).
    pub refund_id: String,
    /// Refunded by this action.
    pub amount: Cents,
    /// Refunded of the purchase so far, this refund included.
    pub refunded_total: Cents,
    /// The purchase's status afterwards.
    pub status: PurchaseStatus,
}

/// Refunds `amount` of the purchase (all that is left when `None`) through
/// Stripe as `admin`, then takes back the matching share of the credits.
///
/// A repeated identical request made before the first one is recorded
/// reuses its Stripe idempotency key, so a double click refunds once.
pub async fn refund_purchase(
    pool: &PgPool,
    stripe: &StripeGateway,
    admin: UserId,
    purchase_id: PurchaseId,
    amount: Option<Cents>,
) -> Result<RefundOutcome, RefundError> {
    let row: Option<(UserId, String, Option<String>, i64, i64, i32)> = sqlx::query_as(
        "select user_id, status, stripe_payment_intent_id, amount_paid_cents, refunded_cents, refund_reversals \
         from credit_purchases where id = $1",
    )
    .bind(purchase_id)
    .fetch_optional(pool)
    .await?;
    let Some((user_id, status, payment_intent, paid, refunded_before, reversals)) = row else {
        return Err(RefundError::NotFound(purchase_id));
    };
    let status: PurchaseStatus = status
        .parse()
        .map_err(|e| PurchaseError::CorruptStatus(purchase_id, e))?;
    if status.refund(false).is_err() {
        return Err(RefundError::NotRefundable(status));
    }
    let payment_intent = payment_intent.ok_or(RefundError::NoPayment)?;
    let refundable = Cents::new(paid - refunded_before).unwrap_or(Cents::ZERO);
    let requested = amount.unwrap_or(refundable);
    if requested == Cents::ZERO {
        return Err(RefundError::ZeroAmount);
    }
    if requested > refundable {
        return Err(RefundError::TooMuch {
            requested,
            refundable,
        });
    }

    // After a failed refund the refunded total can be back at a figure seen
    // before; the failure count keeps the key from replaying that refund.
    let key = match reversals {
        0 => format!(
            "admin-refund-{purchase_id}-{refunded_before}-{}",
            requested.get()
        ),
        n => format!(
            "admin-refund-{purchase_id}-{refunded_before}-{}-r{n}",
            requested.get()
        ),
    };
    let receipt = stripe
        .create_refund(&payment_intent, Some(requested), &key)
        .await
        .map_err(|error| match error {
            StripeError::Rejected { message, .. } => RefundError::StripeRefused { message },
            other => RefundError::Stripe(other),
        })?;
    let refunded_total = receipt
        .charge_refunded_total
        .unwrap_or(Cents::new(refunded_before + receipt.amount.get()).unwrap_or(receipt.amount));
    tracing::info!(purchase = %purchase_id, refund = %receipt.refund_id, amount = receipt.amount.get(), "admin refund made in Stripe");

    let mut tx = pool.begin().await?;
    purchases::audit(
        &mut tx,
        Actor::Admin(admin),
        "purchase.refund_requested",
        Some(user_id),
        Some(purchase_id),
        None,
        json!({
            "refund": receipt.refund_id,
            "payment_intent": payment_intent,
            "amount_cents": receipt.amount.get(),
            "refunded_total_cents": refunded_total.get(),
        }),
    )
    .await?;
    tx.commit().await?;

    purchases::record_refund(pool, &payment_intent, refunded_total, Actor::Admin(admin)).await?;

    let (status, refunded): (String, i64) =
        sqlx::query_as("select status, refunded_cents from credit_purchases where id = $1")
            .bind(purchase_id)
            .fetch_one(pool)
            .await?;
    Ok(RefundOutcome {
        refund_id: receipt.refund_id,
        amount: receipt.amount,
        refunded_total: Cents::new(refunded).unwrap_or(refunded_total),
        status: status
            .parse()
            .map_err(|e| PurchaseError::CorruptStatus(purchase_id, e))?,
    })
}
