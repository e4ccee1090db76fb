//! An admin refunds a purchase through Stripe, fully or in part.
//!
//! Stripe makes the refund; the credits come back through
//! [`purchases::record_refund`], keyed by the charge's cumulative refunded
//! amount, which is exactly what Stripe's `charge.refunded` webhook reports
//! for the same refund. Whichever arrives second finds that total already
//! recorded and changes nothing, so credits are never taken back twice.
//!
//! Each request carries the client's request id (a form renders a fresh one;
//! an API client sends its own, or the edge makes one up). It is Stripe's
//! idempotency key and a row of `admin_refund_requests` holding the amount
//! decided the first time and Stripe's refund id: a retried or concurrent
//! request with the same id waits for the first, then answers its result
//! (`applied: false`) without refunding again.

use domain::{Cents, PurchaseStatus};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    AppState,
    audit::{self, Actor},
    ids::{PurchaseId, RefundId, UserId},
    purchases::{
        self, PurchaseError,
        repo::{self, Key, PurchaseRow},
    },
    rate_limit::{Limited, RateLimited},
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
    /// The request id was used before for another purchase or amount.
    #[error("this request id was already used for a different refund")]
    RequestIdReused,
    #[error("Stripe could not be reached or failed")]
    Stripe(#[source] StripeError),
    /// The admin refunds too often (see [`refund`]).
    #[error(transparent)]
    RateLimited(#[from] RateLimited),
    #[error(transparent)]
    Purchase(#[from] PurchaseError),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// An admin's refund request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminRefund {
    pub purchase: PurchaseId,
    /// `None`: everything left to refund (decided when the request first comes).
    pub amount: Option<Cents>,
    /// The client's id for this request: the same id refunds at most once.
    pub request_id: Uuid,
}

/// What the refund did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOutcome {
    /// Stripe's refund id.
    pub refund_id: RefundId,
    /// Refunded by this request.
    pub amount: Cents,
    /// Refunded of the purchase so far, this refund included.
    pub refunded_total: Cents,
    /// The purchase's status afterwards.
    pub status: PurchaseStatus,
    /// `false` when this request id had refunded before (nothing moved now).
    pub applied: bool,
}

/// The admin refund, as the JSON API and the purchase page make it: the
/// admin's rate limit, then [`refund_purchase`].
pub async fn refund(
    state: &AppState,
    admin: UserId,
    request: &AdminRefund,
) -> Result<RefundOutcome, RefundError> {
    state.limits.check(Limited::Refund, admin)?;
    refund_purchase(&state.pool, &state.stripe, admin, request).await
}

/// Refunds the request's amount of the purchase (all that is left when
/// `None`) through Stripe as `admin`, then takes back the matching share of
/// the credits. The same request id refunds once, however often it comes.
pub async fn refund_purchase(
    pool: &PgPool,
    stripe: &StripeGateway,
    admin: UserId,
    request: &AdminRefund,
) -> Result<RefundOutcome, RefundError> {
    let purchase_id = request.purchase;
    let amount = claim(pool, admin, request).await?;

    // The claim row, locked until this request is recorded: a concurrent
    // request with the same id waits here and then finds the refund made.
    let mut tx = pool.begin().await?;
    let refund_id: Option<RefundId> = sqlx::query_scalar(
        "select refund_id from admin_refund_requests where request_id = $1 for update",
    )
    .bind(request.request_id)
    .fetch_one(&mut *tx)
    .await?;
    if let Some(refund_id) = refund_id {
        tx.commit().await?;
        let (status, refunded) = current(pool, purchase_id).await?;
        return Ok(RefundOutcome {
            refund_id,
            amount,
            refunded_total: refunded,
            status,
            applied: false,
        });
    }
    let row = existing(repo::find(&mut *tx, Key::Id(purchase_id)).await?)?;
    let (user_id, refunded_before) = (row.user_id, row.refunded().get());
    let payment_intent = row.stripe_payment_intent_id.ok_or(RefundError::NoPayment)?;

    let key = format!("admin-refund-{}", request.request_id);
    let receipt = stripe
        .create_refund(&payment_intent, Some(amount), &key)
        .await
        .map_err(|error| match error {
            StripeError::Rejected { message, .. } => RefundError::StripeRefused { message },
            other => RefundError::Stripe(other),
        })?;
    let refunded_total = receipt
        .charge_refunded_total
        .unwrap_or(Cents::new(refunded_before + receipt.amount.get()).unwrap_or(receipt.amount));
    tracing::info!(purchase = %purchase_id, refund = %receipt.refund_id, request = %request.request_id, amount = receipt.amount.get(), "admin refund made in Stripe");

    sqlx::query(
        "update admin_refund_requests set refund_id = $2, completed_at = now() where request_id = $1",
    )
    .bind(request.request_id)
    .bind(&receipt.refund_id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        audit::NewEntry {
            actor: Actor::Admin(admin),
            action: "purchase.refund_requested",
            user: Some(user_id),
            purchase: Some(purchase_id),
            ledger: None,
            details: json!({
                "refund": receipt.refund_id,
                "payment_intent": payment_intent,
                "amount_cents": receipt.amount.get(),
                "refunded_total_cents": refunded_total.get(),
                "request_id": request.request_id,
            }),
            occurred_at: None,
        },
    )
    .await?;
    tx.commit().await?;

    purchases::record_refund(pool, &payment_intent, refunded_total, Actor::Admin(admin)).await?;

    let (status, refunded) = current(pool, purchase_id).await?;
    Ok(RefundOutcome {
        refund_id: receipt.refund_id,
        amount: receipt.amount,
        refunded_total: refunded,
        status,
        applied: true,
    })
}

/// The amount this request refunds: the one recorded when its id first
/// came, or (first time) checked against the purchase and recorded now.
async fn claim(pool: &PgPool, admin: UserId, request: &AdminRefund) -> Result<Cents, RefundError> {
    if let Some(amount) = claimed(pool, request).await? {
        return Ok(amount);
    }
    let purchase_id = request.purchase;
    let Some(row) = repo::find(pool, Key::Id(purchase_id)).await? else {
        return Err(RefundError::NotFound(purchase_id));
    };
    let purchase = row.purchase()?;
    if purchase.status().refund(false).is_err() {
        return Err(RefundError::NotRefundable(purchase.status()));
    }
    if row.stripe_payment_intent_id.is_none() {
        return Err(RefundError::NoPayment);
    }
    let refundable = purchase.refundable();
    let requested = request.amount.unwrap_or(refundable);
    if requested == Cents::ZERO {
        return Err(RefundError::ZeroAmount);
    }
    if requested > refundable {
        return Err(RefundError::TooMuch {
            requested,
            refundable,
        });
    }
    let inserted = sqlx::query(
        "insert into admin_refund_requests (request_id, purchase_id, admin_id, amount_cents)
         values ($1, $2, $3, $4) on conflict (request_id) do nothing",
    )
    .bind(request.request_id)
    .bind(purchase_id)
    .bind(admin)
    .bind(requested.get())
    .execute(pool)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(requested);
    }
    // The same request id, concurrently: its claim stands.
    claimed(pool, request)
        .await?
        .ok_or(RefundError::Database(sqlx::Error::RowNotFound))
}

