//! The purchase repository: the SQL of `credit_purchases`. One row type,
//! [`PurchaseRow`], for every read; inserts and updates by what they do.
//! Settlement calls these inside its transactions, under the row lock
//! taken by the `lock_*` functions.

use chrono::{DateTime, Utc};
use domain::{Cents, Credits, Purchase, PurchaseStatus};
use sqlx::{PgConnection, PgExecutor};

use super::PurchaseError;
use crate::{
    ids::{CheckoutSessionId, PaymentIntentId, PurchaseId, UserId},
    packages::CreditPackage,
};

/// A `credit_purchases` row, as the app reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PurchaseRow {
    pub id: PurchaseId,
    pub user_id: UserId,
    pub status: String,
    pub package_name: String,
    pub amount_credits: i64,
    pub amount_paid_cents: i64,
    pub refunded_cents: i64,
    /// How many refunds failed after being recorded.
    pub refund_reversals: i32,
    pub currency: String,
    pub stripe_checkout_session_id: Option<CheckoutSessionId>,
    pub stripe_payment_intent_id: Option<PaymentIntentId>,
    /// What Stripe collected, for a purchase held for review.
    pub review_paid_cents: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// The columns of [`PurchaseRow`].
const COLUMNS: &str = "id, user_id, status, package_name, amount_credits, amount_paid_cents, refunded_cents, \
     refund_reversals, currency, stripe_checkout_session_id, stripe_payment_intent_id, review_paid_cents, \
     created_at, completed_at";

impl PurchaseRow {
    pub fn status(&self) -> Result<PurchaseStatus, PurchaseError> {
        self.status
            .parse()
            .map_err(|e| PurchaseError::CorruptStatus(self.id, e))
    }

    pub fn paid(&self) -> Cents {
        Cents::new(self.amount_paid_cents).unwrap_or(Cents::ZERO)
    }

    pub fn refunded(&self) -> Cents {
        Cents::new(self.refunded_cents).unwrap_or(Cents::ZERO)
    }

    /// The purchase's money and status.
    pub fn purchase(&self) -> Result<Purchase, PurchaseError> {
        Ok(Purchase::new(
            self.status()?,
            Credits::signed(self.amount_credits),
            self.paid(),
            self.refunded(),
        ))
    }
}

/// Which purchase a look-up means.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    Id(PurchaseId),
    Session(&'a CheckoutSessionId),
    PaymentIntent(&'a PaymentIntentId),
}

fn select(key: &Key<'_>, for_update: bool) -> String {
    let condition = match key {
        Key::Id(_) => "id = $1",
        Key::Session(_) => "stripe_checkout_session_id = $1",
        Key::PaymentIntent(_) => "stripe_payment_intent_id = $1",
    };
    let lock = if for_update { " for update" } else { "" };
    format!("select {COLUMNS} from credit_purchases where {condition}{lock}")
}

async fn fetch<'e>(
    executor: impl PgExecutor<'e>,
    key: Key<'_>,
    for_update: bool,
) -> Result<Option<PurchaseRow>, sqlx::Error> {
    let sql = select(&key, for_update);
    let query = sqlx::query_as::<_, PurchaseRow>(&sql);
    let query = match key {
        Key::Id(id) => query.bind(id),
        Key::Session(session) => query.bind(session.as_str()),
        Key::PaymentIntent(intent) => query.bind(intent.as_str()),
    };
    query.fetch_optional(executor).await
}

/// The purchase `key` names, without a lock.
pub async fn find<'e>(
    executor: impl PgExecutor<'e>,
    key: Key<'_>,
) -> Result<Option<PurchaseRow>, sqlx::Error> {
    fetch(executor, key, false).await
}

/// The purchase `key` names, its row locked (`for update`) until the
/// caller's transaction ends: settlements of one purchase run one at a time.
pub async fn lock(
    conn: &mut PgConnection,
    key: Key<'_>,
) -> Result<Option<PurchaseRow>, sqlx::Error> {
    fetch(conn, key, true).await
}

