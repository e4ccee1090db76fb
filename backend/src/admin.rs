//! Admin views across all users.

use chrono::{DateTime, Utc};
use domain::{Cents, Credits, PurchaseStatus};
use sqlx::PgPool;

use crate::ids::{PurchaseId, UserId};

/// Which purchases to list: newest first, a page of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseFilter {
    pub limit: i64,
    pub offset: i64,
    pub status: Option<PurchaseStatus>,
}

/// One purchase with the buyer's e-mail.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminPurchase {
    pub id: PurchaseId,
    pub user_id: UserId,
    pub user_email: Option<String>,
    pub package_name: String,
    pub amount_credits: Credits,
    pub amount_paid: Cents,
    pub status: PurchaseStatus,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub stripe_session_id: Option<String>,
    pub stripe_payment_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AdminPurchaseRow {
    id: PurchaseId,
    user_id: UserId,
    user_email: Option<String>,
    package_name: String,
    amount_credits: i64,
    amount_paid_cents: i64,
    status: String,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    stripe_checkout_session_id: Option<String>,
    stripe_payment_intent_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("stored purchase {id} is invalid: {problem}")]
    Corrupt { id: PurchaseId, problem: String },
}

impl TryFrom<AdminPurchaseRow> for AdminPurchase {
    type Error = AdminError;

    fn try_from(row: AdminPurchaseRow) -> Result<Self, AdminError> {
        let corrupt = |problem: String| AdminError::Corrupt {
            id: row.id,
            problem,
        };
        Ok(AdminPurchase {
            amount_credits: Credits::positive(row.amount_credits)
                .map_err(|e| corrupt(e.to_string()))?,
            amount_paid: Cents::new(row.amount_paid_cents).map_err(|e| corrupt(e.to_string()))?,
            status: row
                .status
                .parse::<PurchaseStatus>()
                .map_err(|e| corrupt(e.to_string()))?,
            id: row.id,
            user_id: row.user_id,
            user_email: row.user_email,
            package_name: row.package_name,
            created_at: row.created_at,
            completed_at: row.completed_at,
            stripe_session_id: row.stripe_checkout_session_id,
            stripe_payment_id: row.stripe_payment_intent_id,
        })
    }
}

/// All users' purchases, newest first.
pub async fn list_purchases(
    pool: &PgPool,
    filter: &PurchaseFilter,
) -> Result<Vec<AdminPurchase>, AdminError> {
    let rows = sqlx::query_as::<_, AdminPurchaseRow>(
        "select p.id, p.user_id, u.email as user_email, p.package_name, p.amount_credits,
                p.amount_paid_cents, p.status, p.created_at, p.completed_at,
                p.stripe_checkout_session_id, p.stripe_payment_intent_id
         from credit_purchases p
         join users u on u.id = p.user_id
         where ($1::text is null or p.status = $1)
         order by p.created_at desc, p.id desc
         limit $2 offset $3",
    )
    .bind(filter.status.map(PurchaseStatus::as_str))
    .bind(filter.limit)
    .bind(filter.offset)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(AdminPurchase::try_from).collect()
}
