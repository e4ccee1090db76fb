//! The credits webhook as a service: one verified Stripe event in, handled
//! once. [`handle`] records the event id, dispatches by kind and makes the
//! change in ONE database transaction, so an event is either handled and
//! recorded or neither (and then Stripe's retry finds it new). A second
//! delivery of the same id, even concurrent, waits on the first's record and
//! is a no-op. The one Stripe call an event may need (which checkout a
//! refunded or disputed payment belongs to, when its completion has not been
//! seen yet) is made before the transaction opens: no transaction is held
//! across the network.
//!
//! A paid checkout's completion, by far the most common event, first goes
//! through [`group::GroupCommit`]: many deliveries, one transaction.

pub mod group;

use sqlx::PgPool;

use crate::{
    audit::Actor,
    ids::PaymentIntentId,
    purchases::{self, PurchaseError, Settlement},
    stripe::{CheckoutOutcome, CreditsEvent, CreditsEventKind, StripeError, StripeGateway},
};
use domain::PurchaseStatus;
use group::{Batched, GroupCommit, GroupError, PaidCheckout};

/// The endpoint name recorded with each event (`stripe_webhook_events.endpoint`).
const ENDPOINT: &str = "credits";

/// What became of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Handled now (the settlement says what changed, if anything).
    Applied(Settlement),
    /// This event id was handled before: nothing was done.
    Duplicate,
    /// A type (or state) the credits endpoint does not act on: nothing was
    /// done or stored.
    Ignored,
}

/// Trouble that a retry may cure: the webhook answers 5xx so Stripe retries.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Purchase(#[from] PurchaseError),
    #[error(transparent)]
    Stripe(#[from] StripeError),
}

/// Handles one verified credits event, exactly once.
pub async fn handle(
    pool: &PgPool,
    stripe: &StripeGateway,
    group: &GroupCommit,
    event: &CreditsEvent,
) -> Result<Handled, WebhookError> {
    if event.kind == CreditsEventKind::Ignored {
        tracing::debug!(event = %event.id, event_type = %event.event_type, "credits webhook: event type ignored");
        return Ok(Handled::Ignored);
    }
    if let Some(handled) = in_group(group, event).await? {
        return Ok(handled);
    }
    let checkout = checkout_of_unsettled_payment(pool, stripe, &event.kind).await?;

    let mut tx = pool.begin().await?;
    // Concurrent deliveries of one id wait here on the first one's row.
    let fresh = record_once(&mut tx, event.id.as_str(), &event.event_type, ENDPOINT).await?;
    if !fresh {
        return Ok(Handled::Duplicate);
    }
    let actor = Actor::StripeEvent(event.id.as_str());
    let conn = &mut *tx;
    let settlement = match &event.kind {
        CreditsEventKind::CheckoutSettled(outcome) => {
            purchases::fulfil_on(
                conn,
                &outcome.session_id,
                &outcome.payment(),
                stripe.livemode(),
                actor,
            )
            .await?
        }
        CreditsEventKind::CheckoutPaymentFailed(session) => {
            purchases::mark_failed_on(conn, session, actor).await?
        }
        CreditsEventKind::CheckoutExpired(session) => {
            purchases::mark_expired_on(conn, session, actor).await?
        }
        CreditsEventKind::ChargeRefunded {
            payment_intent_id,
            amount_refunded,
        } => {
            let settlement =
                purchases::record_refund_on(conn, payment_intent_id, *amount_refunded, actor)
                    .await?;
            if completed_first(
                conn,
                &settlement,
                checkout.as_ref(),
                payment_intent_id,
                stripe.livemode(),
                actor,
            )
            .await?
            {
                purchases::record_refund_on(conn, payment_intent_id, *amount_refunded, actor)
                    .await?
            } else {
                settlement
            }
        }
        CreditsEventKind::RefundFailed {
            refund_id,
            payment_intent_id,
            amount,
        } => {
            purchases::reverse_refund_on(conn, payment_intent_id, refund_id, *amount, actor).await?
        }
        CreditsEventKind::DisputeOpened {
            dispute_id,
            payment_intent_id,
        } => {
            let settlement =
                purchases::open_dispute_on(conn, payment_intent_id, dispute_id, actor).await?;
            if completed_first(
                conn,
                &settlement,
                checkout.as_ref(),
                payment_intent_id,
                stripe.livemode(),
                actor,
            )
            .await?
            {
                purchases::open_dispute_on(conn, payment_intent_id, dispute_id, actor).await?
            } else {
                settlement
            }
        }
        CreditsEventKind::DisputeClosed {
            dispute_id,
            payment_intent_id,
            won,
        } => purchases::close_dispute_on(conn, payment_intent_id, dispute_id, *won, actor).await?,
        CreditsEventKind::Ignored => Settlement::UnknownSession,
    };
    tx.commit().await?;
    match &settlement {
        Settlement::UnknownSession => {
            tracing::info!(event = %event.id, "credits webhook: not one of our purchases")
        }
        other => tracing::info!(event = %event.id, outcome = ?other, "credits webhook handled"),
    }
    Ok(Handled::Applied(settlement))
}

