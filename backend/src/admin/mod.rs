//! What admins see and do across all users (the `/admin/credits` dashboard
//! and the admin API). Callers check the admin role first (`AdminUser`,
//! `require_admin()`); nothing here does.
//!
//! - [`purchases`]: the purchase table: [`PurchaseFilter`], sorting, offset
//!   or keyset pages, the count, and one purchase with its audit trail and
//!   ledger entries ([`purchase_detail`]).
//! - [`stats`]: headline figures for a period beside the previous one, the
//!   daily revenue series and sales by package.
//! - [`csv`]: the filtered table as a streamed CSV.
//! - [`refund`]: an admin refund through Stripe, applied through the same
//!   path as Stripe's `charge.refunded` so nothing is taken back twice.
//! - [`adjust`]: a manual credit adjustment with a reason.
//! - [`review`]: grant or refund a purchase held for review (`needs_review`).

pub mod adjust;
pub mod csv;
pub mod purchases;
pub mod refund;
pub mod review;
pub mod stats;

pub use adjust::{AdjustmentError, AdjustmentOutcome, AdjustmentReason, CreditAdjustment};
pub use purchases::{
    AdminPurchase, AuditEntry, Cursor, FIRST_DAY, FilterParams, LAST_DAY, LedgerEntry, Page,
    PurchaseDetail, PurchaseFilter, PurchasePage, PurchaseQuery, PurchaseSort, SortDirection,
    SortKey, UserSearch, count_purchases, list_purchases, parse_day, purchase_detail,
};
pub use refund::{AdminRefund, RefundError, RefundOutcome, refund_purchase};
pub use review::{ReviewAction, ReviewError, ReviewOutcome, review_purchase};
pub use stats::{DailyRevenue, DashboardStats, Figures, PackageSales, StatsPeriod, stats};

use crate::ids::PurchaseId;

/// Reading admin views failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("stored purchase {id} is invalid: {problem}")]
    Corrupt { id: PurchaseId, problem: String },
    /// A sum of money came out negative (the database holds impossible amounts).
    #[error("a figure came out invalid: {0}")]
    BadFigure(#[from] domain::MoneyError),
    /// A keyset cursor from another sort order was passed back.
    #[error("the page cursor belongs to another sort order")]
    CursorMismatch,
}

pub use adjust::adjust_credits;
pub use csv::export_csv;
