//! One purchase for the admin: the row, its audit trail and ledger
//! entries, what is left to refund and the buyer's balance, with fresh
//! request ids for the refund and adjustment forms.

use domain::{Cents, Credits, ids::PurchaseId};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::AdminRow;
use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditView {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub details: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerView {
    pub at: String,
    pub amount: Credits,
    pub reference: String,
    pub description: String,
    pub balance_after: Credits,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurchaseDetailView {
    pub row: AdminRow,
    pub discount_percentage: i32,
    pub stripe_customer_id: Option<String>,
    pub refundable: Cents,
    pub user_balance: Credits,
    /// The buyer's plan: "Professional (monthly), active, renews 2027-01-02" or "No active plan".
    pub user_plan: String,
    /// The buyer's Keycloak and Lago sync (none when neither is configured).
    pub user_sync: Vec<super::UserSyncView>,
    pub audit: Vec<AuditView>,
    pub ledger: Vec<LedgerView>,
    /// A fresh id for the adjustment form, so a resubmitted form counts once.
    pub adjustment_request_id: String,
    /// A fresh id for the refund form, so a resubmitted form refunds once.
    pub refund_request_id: String,
}

/// One purchase with its audit trail and ledger entries; 404
/// `unknown_purchase` when there is none.
#[server(endpoint = "admin_purchase")]
pub async fn admin_purchase(id: PurchaseId) -> Result<PurchaseDetailView, ApiError> {
    use super::ssr::{iso, require_admin, row, state};

    require_admin().await?;
    let state = state();
    let detail = backend::admin::purchase_detail(&state.pool, id).await?;
    let plan = crate::billing::PlanStatus::from(
        backend::subscriptions::manage::status(&state.pool, detail.purchase.user_id).await?,
    );
    let user_sync = super::sync_ssr::for_user(&state, detail.purchase.user_id).await?;
    Ok(PurchaseDetailView {
        user_plan: crate::billing::plan_summary(&plan),
        user_sync,
        discount_percentage: detail.discount_percentage,
        stripe_customer_id: detail.stripe_customer_id,
        refundable: detail.purchase.refundable(),
        user_balance: detail.user_balance,
        audit: detail
            .audit
            .into_iter()
            .map(|entry| AuditView {
                at: iso(entry.occurred_at),
                actor: entry.actor,
                action: entry.action,
                details: entry.details.to_string(),
            })
            .collect(),
        ledger: detail
            .ledger
            .into_iter()
            .map(|entry| LedgerView {
                at: iso(entry.created_at),
                amount: entry.amount,
                reference: entry.reference,
                description: entry.description,
                balance_after: entry.balance_after,
            })
            .collect(),
        adjustment_request_id: uuid::Uuid::new_v4().to_string(),
        refund_request_id: uuid::Uuid::new_v4().to_string(),
        row: row(detail.purchase, state.config.stripe.dashboard_base()),
    })
}
