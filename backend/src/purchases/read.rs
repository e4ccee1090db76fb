//! Reading purchases as their owner sees them: the history page, the
//! return from Checkout, and whether a payment's checkout is still pending.

use domain::{Cents, Credits, PurchaseStatus};
use sqlx::PgPool;

use super::{
    PurchaseError,
    repo::{self, Key, PurchaseRow},
};
use crate::ids::{CheckoutSessionId, PaymentIntentId, PurchaseId, UserId};

/// A purchase as its owner sees it in their history.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchaseRecord {
    pub id: PurchaseId,
    pub package_name: String,
    pub amount_credits: Credits,
    pub amount_paid: Cents,
    pub status: PurchaseStatus,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub completed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub stripe_session_id: Option<CheckoutSessionId>,
    pub stripe_payment_id: Option<PaymentIntentId>,
}

impl TryFrom<PurchaseRow> for PurchaseRecord {
    type Error = PurchaseError;

    fn try_from(row: PurchaseRow) -> Result<Self, PurchaseError> {
        Ok(PurchaseRecord {
            status: row.status()?,
            amount_paid: row.paid(),
            amount_credits: Credits::signed(row.amount_credits),
            id: row.id,
            package_name: row.package_name,
            created_at: row.created_at,
            completed_at: row.completed_at,
            stripe_session_id: row.stripe_checkout_session_id,
            stripe_payment_id: row.stripe_payment_intent_id,
        })
    }
}

/// The user's own purchases, newest first.
pub async fn history(
    pool: &PgPool,
    user: UserId,
    limit: i64,
    offset: i64,
) -> Result<Vec<PurchaseRecord>, PurchaseError> {
    repo::for_user(pool, user, limit, offset)
        .await?
        .into_iter()
        .map(PurchaseRecord::try_from)
        .collect()
}

/// The purchase paid through `session`, only if it belongs to `user`.
pub async fn find_for_user(
    pool: &PgPool,
    user: UserId,
    session: &CheckoutSessionId,
) -> Result<Option<PurchaseRecord>, PurchaseError> {
    owned_by(repo::find(pool, Key::Session(session)).await?, user)
}

/// The purchase `id`, only if it belongs to `user`.
pub async fn find_by_id_for_user(
    pool: &PgPool,
    user: UserId,
    id: PurchaseId,
) -> Result<Option<PurchaseRecord>, PurchaseError> {
    owned_by(repo::find(pool, Key::Id(id)).await?, user)
}

fn owned_by(
    row: Option<PurchaseRow>,
    user: UserId,
) -> Result<Option<PurchaseRecord>, PurchaseError> {
    row.filter(|row| row.user_id == user)
        .map(PurchaseRecord::try_from)
        .transpose()
}

/// Whether the purchase paid through `payment_intent_id` is unknown or still
/// pending, i.e. its checkout's completion has not been seen yet (Stripe does
/// not order its events). A read without locks, made before any transaction.
pub async fn awaits_completion(
    pool: &PgPool,
    payment_intent_id: &PaymentIntentId,
) -> Result<bool, PurchaseError> {
    let row = repo::find(pool, Key::PaymentIntent(payment_intent_id)).await?;
    Ok(row.is_none_or(|row| row.status == PurchaseStatus::Pending.as_str()))
}