/// A paid checkout's completion through the group commit: `None` when it
/// is not one, or not the common case (then nothing was written).
async fn in_group(
    group: &GroupCommit,
    event: &CreditsEvent,
) -> Result<Option<Handled>, WebhookError> {
    let CreditsEventKind::CheckoutSettled(checkout) = &event.kind else {
        return Ok(None);
    };
    if !checkout.payment_status.grants_credits() {
        return Ok(None);
    }
    let item = PaidCheckout {
        event: event.id.clone(),
        event_type: event.event_type.clone(),
        checkout: checkout.clone(),
    };
    let settlement = match group.fulfil(item).await {
        Ok(Batched::Applied {
            purchase_id,
            user_id,
            credits,
        }) => {
            tracing::info!(event = %event.id, purchase = %purchase_id, session = %checkout.session_id, credits, "purchase fulfilled");
            Settlement::Applied {
                purchase_id,
                user_id,
                status: PurchaseStatus::Completed,
            }
        }
        Ok(Batched::AlreadySettled { purchase_id }) => Settlement::AlreadySettled {
            purchase_id,
            status: PurchaseStatus::Completed,
        },
        Ok(Batched::Duplicate) => return Ok(Some(Handled::Duplicate)),
        Ok(Batched::Fallback) | Err(GroupError::Stopped(_)) => return Ok(None),
        Err(GroupError::Database(error)) => return Err(error.into()),
    };
    Ok(Some(Handled::Applied(settlement)))
}

/// Records that `endpoint` is handling event `id`, in the caller's
/// transaction; `false` when it was handled before (a concurrent delivery of
/// the same id waits here on the first one's row until that commits or rolls
/// back). Each endpoint handles an event once, on its own.
pub async fn record_once(
    conn: &mut sqlx::PgConnection,
    id: &str,
    event_type: &str,
    endpoint: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "insert into stripe_webhook_events (event_id, event_type, endpoint) values ($1, $2, $3) \
         on conflict (event_id, endpoint) do nothing",
    )
    .bind(id)
    .bind(event_type)
    .bind(endpoint)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// For an event about a payment (refund, dispute) whose purchase has not
/// seen its checkout's completion yet: the checkout, asked of Stripe now,
/// before any transaction. `None` when not needed or not one of ours.
async fn checkout_of_unsettled_payment(
    pool: &PgPool,
    stripe: &StripeGateway,
    kind: &CreditsEventKind,
) -> Result<Option<CheckoutOutcome>, WebhookError> {
    let payment_intent_id = match kind {
        CreditsEventKind::ChargeRefunded {
            payment_intent_id, ..
        }
        | CreditsEventKind::DisputeOpened {
            payment_intent_id, ..
        } => payment_intent_id,
        _ => return Ok(None),
    };
    if !purchases::awaits_completion(pool, payment_intent_id).await? {
        return Ok(None);
    }
    Ok(stripe.checkout_for_payment(payment_intent_id).await?)
}

/// Stripe does not order its events: a refund or dispute can arrive before
/// the checkout's completion, when our purchase does not know its payment
/// yet. If so, and Stripe named the checkout, that checkout is fulfilled
/// first (it was paid, or there would be nothing to refund or dispute), in
/// the same transaction. Returns whether the event should be applied again.
async fn completed_first(
    conn: &mut sqlx::PgConnection,
    settlement: &Settlement,
    checkout: Option<&CheckoutOutcome>,
    payment_intent_id: &PaymentIntentId,
    our_livemode: bool,
    actor: Actor<'_>,
) -> Result<bool, WebhookError> {
    let waiting_for_payment = match settlement {
        Settlement::UnknownSession => true,
        Settlement::AlreadySettled { status, .. } => *status == domain::PurchaseStatus::Pending,
        _ => false,
    };
    let Some(checkout) = checkout.filter(|_| waiting_for_payment) else {
        return Ok(false);
    };
    let mut payment = checkout.payment();
    payment.payment_intent_id = payment.payment_intent_id.or(Some(payment_intent_id));
    let fulfilled =
        purchases::fulfil_on(conn, &checkout.session_id, &payment, our_livemode, actor).await?;
    Ok(!matches!(
        fulfilled,
        Settlement::UnknownSession | Settlement::NotPaid
    ))
}
