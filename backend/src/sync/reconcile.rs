//! Nothing drifts from Stripe: a webhook can be lost (an outage longer
//! than Stripe's retries, an endpoint misconfigured for a while), and a
//! buyer may never come back to the success page. Every few minutes, one
//! instance at a time (a Postgres advisory lock), and on demand
//! (`ops-center-credits reconcile`):
//!
//! - every subscription Stripe lists whose state differs from ours is
//!   stored again from Stripe (which adds its Keycloak and Lago jobs), and
//!   the allowance of its latest paid period invoice is granted if it was
//!   not (once per invoice, as always);
//! - a credit purchase still `pending` whose Checkout Session Stripe
//!   reports paid is fulfilled through the webhook's exactly-once path, and
//!   one whose session expired is expired.
//!
//! Each run is logged and kept in `reconcile_runs` with what it changed.

use std::time::Duration;

use sqlx::Connection;

use crate::{
    AppState,
    audit::Actor,
    checkout,
    ids::CheckoutSessionId,
    purchases::{self, PaymentStatus, Settlement},
    subscriptions::{self, state},
};

/// Who the audit log says acted.
const ACTOR: Actor<'static> = Actor::Tool("reconcile");
/// Purchases younger than this are left to the webhook and the success
/// return in the periodic run (no point racing them).
pub const PENDING_GRACE: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Stripe(#[from] crate::stripe::StripeError),
    #[error(transparent)]
    Subscription(#[from] subscriptions::SubscriptionError),
}

/// What one run changed, one line per thing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub changes: Vec<String>,
}

/// One run, unless another instance is running one (`Ok(None)`). Purchases
/// pending for less than `grace` are left alone.
pub async fn run(app: &AppState, grace: Duration) -> Result<Option<Report>, ReconcileError> {
    // A connection of its own holds the lock, and is closed (releasing it)
    // rather than returned to the pool, whatever happens.
    let mut lock = app.pool.acquire().await?.detach();
    let locked: bool =
        sqlx::query_scalar("select pg_try_advisory_lock(hashtextextended('reconcile', 0))")
            .fetch_one(&mut lock)
            .await?;
    if !locked {
        tracing::info!("reconcile: another instance is running one");
        return Ok(None);
    }
    let run_id: i64 = sqlx::query_scalar("insert into reconcile_runs default values returning id")
        .fetch_one(&app.pool)
        .await?;
    let mut report = Report::default();
    let outcome = reconcile(app, grace, &mut report).await;
    let error = outcome.as_ref().err().map(|e| crate::error_chain(e));
    sqlx::query(
        "update reconcile_runs set finished_at = now(), changes = $2, error = $3 where id = $1",
    )
    .bind(run_id)
    .bind(serde_json::json!(report.changes))
    .bind(&error)
    .execute(&app.pool)
    .await?;
    let _ = lock.close().await;
    for change in &report.changes {
        tracing::info!(change = %change, "reconcile");
    }
    tracing::info!(changes = report.changes.len(), error = ?error, "reconcile run finished");
    outcome.map(|()| Some(report))
}

async fn reconcile(
    app: &AppState,
    grace: Duration,
    report: &mut Report,
) -> Result<(), ReconcileError> {
    subscriptions_from_stripe(app, report).await?;
    pending_purchases(app, grace, report).await
}

async fn subscriptions_from_stripe(
    app: &AppState,
    report: &mut Report,
) -> Result<(), ReconcileError> {
    for snapshot in app.stripe.all_subscriptions().await? {
        let stored = {
            let mut conn = app.pool.acquire().await?;
            state::find(&mut conn, &snapshot.id).await?
        };
        let same = stored.as_ref().is_some_and(|s| {
            let ours = &s.stripe;
            (
                ours.status,
                &ours.price_id,
                ours.cancel_at_period_end,
                ours.current_period_end,
                ours.ended_at,
            ) == (
                snapshot.status,
                &snapshot.price_id,
                snapshot.cancel_at_period_end,
                snapshot.current_period_end,
                snapshot.ended_at,
            )
        });
        if same {
            continue;
        }
        let candidates = [snapshot.user_id, stored.as_ref().map(|s| s.user_id)];
        let user = {
            let mut conn = app.pool.acquire().await?;
            subscriptions::webhook::owner(&mut conn, &candidates, &snapshot.customer_id).await?
        };
        let Some(user) = user else {
            tracing::warn!(subscription = %snapshot.id, customer = %snapshot.customer_id, "reconcile: a subscription of no user of ours");
            continue;
        };
        let now = subscriptions::manage::resync(app, &snapshot.id, user, ACTOR).await?;
        report.changes.push(format!(
            "subscription {}: {} → {}{}",
            snapshot.id,
            stored.map_or("unknown here".to_owned(), |s| s
                .stripe
                .status
                .as_str()
                .to_owned()),
            now.stripe.status.as_str(),
            if now.stripe.cancel_at_period_end {
                " (cancels at period end)"
            } else {
                ""
            }
        ));
    }
    Ok(())
}

async fn pending_purchases(
    app: &AppState,
    grace: Duration,
    report: &mut Report,
) -> Result<(), ReconcileError> {
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::zero());
    let sessions: Vec<String> = sqlx::query_scalar(
        "select stripe_checkout_session_id from credit_purchases \
         where status = 'pending' and stripe_checkout_session_id is not null and created_at < now() - $1::interval \
         order by created_at",
    )
    .bind(grace)
    .fetch_all(&app.pool)
    .await?;
    for session in sessions {
        let Ok(session) = session.parse::<CheckoutSessionId>() else {
            continue;
        };
        let outcome = app.stripe.retrieve_checkout(&session).await?;
        let settled = if matches!(
            outcome.payment_status,
            PaymentStatus::Paid | PaymentStatus::NoPaymentRequired
        ) {
            checkout::fulfil_checkout(&app.pool, &app.stripe, &outcome, ACTOR).await
        } else if outcome.expired {
            purchases::mark_expired(&app.pool, &session, ACTOR)
                .await
                .map_err(checkout::CheckoutError::from)
        } else {
            continue;
        };
        match settled {
            Ok(Settlement::Applied { status, .. }) => report
                .changes
                .push(format!("purchase of session {session}: pending → {status}")),
            Ok(Settlement::HeldForReview { reason, .. }) => report.changes.push(format!(
                "purchase of session {session}: paid, held for review ({reason})"
            )),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(session = %session, error = %crate::error_chain(&error), "reconcile: purchase not settled")
            }
        }
    }
    Ok(())
}

/// Runs [`run`] every `every`, in this instance, until the process ends.
pub async fn every(app: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(error) = run(&app, PENDING_GRACE).await {
            tracing::error!(error = %crate::error_chain(&error), "reconcile run failed");
        }
    }
}
