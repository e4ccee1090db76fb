//! The subscription webhook as a service: one verified event in, handled
//! once, deciding from Stripe's state rather than the event's.
//!
//! Stripe does not order its events: a new subscription's `created`,
//! `invoice.paid` and `updated` arrive in any order, and a stale
//! `incomplete` must never overwrite `active`. So, in one transaction:
//! the event id is recorded (a redelivery is a no-op), the subscription's
//! lock is taken, and then its state is decided. A `customer.subscription.*`
//! event newer than the state we hold is applied from its own object;
//! anything else (an older or same-time event, an invoice, a checkout) asks
//! Stripe for the subscription as it is now, under the lock, and stores that
//! with the time we asked (plus [`state::FETCH_MARGIN`]). Whatever order
//! events come in, the last write is Stripe's current state.
//!
//! A paid `subscription_create` or `subscription_cycle` invoice grants its
//! tier's allowance through the ledger, once per invoice (the ledger's
//! unique reference `invoice:<id>`); proration invoices grant nothing.

use chrono::{DateTime, Utc};
use domain::{BillingCycle, subscription::period_allowance};
use sqlx::{PgConnection, PgPool};

use super::{SubscriptionError, state, tiers};
use crate::{
    audit::{self, Actor},
    ids::{CustomerId, UserId},
    ledger::{self, LedgerSource},
    stripe::{PaidInvoice, StripeGateway, SubscriptionEvent, SubscriptionEventKind},
    sync::Outbox,
};

/// `stripe_webhook_events.endpoint` for this endpoint.
const ENDPOINT: &str = "subscriptions";

/// What became of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Stored (and, for a paid invoice, its allowance granted if due).
    Applied,
    /// Seen before: nothing done.
    Duplicate,
    /// Not ours to act on (another type, an unknown subscription or user).
    Ignored,
}

/// Handles one verified subscription event, exactly once. Errors are
/// trouble a retry may cure (database, Stripe): the endpoint answers 5xx.
pub async fn handle(
    pool: &PgPool,
    stripe: &StripeGateway,
    outbox: &Outbox,
    event: &SubscriptionEvent,
) -> Result<Handled, SubscriptionError> {
    let Some(subscription_id) = event.subscription_id() else {
        tracing::debug!(event = %event.id, event_type = %event.event_type, "subscription webhook: ignored");
        return Ok(Handled::Ignored);
    };
    let mut tx = pool.begin().await?;
    let fresh =
        crate::webhook::record_once(&mut tx, event.id.as_str(), &event.event_type, ENDPOINT)
            .await?;
    if !fresh {
        return Ok(Handled::Duplicate);
    }
    state::lock(&mut tx, subscription_id).await?;
    let stored = state::find(&mut tx, subscription_id).await?;
    let newer_than_stored = stored
        .as_ref()
        .is_none_or(|s| event.created > s.state_as_of);
    let (snapshot, as_of) = match &event.kind {
        SubscriptionEventKind::SubscriptionChanged(snapshot) if newer_than_stored => {
            (Some(snapshot.clone()), event.created)
        }
        _ => (
            stripe.retrieve_subscription(subscription_id).await?,
            Utc::now() + state::FETCH_MARGIN,
        ),
    };
    let Some(snapshot) = snapshot else {
        tracing::warn!(event = %event.id, subscription = %subscription_id, "Stripe does not know this subscription; event ignored");
        tx.commit().await?;
        return Ok(Handled::Ignored);
    };
    let hint = match &event.kind {
        SubscriptionEventKind::CheckoutCompleted { user_id, .. } => *user_id,
        SubscriptionEventKind::InvoicePaid(invoice) => invoice.user_id,
        _ => None,
    };
    let candidates = [snapshot.user_id, hint, stored.as_ref().map(|s| s.user_id)];
    let Some(user) = owner(&mut tx, &candidates, &snapshot.customer_id).await? else {
        tracing::warn!(event = %event.id, subscription = %subscription_id, customer = %snapshot.customer_id, "subscription of no user of ours; event ignored");
        tx.commit().await?;
        return Ok(Handled::Ignored);
    };
    let current = state::store(&mut tx, outbox, &snapshot, user, as_of).await?;
    let actor = Actor::StripeEvent(event.id.as_str());
    match &event.kind {
        SubscriptionEventKind::InvoicePaid(invoice) if invoice.reason.grants_allowance() => {
            grant_allowance(
                &mut tx,
                invoice,
                user,
                current.tier_code.as_deref(),
                current.cycle,
                actor,
            )
            .await?;
        }
        SubscriptionEventKind::TrialWillEnd(_) => {
            state::note_trial_will_end(&mut tx, subscription_id, event.created).await?;
        }
        _ => {}
    }
    tx.commit().await?;
    tracing::info!(event = %event.id, event_type = %event.event_type, subscription = %subscription_id, status = %current.stripe.status, tier = ?current.tier_code, "subscription webhook handled");
    Ok(Handled::Applied)
}