/// The user's purchases, newest first.
pub async fn for_user<'e>(
    executor: impl PgExecutor<'e>,
    user: UserId,
    limit: i64,
    offset: i64,
) -> Result<Vec<PurchaseRow>, sqlx::Error> {
    let sql = format!(
        "select {COLUMNS} from credit_purchases where user_id = $1 \
         order by created_at desc, id desc limit $2 offset $3"
    );
    sqlx::query_as(&sql)
        .bind(user)
        .bind(limit)
        .bind(offset)
        .fetch_all(executor)
        .await
}

/// Inserts a pending purchase with a snapshot of `package` as it is now.
pub async fn insert_pending(
    conn: &mut PgConnection,
    user_id: UserId,
    package: &CreditPackage,
) -> Result<PurchaseId, sqlx::Error> {
    sqlx::query_scalar(
        "insert into credit_purchases \
             (user_id, package_id, package_code, package_name, amount_credits, amount_paid_cents, discount_percentage, status) \
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning id",
    )
    .bind(user_id)
    .bind(package.id)
    .bind(package.code.as_str())
    .bind(&package.name)
    .bind(package.credits.get())
    .bind(package.price.get())
    .bind(i32::from(package.discount_percentage))
    .bind(PurchaseStatus::Pending.as_str())
    .fetch_one(conn)
    .await
}

/// Stores the Checkout Session (and Stripe customer) that pays for `id`.
/// The session id is unique: see [`PurchaseError::SessionTaken`].
pub async fn set_checkout_session<'e>(
    executor: impl PgExecutor<'e>,
    id: PurchaseId,
    session: &CheckoutSessionId,
    stripe_customer_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update credit_purchases set stripe_checkout_session_id = $2, stripe_customer_id = $3, updated_at = now() \
         where id = $1",
    )
    .bind(id)
    .bind(session.as_str())
    .bind(stripe_customer_id)
    .execute(executor)
    .await?;
    Ok(())
}

/// The status changes and nothing else.
pub async fn set_status(
    conn: &mut PgConnection,
    id: PurchaseId,
    status: PurchaseStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query("update credit_purchases set status = $2, updated_at = now() where id = $1")
        .bind(id)
        .bind(status.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// The purchase completed now (paid by `payment_intent`, when known).
pub async fn set_completed(
    conn: &mut PgConnection,
    id: PurchaseId,
    status: PurchaseStatus,
    payment_intent: Option<&PaymentIntentId>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update credit_purchases set status = $2, completed_at = now(), updated_at = now(), \
             stripe_payment_intent_id = coalesce($3, stripe_payment_intent_id) \
         where id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(payment_intent)
    .execute(conn)
    .await?;
    Ok(())
}

/// The purchase waits for review: why, and what Stripe collected.
pub async fn set_held(
    conn: &mut PgConnection,
    id: PurchaseId,
    status: PurchaseStatus,
    reason: &str,
    paid: Option<Cents>,
    payment_intent: Option<&PaymentIntentId>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update credit_purchases set status = $2, review_reason = $3, review_paid_cents = $4, updated_at = now(), \
             stripe_payment_intent_id = coalesce($5, stripe_payment_intent_id) \
         where id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(reason)
    .bind(paid.map(Cents::get))
    .bind(payment_intent)
    .execute(conn)
    .await?;
    Ok(())
}

/// The refunded total is now `refunded`.
pub async fn set_refunded(
    conn: &mut PgConnection,
    id: PurchaseId,
    status: PurchaseStatus,
    refunded: Cents,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update credit_purchases set status = $2, refunded_cents = $3, updated_at = now() where id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(refunded.get())
    .execute(conn)
    .await?;
    Ok(())
}

/// All of our price counts as refunded (a held purchase refunded in full).
pub async fn set_refunded_in_full(
    conn: &mut PgConnection,
    id: PurchaseId,
    status: PurchaseStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update credit_purchases set status = $2, refunded_cents = amount_paid_cents, updated_at = now() where id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// A refund failed: the refunded total goes down to `refunded` and the
/// count of failed refunds up by one.
pub async fn set_refund_reversed(
    conn: &mut PgConnection,
    id: PurchaseId,
    status: PurchaseStatus,
    refunded: Cents,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update credit_purchases set status = $2, refunded_cents = $3, \
             refund_reversals = refund_reversals + 1, updated_at = now() where id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(refunded.get())
    .execute(conn)
    .await?;
    Ok(())
}
