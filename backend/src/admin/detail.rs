//! One purchase in detail: the purchase, its audit trail and its ledger
//! entries, and its buyer's balance.

use chrono::{DateTime, Utc};
use domain::Credits;
use sqlx::PgPool;

use super::{
    AdminError,
    purchase::{AdminPurchase, AdminPurchaseRow, ROW_COLUMNS},
};
use crate::{
    ids::{PurchaseId, UserId},
    ledger::LedgerSource,
};

/// A purchase with everything that happened to it.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchaseDetail {
    pub purchase: AdminPurchase,
    pub discount_percentage: i32,
    pub currency: String,
    pub stripe_customer_id: Option<String>,
    /// The buyer's balance now.
    pub user_balance: Credits,
    /// Oldest first.
    pub audit: Vec<AuditEntry>,
    /// Oldest first.
    pub ledger: Vec<LedgerEntry>,
}

/// One `audit_log` row.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    /// `stripe_webhook`, `success_return`, `admin:<user id>`, `system`.
    pub actor: String,
    /// `purchase.created`, `purchase.completed`, `purchase.refunded`, …
    pub action: String,
    pub ledger_id: Option<i64>,
    pub stripe_event_id: Option<String>,
    pub stripe_object_id: Option<String>,
    pub details: serde_json::Value,
}

/// One `credit_ledger` row.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub user_id: UserId,
    pub amount: Credits,
    pub source: Option<LedgerSource>,
    pub reference: String,
    pub description: String,
    pub balance_after: Credits,
}

type AuditRow = (
    i64,
    DateTime<Utc>,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    serde_json::Value,
);

type LedgerRow = (i64, DateTime<Utc>, UserId, i64, String, String, String, i64);

/// The purchase, its audit trail, its ledger entries and its buyer's
/// balance; [`AdminError::UnknownPurchase`] if there is no such purchase.
pub async fn purchase_detail(pool: &PgPool, id: PurchaseId) -> Result<PurchaseDetail, AdminError> {
    let sql = format!(
        "select {ROW_COLUMNS} from credit_purchases p join users u on u.id = p.user_id where p.id = $1"
    );
    let Some(row) = sqlx::query_as::<_, AdminPurchaseRow>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
    else {
        return Err(AdminError::UnknownPurchase(id));
    };
    let purchase = AdminPurchase::try_from(row)?;
    let (discount_percentage, currency, stripe_customer_id): (i32, String, Option<String>) =
        sqlx::query_as(
            "select discount_percentage, currency, stripe_customer_id from credit_purchases where id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await?;
    let audit = sqlx::query_as::<_, AuditRow>(
        "select id, occurred_at, actor, action, ledger_id, stripe_event_id, stripe_object_id, details \
         from audit_log where purchase_id = $1 order by id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(
        |(id, occurred_at, actor, action, ledger_id, stripe_event_id, stripe_object_id, details)| {
            AuditEntry {
                id,
                occurred_at,
                actor,
                action,
                ledger_id,
                stripe_event_id,
                stripe_object_id,
                details,
            }
        },
    )
    .collect();
    let ledger = sqlx::query_as::<_, LedgerRow>(
        "select id, created_at, user_id, amount, source, reference, description, balance_after \
         from credit_ledger where purchase_id = $1 order by id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(ledger_entry)
    .collect();
    let user_balance = crate::ledger::balance(pool, purchase.user_id).await?;
    Ok(PurchaseDetail {
        purchase,
        discount_percentage,
        currency,
        stripe_customer_id,
        user_balance,
        audit,
        ledger,
    })
}

fn ledger_entry(
    (id, created_at, user_id, amount, source, reference, description, balance_after): LedgerRow,
) -> LedgerEntry {
    LedgerEntry {
        id,
        created_at,
        user_id,
        amount: Credits::signed(amount),
        source: LedgerSource::parse(&source),
        reference,
        description,
        balance_after: Credits::signed(balance_after),
    }
}