/// The first candidate that is one of our users, else the user whose
/// Stripe customer this is.
pub(crate) async fn owner(
    conn: &mut PgConnection,
    candidates: &[Option<UserId>],
    customer: &CustomerId,
) -> Result<Option<UserId>, sqlx::Error> {
    for candidate in candidates.iter().flatten() {
        let exists: Option<UserId> = sqlx::query_scalar("select id from users where id = $1")
            .bind(candidate)
            .fetch_optional(&mut *conn)
            .await?;
        if exists.is_some() {
            return Ok(exists);
        }
    }
    sqlx::query_scalar("select id from users where stripe_customer_id = $1")
        .bind(customer.as_str())
        .fetch_optional(conn)
        .await
}

/// When an allowance granted at `granted_at` expires: at the end of the
/// period it was paid for (one cycle after the invoice, which is paid as the
/// period starts), unless the tier's allowance rolls over.
pub(super) fn allowance_expiry(
    tier: &tiers::Tier,
    cycle: BillingCycle,
    granted_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if tier.allowance_rolls_over {
        return None;
    }
    let months = match cycle {
        BillingCycle::Monthly => 1,
        BillingCycle::Yearly => 12,
    };
    granted_at.checked_add_months(chrono::Months::new(months))
}

/// Grants the allowance of the plan the invoice paid for (its line's
/// price; the subscription's plan when the price is not a tier's), once:
/// from `invoice.paid`, or from the success return, whichever comes first.
pub(super) async fn grant_allowance(
    conn: &mut PgConnection,
    invoice: &PaidInvoice,
    user: UserId,
    subscription_tier: Option<&str>,
    subscription_cycle: Option<BillingCycle>,
    actor: Actor<'_>,
) -> Result<(), SubscriptionError> {
    let by_price = match &invoice.price_id {
        Some(price) => tiers::by_price(conn, price).await?,
        None => None,
    };
    let plan = match (by_price, subscription_tier, subscription_cycle) {
        (Some(plan), _, _) => Some(plan),
        (None, Some(code), Some(cycle)) => tiers::by_code(conn, code).await?.map(|t| (t, cycle)),
        _ => None,
    };
    let Some((tier, cycle)) = plan else {
        tracing::warn!(invoice = %invoice.id, "paid invoice of no tier of ours: no allowance");
        return Ok(());
    };
    let Some(amount) = period_allowance(tier.monthly_allowance, cycle).filter(|a| a.get() > 0)
    else {
        return Ok(());
    };
    let reference = format!("invoice:{}", invoice.id);
    let description = format!("{} plan allowance ({cycle})", tier.name);
    let entry = ledger::append(
        conn,
        &ledger::NewEntry {
            user,
            amount,
            source: LedgerSource::SubscriptionAllowance,
            reference: &reference,
            purchase: None,
            description: &description,
            created_at: None,
            expires_at: allowance_expiry(&tier, cycle, Utc::now()),
        },
    )
    .await?;
    let Some(ledger_id) = entry else {
        tracing::info!(invoice = %invoice.id, "allowance already granted for this invoice");
        return Ok(());
    };
    audit::record(
        conn,
        audit::NewEntry {
            actor,
            action: "subscription.allowance_granted",
            user: Some(user),
            purchase: None,
            ledger: Some(ledger_id),
            details: serde_json::json!({
                "invoice": invoice.id.as_str(),
                "subscription": invoice.subscription_id.as_str(),
                "tier": tier.code,
                "billing_cycle": cycle.as_str(),
                "credits": amount.get(),
            }),
            occurred_at: None,
        },
    )
    .await?;
    Ok(())
}
