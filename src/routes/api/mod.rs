//! The JSON API under `/api/v1/billing` (docs/API.md). Add routes here;
//! handlers authenticate with `CurrentUser` / `AdminUser` (session cookie or
//! bearer token) and answer errors as `{"detail", "code"}`.

mod admin_packages;
mod admin_purchases;
mod admin_stats;
mod admin_sync;
mod admin_users;
mod billing;
mod credits;
mod credits_webhook;
mod money;
mod signed;
mod subscriptions_webhook;
mod wallet;

use axum::{
    Router,
    routing::{get, patch, post, put},
};

use crate::{
    error::{AppError, ErrorCode},
    startup::ServerState,
};

/// Mounted at [`BASE`] by the router.
pub const BASE: &str = "/api/v1/billing";

pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/credits/balance", get(wallet::balance))
        .route("/credits/spend", post(wallet::spend))
        .route("/credits/holds", post(wallet::hold))
        .route("/credits/holds/{id}/capture", post(wallet::capture))
        .route("/credits/holds/{id}/release", post(wallet::release))
        .route("/credits/transactions", get(wallet::transactions))
        .route("/credits/transactions/export", get(wallet::export))
        .route("/credits/admin/promotions", post(admin_users::promote))
        .route("/credits/admin/purchases", get(admin_purchases::list))
        .route(
            "/credits/admin/purchases/export",
            get(admin_purchases::export),
        )
        .route(
            "/credits/admin/purchases/{id}",
            get(admin_purchases::detail),
        )
        .route(
            "/credits/admin/purchases/{id}/refund",
            post(admin_purchases::refund),
        )
        .route(
            "/credits/admin/purchases/{id}/review",
            post(admin_purchases::review),
        )
        .route("/credits/admin/stats", get(admin_stats::stats))
        .route(
            "/credits/admin/users/{user_id}/adjustments",
            post(admin_users::adjust),
        )
        .route(
            "/credits/admin/packages",
            get(admin_packages::list).post(admin_packages::create),
        )
        .route(
            "/credits/admin/packages/order",
            put(admin_packages::reorder),
        )
        .route(
            "/credits/admin/packages/{id}",
            patch(admin_packages::update),
        )
        .route(
            "/credits/admin/packages/{id}/deactivate",
            post(admin_packages::deactivate),
        )
        .route("/credits/admin/sync", get(admin_sync::page))
        .route("/credits/admin/sync/retry", post(admin_sync::retry))
        .route(
            "/credits/admin/sync/retry-failed",
            post(admin_sync::retry_failed),
        )
        .route("/credits/admin/sync/reconcile", post(admin_sync::reconcile))
        .route(
            "/credits/admin/users/{user_id}/sync",
            get(admin_sync::for_user),
        )
        .route("/credits/admin/tiers", get(billing::admin_tiers))
        .route("/credits/admin/tiers/{tier}", patch(billing::set_allowance))
        .route("/credits/webhook", post(credits_webhook::receive))
        .route("/webhooks/stripe", post(subscriptions_webhook::receive))
        .route(
            "/webhooks/stripe/checkout",
            post(subscriptions_webhook::receive),
        )
        .route("/checkout/create", post(billing::checkout))
        .route("/portal/create", post(billing::portal))
        .route("/payment-methods", get(billing::payment_methods))
        .route("/subscription-status", get(billing::subscription_status))
        .route("/subscription/cancel", post(billing::cancel))
        .route("/subscription/resume", post(billing::resume))
        .route("/subscription/upgrade", post(billing::change))
        .route("/subscription/preview", post(billing::preview))
        .route("/invoices", get(billing::invoices))
        .route("/plans", get(billing::plans))
        .route("/credits/packages", get(credits::list_packages))
        .route("/credits/purchase", post(credits::purchase))
        .route("/credits/history", get(credits::history))
        .route(
            "/credits/checkout/{session_id}/confirm",
            post(credits::confirm),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn method_not_allowed() -> AppError {
    AppError::new(
        ErrorCode::MethodNotAllowed,
        "This endpoint does not take that HTTP method.",
    )
}

async fn not_found() -> AppError {
    AppError::new(ErrorCode::NotFound, "There is no such API endpoint.")
}

/// The admin routes' reading of a body that does not fit: 422
/// `invalid_body` with axum's reason, whatever the rejection (the admin
/// API's documented answer, kept apart from `crate::extract::Json`'s finer
/// 400/415 split).
pub(super) fn invalid_body(rejection: axum::extract::rejection::JsonRejection) -> AppError {
    AppError::new(
        ErrorCode::InvalidBody,
        format!("The request body is not valid: {}", rejection.body_text()),
    )
}
