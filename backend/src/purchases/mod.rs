//! Credit purchases: from the pending record made when a checkout starts to
//! completion, failure, expiry and refunds.
//!
//! Every change goes through a `PurchaseStatus` transition under a row lock,
//! and every grant or take-back is a ledger row whose unique `reference`
//! makes a second write impossible: the database, not a prior read,
//! guarantees a checkout session grants its credits once.

use domain::{Cents, Credits, PurchaseStatus};
use serde_json::json;
use sqlx::{Acquire, PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::{
    ids::{CheckoutSessionId, PurchaseId, UserId},
    packages::CreditPackage,
};

#[derive(Debug, thiserror::Error)]
pub enum PurchaseError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("stored purchase {0} has an unknown status")]
    CorruptStatus(PurchaseId, #[source] domain::UnknownStatus),
    #[error("checkout session {0} is already attached to a purchase")]
    SessionTaken(CheckoutSessionId),
    #[error("purchase {0}: {1}")]
    Transition(PurchaseId, #[source] domain::InvalidTransition),
}

/// Who caused a change, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    /// A Stripe webhook event, by id.
    StripeEvent(&'a str),
    /// The user returning from Checkout to the success page.
    SuccessReturn,
    /// The buyer, by user id (e.g. cancelling their checkout).
    Buyer(UserId),
    /// An admin, by user id.
    Admin(UserId),
    System,
}

impl Actor<'_> {
    fn name(&self) -> String {
        match self {
            Actor::StripeEvent(_) => "stripe_webhook".into(),
            Actor::SuccessReturn => "success_return".into(),
            Actor::Buyer(id) => format!("user:{id}"),
            Actor::Admin(id) => format!("admin:{id}"),
            Actor::System => "system".into(),
        }
    }

    fn event_id(&self) -> Option<&str> {
        match self {
            Actor::StripeEvent(id) => Some(id),
            _ => None,
        }
    }
}

/// What Stripe says of a checkout session's payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Paid,
    NoPaymentRequired,
    Unpaid,
}

impl PaymentStatus {
    pub fn grants_credits(self) -> bool {
        matches!(self, PaymentStatus::Paid | PaymentStatus::NoPaymentRequired)
    }
}

/// What Stripe reports a checkout session collected. Nothing is granted
/// unless it matches our purchase (docs/API.md: amount, currency and mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPayment<'a> {
    pub status: PaymentStatus,
    pub payment_intent_id: Option<&'a str>,
    /// `amount_total`, in the smallest unit of `currency`.
    pub amount_total: Option<Cents>,
    pub currency: Option<&'a str>,
    /// Whether the session was paid in live mode.
    pub livemode: bool,
}

/// Why a paid checkout waits for an admin instead of granting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewReason {
    /// Stripe collected another amount than the purchase's price.
    AmountMismatch {
        expected: Cents,
        paid: Option<Cents>,
    },
    /// Stripe collected another currency than the purchase's.
    CurrencyMismatch {
        expected: String,
        paid: Option<String>,
    },
    /// The session was paid in live mode while our key is a test key, or
    /// the other way round.
    ModeMismatch { expected_live: bool },
    /// The payment arrived after we had marked the purchase expired or failed.
    PaidAfter(PurchaseStatus),
}

impl ReviewReason {
    /// A short machine name, for logs and audit details.
    pub fn code(&self) -> &'static str {
        match self {
            ReviewReason::AmountMismatch { .. } => "amount_mismatch",
            ReviewReason::CurrencyMismatch { .. } => "currency_mismatch",
            ReviewReason::ModeMismatch { .. } => "mode_mismatch",
            ReviewReason::PaidAfter(_) => "paid_after_close",
        }
    }
}

impl std::fmt::Display for ReviewReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReviewReason::AmountMismatch { expected, paid } => match paid {
                Some(paid) => write!(
                    f,
                    "Stripe collected {paid}, but the purchase costs {expected}"
                ),
                None => write!(
                    f,
                    "Stripe did not say what it collected; the purchase costs {expected}"
                ),
            },
            ReviewReason::CurrencyMismatch { expected, paid } => write!(
                f,
                "Stripe collected {}, but the purchase is in {}",
                paid.as_deref()
                    .unwrap_or("an unknown currency")
                    .to_uppercase(),
                expected.to_uppercase()
            ),
            ReviewReason::ModeMismatch { expected_live } => {
                if *expected_live {
                    f.write_str("the session was paid in test mode, but this is the live account")
                } else {
                    f.write_str("the session was paid in live mode, but this is a test account")
                }
            }
            ReviewReason::PaidAfter(status) => {
                write!(
                    f,
                    "the payment arrived after the purchase was marked {status}"
                )
            }
        }
    }
}

/// Holds Stripe's payment against the purchase: `None` when amount,
/// currency and mode all match (the credits may be granted).
pub fn payment_mismatch(
    expected_amount: Cents,
    expected_currency: &str,
    our_livemode: bool,
    payment: &SessionPayment<'_>,
) -> Option<ReviewReason> {
    if payment.livemode != our_livemode {
        return Some(ReviewReason::ModeMismatch {
            expected_live: our_livemode,
        });
    }
    if !payment
        .currency
        .is_some_and(|c| c.eq_ignore_ascii_case(expected_currency))
    {
        return Some(ReviewReason::CurrencyMismatch {
            expected: expected_currency.to_owned(),
            paid: payment.currency.map(str::to_owned),
        });
    }
    if payment.amount_total != Some(expected_amount) {
        return Some(ReviewReason::AmountMismatch {
            expected: expected_amount,
            paid: payment.amount_total,
        });
    }
    None
}

