//! One purchase as admins see it, with its buyer: [`AdminPurchase`], read
//! from one [`AdminPurchaseRow`] of `credit_purchases p join users u`.

use chrono::{DateTime, Utc};
use domain::{Cents, Credits, PurchaseStatus};

use super::AdminError;
use crate::ids::{PurchaseId, UserId};

/// One purchase with its buyer.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminPurchase {
    pub id: PurchaseId,
    pub user_id: UserId,
    pub user_email: Option<String>,
    pub user_name: Option<String>,
    pub package_code: String,
    pub package_name: String,
    pub amount_credits: Credits,
    pub amount_paid: Cents,
    /// Refunded so far (at most `amount_paid`).
    pub refunded: Cents,
    pub status: PurchaseStatus,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub stripe_session_id: Option<String>,
    pub stripe_payment_id: Option<String>,
    /// Why the purchase was held for review (kept once it is settled).
    pub review_reason: Option<String>,
}

impl AdminPurchase {
    /// What is left to refund: paid less refunded so far.
    pub fn refundable(&self) -> Cents {
        Cents::new(self.amount_paid.get() - self.refunded.get()).unwrap_or(Cents::ZERO)
    }

    /// The payment in Stripe's dashboard, given the dashboard's base URL
    /// (real keys only, see `StripeConfig::dashboard_base`).
    pub fn payment_url(&self, dashboard: Option<&str>) -> Option<String> {
        dashboard
            .zip(self.stripe_payment_id.as_deref())
            .map(|(base, id)| format!("{base}/payments/{id}"))
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AdminPurchaseRow {
    id: PurchaseId,
    user_id: UserId,
    user_email: Option<String>,
    user_name: Option<String>,
    package_code: String,
    package_name: String,
    amount_credits: i64,
    amount_paid_cents: i64,
    refunded_cents: i64,
    status: String,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    stripe_checkout_session_id: Option<String>,
    stripe_payment_intent_id: Option<String>,
    review_reason: Option<String>,
}

/// The columns of [`AdminPurchaseRow`], from `credit_purchases p join users u`.
pub(super) const ROW_COLUMNS: &str = "p.id, p.user_id, u.email as user_email, u.name as user_name, \
     p.package_code, p.package_name, p.amount_credits, p.amount_paid_cents, p.refunded_cents, \
     p.status, p.created_at, p.completed_at, p.stripe_checkout_session_id, p.stripe_payment_intent_id, \
     p.review_reason";

impl TryFrom<AdminPurchaseRow> for AdminPurchase {
    type Error = AdminError;

    fn try_from(row: AdminPurchaseRow) -> Result<Self, AdminError> {
        let corrupt = |problem: String| AdminError::Corrupt {
            id: row.id,
            problem,
        };
        Ok(AdminPurchase {
            amount_credits: Credits::positive(row.amount_credits)
                .map_err(|e| corrupt(format!("credits: {e}")))?,
            amount_paid: Cents::new(row.amount_paid_cents)
                .map_err(|e| corrupt(format!("amount: {e}")))?,
            refunded: Cents::new(row.refunded_cents)
                .map_err(|e| corrupt(format!("refunded: {e}")))?,
            status: row
                .status
                .parse::<PurchaseStatus>()
                .map_err(|e| corrupt(e.to_string()))?,
            id: row.id,
            user_id: row.user_id,
            user_email: row.user_email,
            user_name: row.user_name,
            package_code: row.package_code,
            package_name: row.package_name,
            created_at: row.created_at,
            completed_at: row.completed_at,
            stripe_session_id: row.stripe_checkout_session_id,
            stripe_payment_id: row.stripe_payment_intent_id,
            review_reason: row.review_reason,
        })
    }
}
