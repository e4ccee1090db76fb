//! Settlement: every change of a purchase's state, each in one transaction
//! (its own, or a savepoint inside the caller's) under the purchase's row
//! lock, through a `PurchaseStatus` transition, with its ledger row and
//! its audit row. A ledger row's unique `reference` makes a second grant or
//! take-back impossible: the database, not a prior read, guarantees that a
//! checkout session grants its credits once.

use domain::{Cents, Credits, Purchase, PurchaseStatus};
use serde_json::json;
use sqlx::{Acquire, PgConnection, PgPool, Postgres, Transaction};

use super::{
    PurchaseError, ReviewReason, SessionPayment, Settlement, payment_mismatch,
    repo::{self, Key, PurchaseRow},
};
use crate::{
    audit::{self, Actor},
    ids::{CheckoutSessionId, DisputeId, PaymentIntentId, PurchaseId, RefundId, UserId},
    ledger::{self, LedgerSource},
    packages::CreditPackage,
};

/// Records a pending purchase with a snapshot of the package as it is now.
pub async fn create_pending(
    pool: &PgPool,
    user_id: UserId,
    package: &CreditPackage,
) -> Result<PurchaseId, PurchaseError> {
    let mut tx = pool.begin().await?;
    let purchase_id = repo::insert_pending(&mut tx, user_id, package).await?;
    audit::record(
        &mut tx,
        audit::NewEntry {
            actor: Actor::System,
            action: "purchase.created",
            user: Some(user_id),
            purchase: Some(purchase_id),
            ledger: None,
            details: json!({ "package_code": package.code.as_str(), "credits": package.credits.get(), "amount_cents": package.price.get() }),
            occurred_at: None,
        },
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
    match repo::set_checkout_session(pool, purchase_id, session, stripe_customer_id).await {
        Ok(()) => Ok(()),
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
    let Some(purchase) = lock(&mut tx, Key::Session(session)).await? else {
        return Ok(Settlement::UnknownSession);
    };
    let status = purchase.status();
    let mismatch = payment_mismatch(
        purchase.money.paid(),
        &purchase.currency,
        our_livemode,
        payment,
    );
    let next = match (status.complete(), mismatch) {
        (Ok(next), None) => next,
        (Ok(_), Some(reason)) => {
            return hold_for_review(tx, &purchase, session, payment, reason, actor).await;
        }
        // Paid after we closed it: the money arrived, so an admin must know.
        (Err(_), mismatch) if status.hold_for_review().is_ok() => {
            let reason = mismatch.unwrap_or(ReviewReason::PaidAfter(status));
            return hold_for_review(tx, &purchase, session, payment, reason, actor).await;
        }
        (Err(_), _) => return Ok(purchase.unchanged()),
    };
    repo::set_completed(&mut tx, purchase.id, next, payment.payment_intent_id).await?;
    let Some(ledger_id) = grant(&mut tx, &purchase, session).await? else {
        // The grant exists already: this checkout session was fulfilled before.
        return Ok(Settlement::AlreadySettled {
            purchase_id: purchase.id,
            status: next,
        });
    };
    audit::record(
        &mut tx,
        audit::NewEntry {
            actor,
            action: "purchase.completed",
            user: Some(purchase.user_id),
            purchase: Some(purchase.id),
            ledger: Some(ledger_id),
            details: json!({ "session": session.as_str(), "payment_intent": payment.payment_intent_id, "credits": purchase.money.credits().get() }),
            occurred_at: None,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(purchase = %purchase.id, session = %session, credits = purchase.money.credits().get(), "purchase fulfilled");
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
    Ok(ledger::append(
        tx,
        &ledger::NewEntry {
            user: purchase.user_id,
            amount: purchase.money.credits(),
            source: LedgerSource::Purchase,
            reference: &format!("checkout_session:{session}"),
            purchase: Some(purchase.id),
            description: &format!("Purchase of {}", purchase.package_name),
            created_at: None,
            expires_at: None,
        },
    )
    .await?)
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
    let status = purchase.status();
    let next = status
        .hold_for_review()
        .map_err(|e| PurchaseError::Transition(purchase.id, e))?;
    let text = reason.to_string();
    repo::set_held(
        &mut tx,
        purchase.id,
        next,
        &text,
        payment.amount_total,
        payment.payment_intent_id,
    )
    .await?;
    audit::record(
        &mut tx,
        audit::NewEntry {
            actor,
            action: "purchase.needs_review",
            user: Some(purchase.user_id),
            purchase: Some(purchase.id),
            ledger: None,
            details: json!({
                "session": session.as_str(),
                "payment_intent": payment.payment_intent_id,
                "reason": reason.code(),
                "detail": text,
                "status_before": status.as_str(),
                "expected_amount_cents": purchase.money.paid().get(),
                "expected_currency": purchase.currency,
                "amount_total_cents": payment.amount_total.map(Cents::get),
                "currency": payment.currency,
                "livemode": payment.livemode,
            }),
            occurred_at: None,
        },
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
    let Some(purchase) = lock(&mut tx, Key::Id(id)).await? else {
        return Ok(Held::NotFound);
    };
    if purchase.status() != PurchaseStatus::NeedsReview {
        return Ok(Held::NotInReview(purchase.status()));
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
        self.purchase.money.credits()
    }

    /// The Stripe payment that paid it, if known.
    pub fn payment_intent_id(&self) -> Option<&PaymentIntentId> {
        self.purchase.payment_intent.as_ref()
    }

    /// The admin accepts the payment: the purchase completes and grants its
    /// snapshot credits under the ledger reference a normal fulfilment uses
    /// (`checkout_session:<id>`), so it can never grant twice.
    pub async fn grant(mut self, admin: UserId) -> Result<PurchaseStatus, PurchaseError> {
        let purchase = &self.purchase;
        let transition = |e| PurchaseError::Transition(purchase.id, e);
        let next = purchase.status().grant_after_review().map_err(transition)?;
        let session = purchase.session.clone().ok_or_else(|| {
            transition(domain::InvalidTransition {
                from: purchase.status(),
                to: next,
            })
        })?;
        repo::set_completed(&mut self.tx, purchase.id, next, None).await?;
        let Some(ledger_id) = grant(&mut self.tx, purchase, &session).await? else {
            // Granted before (impossible while held): change nothing.
            return Err(transition(domain::InvalidTransition {
                from: purchase.status(),
                to: next,
            }));
        };
        audit::record(
            &mut self.tx,
            audit::NewEntry {
                actor: Actor::Admin(admin),
                action: "purchase.review_granted",
                user: Some(purchase.user_id),
                purchase: Some(purchase.id),
                ledger: Some(ledger_id),
                details: json!({ "session": session.as_str(), "credits": purchase.money.credits().get() }),
                occurred_at: None,
            },
        )
        .await?;
        self.tx.commit().await?;
        tracing::info!(purchase = %self.purchase.id, admin = %admin, credits = self.purchase.money.credits().get(), "held purchase granted by an admin");
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
            .status()
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
    repo::set_refunded_in_full(tx, purchase.id, next).await?;
    audit::record(
        tx,
        audit::NewEntry {
            actor,
            action: "purchase.review_refunded",
            user: Some(purchase.user_id),
            purchase: Some(purchase.id),
            ledger: None,
            details,
            occurred_at: None,
        },
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
    let Some(purchase) = lock(&mut tx, Key::Session(session)).await? else {
        return Ok(Settlement::UnknownSession);
    };
    let Ok(next) = transition(purchase.status()) else {
        return Ok(purchase.unchanged());
    };
    repo::set_status(&mut tx, purchase.id, next).await?;
    audit::record(
        &mut tx,
        audit::NewEntry {
            actor,
            action,
            user: Some(purchase.user_id),
            purchase: Some(purchase.id),
            ledger: None,
            details: json!({ "session": session.as_str() }),
            occurred_at: None,
        },
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
    payment_intent_id: &PaymentIntentId,
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
    payment_intent_id: &PaymentIntentId,
    refunded_total: Cents,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    let mut tx = conn.begin().await?;
    let Some(purchase) = lock(&mut tx, Key::PaymentIntent(payment_intent_id)).await? else {
        return Ok(Settlement::UnknownSession);
    };
    if purchase.status() == PurchaseStatus::NeedsReview {
        // Nothing was granted. Refunded in full (what Stripe collected, when
        // known), the review is over; a part leaves it for the admin.
        let collected = purchase
            .review_paid_cents
            .unwrap_or(purchase.money.paid().get());
        let next = purchase.status().refund_after_review();
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
        return Ok(purchase.unchanged());
    }
    let Some(refund) = purchase.money.refund_to(refunded_total) else {
        return Ok(purchase.unchanged());
    };
    repo::set_refunded(&mut tx, purchase.id, refund.status, refund.refunded).await?;
    // After a failed refund the refunded total can come back to a figure
    // seen before; the count of failures keeps the reference new.
    let refunded = refund.refunded.get();
    let reference = match purchase.refund_reversals {
        0 => format!("refund:{}:{refunded}", purchase.id),
        n => format!("refund:{}:{refunded}:{n}", purchase.id),
    };
    let take_back = refund.take_back.get();
    let movement = Movement {
        credits: -take_back.max(0),
        source: LedgerSource::Refund,
        reference,
        description: format!("Refund of {}", purchase.package_name),
        action: "purchase.refunded",
        details: json!({ "payment_intent": payment_intent_id, "refunded_total_cents": refunded, "credits_taken_back": take_back }),
    };
    // None: this movement is booked already (the transaction rolls back).
    Ok(book(tx, &purchase, refund.status, movement, actor)
        .await?
        .unwrap_or(purchase.unchanged()))
}

/// A refund of `amount` on the payment failed (the money is back with us):
/// the credits its share took back are granted again, once per refund
/// (`refund_failed:<refund id>`), and the refunded total goes down by it.
pub async fn reverse_refund_on(
    conn: &mut PgConnection,
    payment_intent_id: &PaymentIntentId,
    refund_id: &RefundId,
    amount: Cents,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    let mut tx = conn.begin().await?;
    let Some(purchase) = lock(&mut tx, Key::PaymentIntent(payment_intent_id)).await? else {
        return Ok(Settlement::UnknownSession);
    };
    let unchanged = purchase.unchanged();
    let Some(reversal) = purchase.money.reverse_refund(amount) else {
        return Ok(unchanged);
    };
    repo::set_refund_reversed(&mut tx, purchase.id, reversal.status, reversal.refunded).await?;
    let give_back = reversal.give_back.get();
    let movement = Movement {
        credits: give_back.max(0),
        source: LedgerSource::Refund,
        reference: format!("refund_failed:{refund_id}"),
        description: format!("Failed refund of {}", purchase.package_name),
        action: "purchase.refund_failed",
        details: json!({ "payment_intent": payment_intent_id, "refund": refund_id, "reversed_cents": reversal.reversed.get(), "refunded_total_cents": reversal.refunded.get(), "credits_given_back": give_back }),
    };
    // None: this movement is booked already (the transaction rolls back).
    Ok(book(tx, &purchase, reversal.status, movement, actor)
        .await?
        .unwrap_or(unchanged))
}

/// The buyer disputed the payment: the credits the purchase still holds
/// (its credits less the refunded share) are taken back, once per dispute
/// (`dispute:<dispute id>`), and the purchase becomes `disputed`.
pub async fn open_dispute_on(
    conn: &mut PgConnection,
    payment_intent_id: &PaymentIntentId,
    dispute_id: &DisputeId,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    let mut tx = conn.begin().await?;
    let Some(purchase) = lock(&mut tx, Key::PaymentIntent(payment_intent_id)).await? else {
        return Ok(Settlement::UnknownSession);
    };
    let unchanged = purchase.unchanged();
    let Ok(next) = purchase.status().dispute() else {
        return Ok(unchanged);
    };
    let remaining = purchase.money.credits_held().get();
    repo::set_status(&mut tx, purchase.id, next).await?;
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
    payment_intent_id: &PaymentIntentId,
    dispute_id: &DisputeId,
    won: bool,
    actor: Actor<'_>,
) -> Result<Settlement, PurchaseError> {
    let mut tx = conn.begin().await?;
    let Some(purchase) = lock(&mut tx, Key::PaymentIntent(payment_intent_id)).await? else {
        return Ok(Settlement::UnknownSession);
    };
    let unchanged = purchase.unchanged();
    if purchase.status() != PurchaseStatus::Disputed {
        return Ok(unchanged);
    }
    if !won {
        audit::record(
            &mut tx,
            audit::NewEntry {
                actor,
                action: "purchase.dispute_lost",
                user: Some(purchase.user_id),
                purchase: Some(purchase.id),
                ledger: None,
                details: json!({ "payment_intent": payment_intent_id, "dispute": dispute_id }),
                occurred_at: None,
            },
        )
        .await?;
        tx.commit().await?;
        return Ok(Settlement::Applied {
            purchase_id: purchase.id,
            user_id: purchase.user_id,
            status: purchase.status(),
        });
    }
    let Ok(next) = purchase
        .status()
        .win_dispute(purchase.money.refunded() > Cents::ZERO)
    else {
        return Ok(unchanged);
    };
    // Exactly what the dispute took, from its own ledger row.
    let taken = ledger::amount_of(&mut tx, &format!("dispute:{dispute_id}"), purchase.id).await?;
    repo::set_status(&mut tx, purchase.id, next).await?;
    let restored = taken.map_or(0, |amount| -amount.get()).max(0);
    let movement = Movement {
        credits: restored,
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
        let entry = ledger::NewEntry {
            user: purchase.user_id,
            amount: Credits::signed(movement.credits),
            source: movement.source,
            reference: &movement.reference,
            purchase: Some(purchase.id),
            description: &movement.description,
            created_at: None,
            expires_at: None,
        };
        let Some(id) = ledger::append(&mut tx, &entry).await? else {
            return Ok(None);
        };
        Some(id)
    } else {
        None
    };
    audit::record(
        &mut tx,
        audit::NewEntry {
            actor,
            action: movement.action,
            user: Some(purchase.user_id),
            purchase: Some(purchase.id),
            ledger: ledger_id,
            details: movement.details,
            occurred_at: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Some(Settlement::Applied {
        purchase_id: purchase.id,
        user_id: purchase.user_id,
        status: next,
    }))
}

/// A purchase whose row this transaction has locked.
struct LockedPurchase {
    id: PurchaseId,
    user_id: UserId,
    /// Its status and money: what is granted, paid and refunded.
    money: Purchase,
    refund_reversals: i32,
    package_name: String,
    currency: String,
    session: Option<CheckoutSessionId>,
    payment_intent: Option<PaymentIntentId>,
    /// What Stripe collected, for a purchase held for review.
    review_paid_cents: Option<i64>,
}

impl LockedPurchase {
    fn status(&self) -> PurchaseStatus {
        self.money.status()
    }

    /// What a call that changed nothing answers: the purchase as it was.
    fn unchanged(&self) -> Settlement {
        Settlement::AlreadySettled {
            purchase_id: self.id,
            status: self.status(),
        }
    }
}

impl TryFrom<PurchaseRow> for LockedPurchase {
    type Error = PurchaseError;

    fn try_from(row: PurchaseRow) -> Result<Self, PurchaseError> {
        Ok(LockedPurchase {
            money: row.purchase()?,
            id: row.id,
            user_id: row.user_id,
            refund_reversals: row.refund_reversals,
            package_name: row.package_name,
            currency: row.currency,
            session: row.stripe_checkout_session_id,
            payment_intent: row.stripe_payment_intent_id,
            review_paid_cents: row.review_paid_cents,
        })
    }
}

/// Locks the purchase `key` names for the rest of `tx`.
async fn lock(
    tx: &mut Transaction<'_, Postgres>,
    key: Key<'_>,
) -> Result<Option<LockedPurchase>, PurchaseError> {
    repo::lock(tx, key)
        .await?
        .map(LockedPurchase::try_from)
        .transpose()
}
