//! The audit log: who did what to a purchase or a balance, and when, with
//! Stripe's ids. Rows are written only through [`record`], inside the
//! transaction of the change they describe, so a change and its audit row
//! commit (or roll back) together.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::ids::{PurchaseId, UserId};

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
    /// A command-line tool, by its name (e.g. `seed-demo`).
    Tool(&'a str),
}

impl Actor<'_> {
    /// The `actor` column.
    fn name(&self) -> String {
        match self {
            Actor::StripeEvent(_) => "stripe_webhook".into(),
            Actor::SuccessReturn => "success_return".into(),
            Actor::Buyer(id) => format!("user:{id}"),
            Actor::Admin(id) => format!("admin:{id}"),
            Actor::System => "system".into(),
            Actor::Tool(name) => (*name).to_owned(),
        }
    }

    /// The `stripe_event_id` column.
    fn event_id(&self) -> Option<&str> {
        match self {
            Actor::StripeEvent(id) => Some(id),
            _ => None,
        }
    }
}

/// One `audit_log` row to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry<'a> {
    pub actor: Actor<'a>,
    /// What happened, as `area.verb` (`purchase.completed`, `credits.adjusted`).
    pub action: &'a str,
    pub user: Option<UserId>,
    pub purchase: Option<PurchaseId>,
    /// The `credit_ledger` row the change wrote, if any.
    pub ledger: Option<i64>,
    pub details: serde_json::Value,
    /// When it happened; `None` is now (only demo data is written in the past).
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Writes `entry` on `conn`: inside the caller's transaction.
pub async fn record(conn: &mut PgConnection, entry: NewEntry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into audit_log (occurred_at, actor, action, user_id, purchase_id, ledger_id, stripe_event_id, details) \
         values (coalesce($1, now()), $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(entry.occurred_at)
    .bind(entry.actor.name())
    .bind(entry.action)
    .bind(entry.user)
    .bind(entry.purchase)
    .bind(entry.ledger)
    .bind(entry.actor.event_id())
    .bind(entry.details)
    .execute(conn)
    .await?;
    Ok(())
}