/// The amount recorded for this request id, if it came before (for the same
/// purchase and, when one is given, the same amount).
async fn claimed(pool: &PgPool, request: &AdminRefund) -> Result<Option<Cents>, RefundError> {
    let row: Option<(PurchaseId, i64)> = sqlx::query_as(
        "select purchase_id, amount_cents from admin_refund_requests where request_id = $1",
    )
    .bind(request.request_id)
    .fetch_optional(pool)
    .await?;
    let Some((purchase, amount)) = row else {
        return Ok(None);
    };
    let amount = Cents::new(amount).map_err(|_| RefundError::RequestIdReused)?;
    if purchase != request.purchase || request.amount.is_some_and(|a| a != amount) {
        return Err(RefundError::RequestIdReused);
    }
    Ok(Some(amount))
}

/// The purchase's status and refunded total now.
async fn current(
    pool: &PgPool,
    purchase_id: PurchaseId,
) -> Result<(PurchaseStatus, Cents), RefundError> {
    let row = existing(repo::find(pool, Key::Id(purchase_id)).await?)?;
    Ok((row.status()?, row.refunded()))
}

/// A purchase found before (purchases are never deleted): its absence is a
/// database error, as `fetch_one` would answer.
fn existing(row: Option<PurchaseRow>) -> Result<PurchaseRow, RefundError> {
    row.ok_or(RefundError::Database(sqlx::Error::RowNotFound))
}
