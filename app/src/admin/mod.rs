//! The admin pages' server functions and view types, one file per action
//! (`refund`, `review`, `adjust`, `save_package`, `move_package`) and per
//! read view (`dashboard`, `purchase`, `packages`, `sync`).
//!
//! Every server function is a thin adapter: `require_admin()` itself
//! (anonymous → 401, others → 403), parse its arguments into domain types,
//! call one use case of `backend::admin` or `backend::packages`, and answer
//! its error through the one contract (`From<…> for ApiError` in
//! `crate::error`), so a refusal has the same code and status here as on
//! the JSON API.

mod adjust;
mod dashboard;
mod move_package;
mod packages;
mod purchase;
mod refund;
mod review;
mod save_package;
mod sync;
mod wallet;

pub use adjust::{AdjustCredits, adjust_credits};
pub use dashboard::{
    AdminDashboard, DashboardView, Figure, PERIODS, PackageSalesView, REVIEW_LIST_SIZE,
    SubscriptionsView, TABLE_PAGE_SIZE, admin_dashboard,
};
pub use domain::admin::{FilterParams, PageParams};
pub use move_package::{MoveDirection, MovePackage, move_package};
pub use packages::{AdminPackageView, AdminPackages, admin_packages};
pub use purchase::{AdminPurchase, AuditView, LedgerView, PurchaseDetailView, admin_purchase};
pub use refund::{RefundPurchase, refund_purchase};
pub use review::{ReviewPurchase, review_purchase};
pub use save_package::{SavePackage, save_package};
#[cfg(feature = "ssr")]
pub use sync::ssr as sync_ssr;
pub use sync::{
    ReconcileRunView, RetryFailedSyncs, RetrySync, SyncJobView, SyncPageView, UserSyncView,
    admin_sync, retry_failed_syncs, retry_sync, sync_summary,
};
pub use wallet::{
    AdminWallet, AdminWalletView, AdminWalletsView, GrantPromotion, admin_wallet, grant_promotion,
};

use domain::{Cents, Credits, PurchaseStatus};
use serde::{Deserialize, Serialize};

/// One row of the purchase table (and of the "Needs review" list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminRow {
    pub id: String,
    pub user_id: String,
    pub user_email: Option<String>,
    pub user_name: Option<String>,
    pub package_name: String,
    pub credits: Credits,
    pub amount: Cents,
    pub refunded: Cents,
    pub status: PurchaseStatus,
    pub created_at: String,
    pub completed_at: Option<String>,
    pub session_id: Option<String>,
    pub payment_id: Option<String>,
    /// The payment in Stripe's dashboard (real keys only).
    pub payment_url: Option<String>,
    /// Why the purchase was held for review, if it was.
    pub review_reason: Option<String>,
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    //! What the admin server functions share on the server.

    use backend::{AppState, admin::AdminPurchase, auth::AuthUser, ids::PackageId};
    use domain::Cents;
    use leptos::prelude::expect_context;
    use uuid::Uuid;

    use super::AdminRow;
    use crate::error::{ApiError, ErrorCode};

    pub async fn require_admin() -> Result<AuthUser, ApiError> {
        crate::auth::ssr::require_admin().await
    }

    pub fn state() -> AppState {
        expect_context::<AppState>()
    }

    pub use crate::components::local_time::iso;

    pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
        at.format("%Y-%m-%d %H:%M").to_string()
    }

    /// 422 `code`: the admin's input does not fit; `message` says how.
    pub fn bad_input(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::new(code, message)
    }

    /// A package id as a form sends it; 404 when it cannot be one.
    pub fn package_id(id: &str) -> Result<PackageId, ApiError> {
        id.trim()
            .parse::<Uuid>()
            .map(PackageId::from_uuid)
            .map_err(|_| ApiError::new(ErrorCode::UnknownPackage, "There is no such package."))
    }

    /// `12`, `12.5`, `$1,234.50` → cents; blank → `None`.
    pub fn dollars(text: &str, field: &str) -> Result<Option<Cents>, ApiError> {
        let text = text.trim().trim_start_matches('$').replace(',', "");
        if text.is_empty() {
            return Ok(None);
        }
        let amount: rust_decimal::Decimal = text.parse().map_err(|_| {
            bad_input(
                ErrorCode::InvalidAmount,
                format!("{field} must be an amount in dollars, such as 12.50."),
            )
        })?;
        Cents::from_dollars(amount)
            .map(Some)
            .map_err(|e| bad_input(ErrorCode::InvalidAmount, format!("{field}: {e}.")))
    }

    pub fn row(purchase: AdminPurchase, dashboard: Option<&str>) -> AdminRow {
        AdminRow {
            payment_url: purchase.payment_url(dashboard),
            id: purchase.id.to_string(),
            user_id: purchase.user_id.to_string(),
            user_email: purchase.user_email,
            user_name: purchase.user_name,
            package_name: purchase.package_name,
            credits: purchase.amount_credits,
            amount: purchase.amount_paid,
            refunded: purchase.refunded,
            status: purchase.status,
            created_at: iso(purchase.created_at),
            completed_at: purchase.completed_at.map(iso),
            session_id: purchase.stripe_session_id,
            payment_id: purchase.stripe_payment_id,
            review_reason: purchase.review_reason,
        }
    }
}