/// The result of trying to settle a purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// This call made the change (and, for completion, granted the credits).
    Applied {
        purchase_id: PurchaseId,
        user_id: UserId,
        status: PurchaseStatus,
    },
    /// Nothing to do: the purchase had already left `pending`.
    AlreadySettled {
        purchase_id: PurchaseId,
        status: PurchaseStatus,
    },
    /// Paid, but nothing granted: the purchase now waits for an admin
    /// (`needs_review`), for `reason`.
    HeldForReview {
        purchase_id: PurchaseId,
        reason: ReviewReason,
    },
    /// The session is not paid (yet): nothing changes.
    NotPaid,
    /// No purchase of ours has this session.
    UnknownSession,
}

/// Records a pending purchase with a snapshot of the package as it is now.
pub async fn create_pending(
    pool: &PgPool,
    user_id: UserId,
    package: &CreditPackage,
) -> Result<PurchaseId, PurchaseError> {
    let mut tx = pool.begin().await?;
    let id: Uuid = sqlx::query_scalar(
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
    .fetch_one(&mut *tx)
    .await?;
    let purchase_id = PurchaseId(id);
    audit(
        &mut tx,
        Actor::System,
        "purchase.created",
        Some(user_id),
        Some(purchase_id),
        None,
        json!({ "package_code": package.code.as_str(), "credits": package.credits.get(), "amount_cents": package.price.get() }),
    )
    .await?;
    tx.commit().await?;
    Ok(purchase_id)
}

/// Remembers which Checkout Session (and Stripe customer) pays for a purchase.
pub async fn attach_checkout_session(
    pool: &PgPool,
    purchase_id: PurchaseId,
    session: &CheckoutSessionId,
    stripe_customer_id: Option<&str>,
) -> Result<(), PurchaseError> {
    let result = sqlx::query(
        "update credit_purchases set stripe_checkout_session_id = $2, stripe_customer_id = $3, updated_at = now() \
         where id = $1",
    )
    .bind(purchase_id)
    .bind(session.as_str())
    .bind(stripe_customer_id)
    .execute(pool)
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e))
            if e.constraint() == Some("credit_purchases_stripe_checkout_session_id_key") =>
        {
            Err(PurchaseError::SessionTaken(session.clone()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Completes the purchase paid by `session` and grants its credits, once.
/// Safe to call any number of times, concurrently, from the webhook and from
/// the success-page return: exactly one call gets `Applied`.
///
/// The payment must match the purchase (its price snapshot, its currency,
/// and `our_livemode`, whether our Stripe key is live). A payment that does
/// not, or that arrives after the purchase was marked expired or failed,
/// grants nothing: the purchase moves to `needs_review` with the reason
/// recorded, for an admin to grant or refund ([`lock_held`]).
pub async fn fulfil(
    pool: &PgPool,
    session: &CheckoutSessionId,
    payment: &SessionPayment<'_>,
    our_livemode: bool,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    let mut conn = pool.acquire().await?;
    fulfil_on(&mut conn, session, payment, our_livemode, actor).await
}

/// [`fulfil`] on a connection: its own transaction, or a savepoint inside
/// the caller's (which then commits or rolls back with the rest).
pub async fn fulfil_on(
    conn: &mut PgConnection,
    session: &CheckoutSessionId,
    payment: &SessionPayment<'_>,
    our_livemode: bool,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    if !payment.status.grants_credits() {
        return Ok(Settlement::NotPaid);
    }
    let mut tx = conn.begin().await?;
    let Some(purchase) = lock_by_session(&mut tx, session).await? else {
        return Ok(Settlement::UnknownSession);
    };
    let mismatch = payment_mismatch(
        Cents::new(purchase.amount_paid_cents).unwrap_or(Cents::ZERO),
        &purchase.currency,
        our_livemode,
        payment,
    );
    let next = match (purchase.status.complete(), mismatch) {
        (Ok(next), None) => next,
        (Ok(_), Some(reason)) => {
            return hold_for_review(tx, &purchase, session, payment, reason, actor).await;
        }
        // Paid after we closed it: the money arrived, so an admin must know.
        (Err(_), mismatch) if purchase.status.hold_for_review().is_ok() => {
            let reason = mismatch.unwrap_or(ReviewReason::PaidAfter(purchase.status));
            return hold_for_review(tx, &purchase, session, payment, reason, actor).await;
        }
        (Err(_), _) => {
            return Ok(Settlement::AlreadySettled {
                purchase_id: purchase.id,
                status: purchase.status,
            });
        }
    };
    sqlx::query(
        "update credit_purchases set status = $2, completed_at = now(), updated_at = now(), \
             stripe_payment_intent_id = coalesce($3, stripe_payment_intent_id) \
         where id = $1",
    )
    .bind(purchase.id)
    .bind(next.as_str())
    .bind(payment.payment_intent_id)
    .execute(&mut *tx)
    .await?;
    let Some(ledger_id) = grant(&mut tx, &purchase, session).await? else {
        // The grant exists already: this checkout session was fulfilled before.
        return Ok(Settlement::AlreadySettled {
            purchase_id: purchase.id,
            status: next,
        });
    };
    audit(
        &mut tx,
        actor,
        "purchase.completed",
        Some(purchase.user_id),
        Some(purchase.id),
        Some(ledger_id),
        json!({ "session": session.as_str(), "payment_intent": payment.payment_intent_id, "credits": purchase.credits.get() }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(purchase = %purchase.id, session = %session, credits = purchase.credits.get(), "purchase fulfilled");
    Ok(Settlement::Applied {
        purchase_id: purchase.id,
        user_id: purchase.user_id,
        status: next,
    })
}

/// The purchase's grant: its snapshot credits under the reference
/// `checkout_session:<id>`, which is unique, so a session grants once
/// whichever path (fulfilment or an admin's review) writes it.
async fn grant(
    tx: &mut Transaction<'_, Postgres>,
    purchase: &LockedPurchase,
    session: &CheckoutSessionId,
) -> Result<Option<i64>, PurchaseError> {
    append_ledger(
        tx,
        purchase.user_id,
        purchase.credits,
        LedgerSource::Purchase,
        &format!("checkout_session:{session}"),
        Some(purchase.id),
        &format!("Purchase of {}", purchase.package_name),
    )
    .await
}

/// Moves a paid purchase we cannot grant to `needs_review`, records why,
/// and says so at warn: the buyer paid and has nothing yet.
async fn hold_for_review(
    mut tx: Transaction<'_, Postgres>,
    purchase: &LockedPurchase,
    session: &CheckoutSessionId,
    payment: &SessionPayment<'_>,
    reason: ReviewReason,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    let next = purchase
        .status
        .hold_for_review()
        .map_err(|e| PurchaseError::Transition(purchase.id, e))?;
    let text = reason.to_string();
    sqlx::query(
        "update credit_purchases set status = $2, review_reason = $3, review_paid_cents = $4, updated_at = now(), \
             stripe_payment_intent_id = coalesce($5, stripe_payment_intent_id) \
         where id = $1",
    )
    .bind(purchase.id)
    .bind(next.as_str())
    .bind(&text)
    .bind(payment.amount_total.map(Cents::get))
    .bind(payment.payment_intent_id)
    .execute(&mut *tx)
    .await?;
    audit(
        &mut tx,
        actor,
        "purchase.needs_review",
        Some(purchase.user_id),
        Some(purchase.id),
        None,
        json!({
            "session": session.as_str(),
            "payment_intent": payment.payment_intent_id,
            "reason": reason.code(),
            "detail": text,
            "status_before": purchase.status.as_str(),
            "expected_amount_cents": purchase.amount_paid_cents,
            "expected_currency": purchase.currency,
            "amount_total_cents": payment.amount_total.map(Cents::get),
            "currency": payment.currency,
            "livemode": payment.livemode,
        }),
    )
    .await?;
    tx.commit().await?;
    tracing::warn!(
        purchase = %purchase.id,
        session = %session,
        reason = reason.code(),
        detail = %text,
        "paid checkout held for admin review; no credits granted"
    );
    Ok(Settlement::HeldForReview {
        purchase_id: purchase.id,
        reason,
    })
}

/// A purchase held for review, its row locked until it is settled (or
/// dropped, which changes nothing). An admin's grant and refund of the same
/// purchase therefore run one after the other: the second finds it no
/// longer in review before it reaches Stripe or the ledger.
pub struct HeldPurchase {
    tx: Transaction<'static, Postgres>,
    purchase: LockedPurchase,
}

/// What [`lock_held`] found.
pub enum Held {
    Found(Box<HeldPurchase>),
    /// The purchase exists but is not waiting for review.
    NotInReview(PurchaseStatus),
    NotFound,
}

/// Locks the purchase `id` if it waits for review.
pub async fn lock_held(pool: &PgPool, id: PurchaseId) -> Result<Held, PurchaseError> {
    let mut tx = pool.begin().await?;
    let Some(purchase) = lock_where(&mut tx, "id = $1::uuid", &id.to_string()).await? else {
        return Ok(Held::NotFound);
    };
    if purchase.status != PurchaseStatus::NeedsReview {
        return Ok(Held::NotInReview(purchase.status));
    }
    Ok(Held::Found(Box::new(HeldPurchase { tx, purchase })))
}

impl HeldPurchase {
    pub fn id(&self) -> PurchaseId {
        self.purchase.id
    }

    pub fn user_id(&self) -> UserId {
        self.purchase.user_id
    }

    /// The credits a grant gives: the purchase's snapshot.
    pub fn credits(&self) -> Credits {
        self.purchase.credits
    }

    /// The Stripe payment that paid it, if known.
    pub fn payment_intent_id(&self) -> Option<&str> {
        self.purchase.payment_intent.as_deref()
    }

    /// The admin accepts the payment: the purchase completes and grants its
    /// snapshot credits under the ledger reference a normal fulfilment uses
    /// (`checkout_session:<id>`), so it can never grant twice.
    pub async fn grant(mut self, admin: UserId) -> Result<PurchaseStatus, PurchaseError> {
        let purchase = &self.purchase;
        let transition = |e| PurchaseError::Transition(purchase.id, e);
        let next = purchase.status.grant_after_review().map_err(transition)?;
        let session = purchase.session.clone().ok_or_else(|| {
            transition(domain::InvalidTransition {
                from: purchase.status,
                to: next,
            })
        })?;
        sqlx::query(
            "update credit_purchases set status = $2, completed_at = now(), updated_at = now() where id = $1",
        )
        .bind(purchase.id)
        .bind(next.as_str())
        .execute(&mut *self.tx)
        .await?;
        let Some(ledger_id) = grant(&mut self.tx, purchase, &session).await? else {
            // Granted before (impossible while held): change nothing.
            return Err(transition(domain::InvalidTransition {
                from: purchase.status,
                to: next,
            }));
        };
        audit(
            &mut self.tx,
            Actor::Admin(admin),
            "purchase.review_granted",
            Some(purchase.user_id),
            Some(purchase.id),
            Some(ledger_id),
            json!({ "session": session.as_str(), "credits": purchase.credits.get() }),
        )
        .await?;
        self.tx.commit().await?;
        tracing::info!(purchase = %self.purchase.id, admin = %admin, credits = self.purchase.credits.get(), "held purchase granted by an admin");
        Ok(next)
    }

    /// The whole payment went back through Stripe (`details` name the
    /// refund, for the audit row): the purchase becomes `refunded`; no
    /// credits move, none were granted.
    pub async fn refunded(
        mut self,
        details: serde_json::Value,
        actor: Actor<'_>,
    ) -> Result<PurchaseStatus, PurchaseError> {
        let next = self
            .purchase
            .status
            .refund_after_review()
            .map_err(|e| PurchaseError::Transition(self.purchase.id, e))?;
        close_refunded(&mut self.tx, &self.purchase, next, details, actor).await?;
        self.tx.commit().await?;
        Ok(next)
    }
}

/// A held purchase's payment is refunded in full: `refunded` (all of our
/// price counts as refunded), no ledger row.
async fn close_refunded(
    tx: &mut Transaction<'_, Postgres>,
    purchase: &LockedPurchase,
    next: PurchaseStatus,
    details: serde_json::Value,
    actor: Actor<'_>,
) -> Result<(), PurchaseError> {
    sqlx::query(
        "update credit_purchases set status = $2, refunded_cents = amount_paid_cents, updated_at = now() where id = $1",
    )
    .bind(purchase.id)
    .bind(next.as_str())
    .execute(&mut **tx)
    .await?;
    audit(
        tx,
        actor,
        "purchase.review_refunded",
        Some(purchase.user_id),
        Some(purchase.id),
        None,
        details,
    )
    .await?;
    tracing::info!(purchase = %purchase.id, "held purchase refunded; no credits were granted");
    Ok(())
}

/// The asynchronous payment for `session` failed.
pub async fn mark_failed(
    pool: &PgPool,
    session: &CheckoutSessionId,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    mark_failed_on(&mut *pool.acquire().await?, session, actor).await
}

/// [`mark_failed`] on a connection (a savepoint inside the caller's transaction).
pub async fn mark_failed_on(
    conn: &mut PgConnection,
    session: &CheckoutSessionId,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    settle_without_credits(
        conn,
        session,
        PurchaseStatus::fail,
        "purchase.failed",
        actor,
    )
    .await
}

/// The checkout session expired unpaid.
pub async fn mark_expired(
    pool: &PgPool,
    session: &CheckoutSessionId,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    mark_expired_on(&mut *pool.acquire().await?, session, actor).await
}

/// [`mark_expired`] on a connection (a savepoint inside the caller's transaction).
pub async fn mark_expired_on(
    conn: &mut PgConnection,
    session: &CheckoutSessionId,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    settle_without_credits(
        conn,
        session,
        PurchaseStatus::expire,
        "purchase.expired",
        actor,
    )
    .await
}

async fn settle_without_credits(
    conn: &mut PgConnection,
    session: &CheckoutSessionId,
    transition: fn(PurchaseStatus) -> Result<PurchaseStatus, domain::InvalidTransition>,
    action: &str,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    let mut tx = conn.begin().await?;
    let Some(purchase) = lock_by_session(&mut tx, session).await? else {
        return Ok(Settlement::UnknownSession);
    };
    let Ok(next) = transition(purchase.status) else {
        return Ok(Settlement::AlreadySettled {
            purchase_id: purchase.id,
            status: purchase.status,
        });
    };
    sqlx::query("update credit_purchases set status = $2, updated_at = now() where id = $1")
        .bind(purchase.id)
        .bind(next.as_str())
        .execute(&mut *tx)
        .await?;
    audit(
        &mut tx,
        actor,
        action,
        Some(purchase.user_id),
        Some(purchase.id),
        None,
        json!({ "session": session.as_str() }),
    )
    .await?;
    tx.commit().await?;
    Ok(Settlement::Applied {
        purchase_id: purchase.id,
        user_id: purchase.user_id,
        status: next,
    })
}

/// Stripe reports that `refunded_total` of the purchase paid through
/// `payment_intent_id` has been refunded so far. Takes back the same share of
/// the credits (rounded down per cent), once per cumulative amount, so the
/// same refund reported twice (admin action and webhook) counts once.
pub async fn record_refund(
    pool: &PgPool,
    payment_intent_id: &str,
    refunded_total: Cents,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    record_refund_on(
        &mut *pool.acquire().await?,
        payment_intent_id,
        refunded_total,
        actor,
    )
    .await
}

/// [`record_refund`] on a connection (a savepoint inside the caller's transaction).
pub async fn record_refund_on(
    conn: &mut PgConnection,
    payment_intent_id: &str,
    refunded_total: Cents,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    let mut tx = conn.begin().await?;
    let Some(purchase) = lock_by_payment(&mut tx, payment_intent_id).await? else {
        return Ok(Settlement::UnknownSession);
    };
    if purchase.status == PurchaseStatus::NeedsReview {
        // Nothing was granted. Refunded in full (what Stripe collected, when
        // known), the review is over; a part leaves it for the admin.
        let collected = purchase
            .review_paid_cents
            .unwrap_or(purchase.amount_paid_cents);
        let next = purchase.status.refund_after_review();
        if let (true, Ok(next)) = (refunded_total.get() >= collected, next) {
            close_refunded(
                &mut tx,
                &purchase,
                next,
                json!({ "payment_intent": payment_intent_id, "refunded_total_cents": refunded_total.get() }),
                actor,
            )
            .await?;
            tx.commit().await?;
            return Ok(Settlement::Applied {
                purchase_id: purchase.id,
                user_id: purchase.user_id,
                status: next,
            });
        }
        return Ok(Settlement::AlreadySettled {
            purchase_id: purchase.id,
            status: purchase.status,
        });
    }
    let refunded = refunded_total.get().min(purchase.amount_paid_cents);
    if refunded <= purchase.refunded_cents {
        return Ok(Settlement::AlreadySettled {
            purchase_id: purchase.id,
            status: purchase.status,
        });
    }
    let fully = refunded >= purchase.amount_paid_cents;
    let Ok(next) = purchase.status.refund(fully) else {
        return Ok(Settlement::AlreadySettled {
            purchase_id: purchase.id,
            status: purchase.status,
        });
    };
    let take_back = purchase.credits.share(refunded, purchase.amount_paid_cents)
        - purchase
            .credits
            .share(purchase.refunded_cents, purchase.amount_paid_cents);
    sqlx::query("update credit_purchases set status = $2, refunded_cents = $3, updated_at = now() where id = $1")
        .bind(purchase.id)
        .bind(next.as_str())
        .bind(refunded)
        .execute(&mut *tx)
        .await?;
    // After a failed refund the refunded total can come back to a figure
    // seen before; the count of failures keeps the reference new.
    let reference = match purchase.refund_reversals {
        0 => format!("refund:{}:{refunded}", purchase.id),
        n => format!("refund:{}:{refunded}:{n}", purchase.id),
    };
    let movement = Movement {
        credits: -take_back.max(0),
        source: LedgerSource::Refund,
        reference,
        description: format!("Refund of {}", purchase.package_name),
        action: "purchase.refunded",
        details: json!({ "payment_intent": payment_intent_id, "refunded_total_cents": refunded, "credits_taken_back": take_back }),
    };
    // None: this movement is booked already (the transaction rolls back).
    Ok(book(tx, &purchase, next, movement, actor)
        .await?
        .unwrap_or(Settlement::AlreadySettled {
            purchase_id: purchase.id,
            status: purchase.status,
        }))
}

/// Whether the purchase paid through `payment_intent_id` is unknown or still
/// pending, i.e. its checkout's completion has not been seen yet (Stripe does
/// not order its events). A read without locks, made before any transaction.
pub async fn awaits_completion(
    pool: &PgPool,
    payment_intent_id: &str,
) -> Result<bool, PurchaseError> {
    let status: Option<String> = sqlx::query_scalar(
        "select status from credit_purchases where stripe_payment_intent_id = $1",
    )
    .bind(payment_intent_id)
    .fetch_optional(pool)
    .await?;
    Ok(status.is_none_or(|s| s == PurchaseStatus::Pending.as_str()))
}

/// A refund of `amount` on the payment failed (the money is back with us):
/// the credits its share took back are granted again, once per refund
/// (`refund_failed:<refund id>`), and the refunded total goes down by it.
pub async fn reverse_refund_on(
    conn: &mut PgConnection,
    payment_intent_id: &str,
    refund_id: &str,
    amount: Cents,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    let mut tx = conn.begin().await?;
    let Some(purchase) = lock_by_payment(&mut tx, payment_intent_id).await? else {
        return Ok(Settlement::UnknownSession);
    };
    let reversed = amount.get().min(purchase.refunded_cents);
    let unchanged = purchase.unchanged();
    if reversed <= 0 {
        return Ok(unchanged);
    }
    let refunded = purchase.refunded_cents - reversed;
    let Ok(next) = purchase.status.reverse_refund(refunded > 0) else {
        return Ok(unchanged);
    };
    let give_back = purchase
        .credits
        .share(purchase.refunded_cents, purchase.amount_paid_cents)
        - purchase.credits.share(refunded, purchase.amount_paid_cents);
    sqlx::query(
        "update credit_purchases set status = $2, refunded_cents = $3, \
             refund_reversals = refund_reversals + 1, updated_at = now() where id = $1",
    )
    .bind(purchase.id)
    .bind(next.as_str())
    .bind(refunded)
    .execute(&mut *tx)
    .await?;
    let movement = Movement {
        credits: give_back.max(0),
        source: LedgerSource::Refund,
        reference: format!("refund_failed:{refund_id}"),
        description: format!("Failed refund of {}", purchase.package_name),
        action: "purchase.refund_failed",
        details: json!({ "payment_intent": payment_intent_id, "refund": refund_id, "reversed_cents": reversed, "refunded_total_cents": refunded, "credits_given_back": give_back }),
    };
    // None: this movement is booked already (the transaction rolls back).
    Ok(book(tx, &purchase, next, movement, actor)
        .await?
        .unwrap_or(unchanged))
}

/// The buyer disputed the payment: the credits the purchase still holds
/// (its credits less the refunded share) are taken back, once per dispute
/// (`dispute:<dispute id>`), and the purchase becomes `disputed`.
pub async fn open_dispute_on(
    conn: &mut PgConnection,
    payment_intent_id: &str,
    dispute_id: &str,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    let mut tx = conn.begin().await?;
    let Some(purchase) = lock_by_payment(&mut tx, payment_intent_id).await? else {
        return Ok(Settlement::UnknownSession);
    };
    let unchanged = purchase.unchanged();
    let Ok(next) = purchase.status.dispute() else {
        return Ok(unchanged);
    };
    let remaining = purchase.credits.get()
        - purchase
            .credits
            .share(purchase.refunded_cents, purchase.amount_paid_cents);
    sqlx::query("update credit_purchases set status = $2, updated_at = now() where id = $1")
        .bind(purchase.id)
        .bind(next.as_str())
        .execute(&mut *tx)
        .await?;
    let movement = Movement {
        credits: -remaining.max(0),
        source: LedgerSource::Dispute,
        reference: format!("dispute:{dispute_id}"),
        description: format!("Disputed payment for {}", purchase.package_name),
        action: "purchase.disputed",
        details: json!({ "payment_intent": payment_intent_id, "dispute": dispute_id, "credits_taken_back": remaining }),
    };
    // None: this movement is booked already (the transaction rolls back).
    Ok(book(tx, &purchase, next, movement, actor)
        .await?
        .unwrap_or(unchanged))
}

/// The dispute was decided. Won: the credits it took back are granted
/// again, once (`dispute_won:<dispute id>`), and the purchase stands as it
/// did before. Lost: the credits stay taken and the purchase `disputed`;
/// only the audit log records it.
pub async fn close_dispute_on(
    conn: &mut PgConnection,
    payment_intent_id: &str,
    dispute_id: &str,
    won: bool,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    let mut tx = conn.begin().await?;
    let Some(purchase) = lock_by_payment(&mut tx, payment_intent_id).await? else {
        return Ok(Settlement::UnknownSession);
    };
    let unchanged = purchase.unchanged();
    if purchase.status != PurchaseStatus::Disputed {
        return Ok(unchanged);
    }
    if !won {
        audit(
            &mut tx,
            actor,
            "purchase.dispute_lost",
            Some(purchase.user_id),
            Some(purchase.id),
            None,
            json!({ "payment_intent": payment_intent_id, "dispute": dispute_id }),
        )
        .await?;
        tx.commit().await?;
        return Ok(Settlement::Applied {
            purchase_id: purchase.id,
            user_id: purchase.user_id,
            status: purchase.status,
        });
    }
    let Ok(next) = purchase.status.win_dispute(purchase.refunded_cents > 0) else {
        return Ok(unchanged);
    };
    // Exactly what the dispute took, from its own ledger row.
    let taken: Option<i64> = sqlx::query_scalar(
        "select -amount from credit_ledger where reference = $1 and purchase_id = $2",
    )
    .bind(format!("dispute:{dispute_id}"))
    .bind(purchase.id)
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query("update credit_purchases set status = $2, updated_at = now() where id = $1")
        .bind(purchase.id)
        .bind(next.as_str())
        .execute(&mut *tx)
        .await?;
    let restored = taken.unwrap_or(0).max(0);
    let movement = Movement {
        credits: restored.max(0),
        source: LedgerSource::Dispute,
        reference: format!("dispute_won:{dispute_id}"),
        description: format!("Dispute won for {}", purchase.package_name),
        action: "purchase.dispute_won",
        details: json!({ "payment_intent": payment_intent_id, "dispute": dispute_id, "credits_restored": restored }),
    };
    // None: this movement is booked already (the transaction rolls back).
    Ok(book(tx, &purchase, next, movement, actor)
        .await?
        .unwrap_or(unchanged))
}

/// A settlement's credit movement: its ledger row (none when `credits` is
/// zero) and its audit row.
struct Movement {
    credits: i64,
    source: LedgerSource,
    reference: String,
    description: String,
    action: &'static str,
    details: serde_json::Value,
}

/// Books `movement` for `purchase` (now `next`) and commits: `Applied`, or
/// `None` when its ledger reference exists already (then nothing commits).
async fn book(
    mut tx: Transaction<'_, Postgres>,
    purchase: &LockedPurchase,
    next: PurchaseStatus,
    movement: Movement,
    actor: Actor<'_>,
) -> Result<Option<Settlement>, PurchaseError> {
    let ledger_id = if movement.credits != 0 {
        let Some(id) = append_ledger(
            &mut tx,
            purchase.user_id,
            Credits::signed(movement.credits),
            movement.source,
            &movement.reference,
            Some(purchase.id),
            &movement.description,
        )
        .await?
        else {
            return Ok(None);
        };
        Some(id)
    } else {
        None
    };
    audit(
        &mut tx,
        actor,
        movement.action,
        Some(purchase.user_id),
        Some(purchase.id),
        ledger_id,
        movement.details,
    )
    .await?;
    tx.commit().await?;
    Ok(Some(Settlement::Applied {
        purchase_id: purchase.id,
        user_id: purchase.user_id,
        status: next,
    }))
}

struct LockedPurchase {
    id: PurchaseId,
    user_id: UserId,
    status: PurchaseStatus,
    credits: Credits,
    amount_paid_cents: i64,
    refunded_cents: i64,
    refund_reversals: i32,
    package_name: String,
    currency: String,
    session: Option<CheckoutSessionId>,
    payment_intent: Option<String>,
    /// What Stripe collected, for a purchase held for review.
    review_paid_cents: Option<i64>,
}

impl LockedPurchase {
    /// What a call that changed nothing answers: the purchase as it was.
    fn unchanged(&self) -> Settlement {
        Settlement::AlreadySettled {
            purchase_id: self.id,
            status: self.status,
        }
    }
}

type LockedRow = (
    Uuid,
    Uuid,
    String,
    i64,
    i64,
    i64,
    i32,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
);

async fn lock_by_session(
    tx: &mut Transaction<'_, Postgres>,
    session: &CheckoutSessionId,
) -> Result<Option<LockedPurchase>, PurchaseError> {
    lock_where(tx, "stripe_checkout_session_id = $1", session.as_str()).await
}

async fn lock_by_payment(
    tx: &mut Transaction<'_, Postgres>,
    payment_intent_id: &str,
) -> Result<Option<LockedPurchase>, PurchaseError> {
    lock_where(tx, "stripe_payment_intent_id = $1", payment_intent_id).await
}

async fn lock_where(
    tx: &mut Transaction<'_, Postgres>,
    condition: &'static str,
    value: &str,
) -> Result<Option<LockedPurchase>, PurchaseError> {
    let sql = format!(
        "select id, user_id, status, amount_credits, amount_paid_cents, refunded_cents, refund_reversals, \
                package_name, currency, stripe_checkout_session_id, stripe_payment_intent_id, review_paid_cents \
         from credit_purchases where {condition} for update"
    );
    let row: Option<LockedRow> = sqlx::query_as(&sql)
        .bind(value)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(
        |(
            id,
            user_id,
            status,
            credits,
            paid,
            refunded,
            refund_reversals,
            package_name,
            currency,
            session,
            payment_intent,
            review_paid_cents,
        )| {
            let id = PurchaseId(id);
            Ok(LockedPurchase {
                id,
                user_id: UserId(user_id),
                status: status
                    .parse()
                    .map_err(|e| PurchaseError::CorruptStatus(id, e))?,
                credits: Credits::signed(credits),
                amount_paid_cents: paid,
                refunded_cents: refunded,
                refund_reversals,
                package_name,
                currency,
                session: session.and_then(|s| CheckoutSessionId::parse(s).ok()),
                payment_intent,
                review_paid_cents,
            })
        },
    )
    .transpose()
}

/// Why a ledger entry exists (`credit_ledger.source`, a checked text column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedgerSource {
    /// A completed purchase granted its credits.
    Purchase,
    /// A refund took (a share of) them back.
    Refund,
    /// An admin changed the balance by hand, with a reason.
    Adjustment,
    /// Credits were spent.
    Usage,
    /// A dispute took the purchase's credits back, or a won one restored them.
    Dispute,
}

impl LedgerSource {
    pub const ALL: [LedgerSource; 5] = [
        LedgerSource::Purchase,
        LedgerSource::Refund,
        LedgerSource::Adjustment,
        LedgerSource::Usage,
        LedgerSource::Dispute,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LedgerSource::Purchase => "purchase",
            LedgerSource::Refund => "refund",
            LedgerSource::Adjustment => "adjustment",
            LedgerSource::Usage => "usage",
            LedgerSource::Dispute => "dispute",
        }
    }

    /// The source stored as `text`, if it is one we know.
    pub fn parse(text: &str) -> Option<Self> {
        LedgerSource::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Appends a ledger row; `None` when one with `reference` exists already
/// (the caller then rolls its transaction or savepoint back by dropping it). The
/// balance trigger updates `credit_balances` in the same transaction.
pub(crate) async fn append_ledger(
    tx: &mut Transaction<'_, Postgres>,
    user_id: UserId,
    amount: Credits,
    source: LedgerSource,
    reference: &str,
    purchase_id: Option<PurchaseId>,
    description: &str,
) -> Result<Option<i64>, PurchaseError> {
    // `on conflict do nothing` rather than catching the violation: the
    // caller's transaction (perhaps a webhook's, with its event record)
    // stays usable either way.
    Ok(sqlx::query_scalar::<_, i64>(
        "insert into credit_ledger (user_id, amount, source, reference, purchase_id, description) \
         values ($1, $2, $3, $4, $5, $6) \
         on conflict on constraint credit_ledger_reference_key do nothing returning id",
    )
    .bind(user_id)
    .bind(amount.get())
    .bind(source.as_str())
    .bind(reference)
    .bind(purchase_id)
    .bind(description)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Writes one `audit_log` row inside the caller's transaction.
pub(crate) async fn audit(
    tx: &mut Transaction<'_, Postgres>,
    actor: Actor<'_>,
    action: &str,
    user_id: Option<UserId>,
    purchase_id: Option<PurchaseId>,
    ledger_id: Option<i64>,
    details: serde_json::Value,
) -> Result<(), PurchaseError> {
    sqlx::query(
        "insert into audit_log (actor, action, user_id, purchase_id, ledger_id, stripe_event_id, details) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(actor.name())
    .bind(action)
    .bind(user_id)
    .bind(purchase_id)
    .bind(ledger_id)
    .bind(actor.event_id())
    .bind(details)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_grants_only_when_amount_currency_and_mode_match() {
        let price = Cents::new(4_500).unwrap();
        let paid = SessionPayment {
            status: PaymentStatus::Paid,
            payment_intent_id: Some("pi_1"),
            amount_total: Some(price),
            currency: Some("usd"),
            livemode: false,
        };
        assert_eq!(payment_mismatch(price, "usd", false, &paid), None);
        assert_eq!(
            payment_mismatch(
                price,
                "usd",
                false,
                &SessionPayment {
                    currency: Some("USD"),
                    ..paid
                }
            ),
            None
        );
        let short = SessionPayment {
            amount_total: Some(Cents::new(4_499).unwrap()),
            ..paid
        };
        assert_eq!(
            payment_mismatch(price, "usd", false, &short),
            Some(ReviewReason::AmountMismatch {
                expected: price,
                paid: Some(Cents::new(4_499).unwrap())
            })
        );
        let unknown = SessionPayment {
            amount_total: None,
            ..paid
        };
        assert!(matches!(
            payment_mismatch(price, "usd", false, &unknown),
            Some(ReviewReason::AmountMismatch { paid: None, .. })
        ));
        let euros = SessionPayment {
            currency: Some("eur"),
            ..paid
        };
        assert_eq!(
            payment_mismatch(price, "usd", false, &euros)
                .unwrap()
                .to_string(),
            "Stripe collected EUR, but the purchase is in USD"
        );
        assert!(
            payment_mismatch(
                price,
                "usd",
                false,
                &SessionPayment {
                    currency: None,
                    ..paid
                }
            )
            .is_some()
        );
        // Live money for a test key, or test money for a live key.
        let live = SessionPayment {
            livemode: true,
            ..paid
        };
        assert_eq!(
            payment_mismatch(price, "usd", false, &live),
            Some(ReviewReason::ModeMismatch {
                expected_live: false
            })
        );
        assert_eq!(
            payment_mismatch(price, "usd", true, &paid),
            Some(ReviewReason::ModeMismatch {
                expected_live: true
            })
        );
        assert_eq!(payment_mismatch(price, "usd", true, &live), None);
    }
}

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
    pub stripe_session_id: Option<String>,
    pub stripe_payment_id: Option<String>,
}

type RecordRow = (
    Uuid,
    String,
    i64,
    i64,
    String,
    chrono::DateTime<chrono::Utc>,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<String>,
    Option<String>,
);

const RECORD_COLUMNS: &str = "id, package_name, amount_credits, amount_paid_cents, status, created_at, completed_at, \
                              stripe_checkout_session_id, stripe_payment_intent_id";

fn record(row: RecordRow) -> Result<PurchaseRecord, PurchaseError> {
    let id = PurchaseId(row.0);
    Ok(PurchaseRecord {
        id,
        package_name: row.1,
        amount_credits: Credits::signed(row.2),
        amount_paid: Cents::new(row.3).unwrap_or(Cents::ZERO),
        status: row
            .4
            .parse()
            .map_err(|e| PurchaseError::CorruptStatus(id, e))?,
        created_at: row.5,
        completed_at: row.6,
        stripe_session_id: row.7,
        stripe_payment_id: row.8,
    })
}

/// The user's own purchases, newest first.
pub async fn history(
    pool: &PgPool,
    user: UserId,
    limit: i64,
    offset: i64,
) -> Result<Vec<PurchaseRecord>, PurchaseError> {
    let sql = format!(
        "select {RECORD_COLUMNS} from credit_purchases where user_id = $1 \
         order by created_at desc, id desc limit $2 offset $3"
    );
    sqlx::query_as::<_, RecordRow>(&sql)
        .bind(user)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(record)
        .collect()
}

/// The purchase paid through `session`, only if it belongs to `user`.
pub async fn find_for_user(
    pool: &PgPool,
    user: UserId,
    session: &CheckoutSessionId,
) -> Result<Option<PurchaseRecord>, PurchaseError> {
    let sql = format!(
        "select {RECORD_COLUMNS} from credit_purchases where stripe_checkout_session_id = $1 and user_id = $2"
    );
    sqlx::query_as::<_, RecordRow>(&sql)
        .bind(session.as_str())
        .bind(user)
        .fetch_optional(pool)
        .await?
        .map(record)
        .transpose()
}

/// The purchase `id`, only if it belongs to `user`.
pub async fn find_by_id_for_user(
    pool: &PgPool,
    user: UserId,
    id: PurchaseId,
) -> Result<Option<PurchaseRecord>, PurchaseError> {
    let sql =
        format!("select {RECORD_COLUMNS} from credit_purchases where id = $1 and user_id = $2");
    sqlx::query_as::<_, RecordRow>(&sql)
        .bind(id)
        .bind(user)
        .fetch_optional(pool)
        .await?
        .map(record)
        .transpose()
}
