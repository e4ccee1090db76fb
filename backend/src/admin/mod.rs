//! What admins see and do across all users (the `/admin/credits` dashboard
//! and the admin API). Callers check the admin role first (`AdminUser`,
//! `require_admin()`); nothing here does.
//!
//! - [`filter`]: which purchases and in what order ([`PurchaseFilter`],
//!   [`PurchaseSort`]), parsed once from [`FilterParams`], the one text form
//!   of the table's filters (JSON API, CSV export, dashboard).
//! - [`table`]: pages of the purchase table (offset or keyset [`Cursor`])
//!   and the count; [`purchase_table`] is the use case behind the JSON list
//!   and the dashboard.
//! - [`purchase`]: one purchase as admins see it ([`AdminPurchase`]).
//! - [`detail`]: one purchase with its audit trail, ledger entries and the
//!   buyer's balance ([`purchase_detail`]).
//! - [`stats`]: headline figures for a period beside the previous one, the
//!   daily revenue series and sales by package.
//! - [`csv`]: the filtered table as a streamed CSV.
//! - [`refund`]: an admin refund through Stripe, applied through the same
//!   path as Stripe's `charge.refunded` so nothing is taken back twice.
//! - [`adjust`]: a manual credit adjustment with a reason.
//! - [`review`]: grant or refund a purchase held for review (`needs_review`).

pub mod adjust;
pub mod csv;
pub mod detail;
pub mod filter;
pub mod purchase;
pub mod refund;
pub mod review;
pub mod stats;
pub mod table;

pub use adjust::{
    AdjustmentError, AdjustmentOutcome, AdjustmentReason, CreditAdjustment, adjust, adjust_credits,
};
pub use detail::{AuditEntry, LedgerEntry, PurchaseDetail, purchase_detail};
pub use filter::{
    FIRST_DAY, FilterParams, LAST_DAY, PurchaseFilter, PurchaseSort, SortDirection, SortKey,
    UserSearch, parse_day, parse_filter,
};
pub use purchase::AdminPurchase;
pub use refund::{AdminRefund, RefundError, RefundOutcome, refund, refund_purchase};
pub use review::{ReviewAction, ReviewError, ReviewOutcome, review_purchase};
pub use stats::{
    DailyRevenue, DashboardStats, Figures, PackageSales, StatsPeriod, compact_rollups,
    compact_rollups_every, recompute, stats,
};
pub use table::{
    Cursor, MAX_PAGE_SIZE, Page, PageParams, PurchasePage, PurchaseQuery, PurchaseTable,
    count_purchases, list_purchases, needs_review, parse_page, purchase_table,
};

use crate::ids::PurchaseId;

/// Reading admin views failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A filter, sort or page parameter does not fit; the message names it.
    #[error("{0}")]
    InvalidQuery(String),
    #[error("there is no purchase {0}")]
    UnknownPurchase(PurchaseId),
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

pub use csv::export_csv;
