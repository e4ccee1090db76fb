//! The JSON API under `/api/v1/billing` (DESIGN.md §4). Add routes here;
//! handlers authenticate with `CurrentUser` / `AdminUser` (session cookie or
//! bearer token) and answer errors as `{"detail", "code"}`.

mod admin_purchases;
mod balance;
mod credits;
mod credits_webhook;

use axum::{
    Router,
    http::StatusCode,
    routing::{get, post},
};

use crate::{error::AppError, startup::ServerState};

/// Mounted at [`BASE`] by the router.
pub const BASE: &str = "/api/v1/billing";

pub fn router() -> Router<ServerState> {
    Router::new()
        .route("/credits/balance", get(balance::balance))
        .route("/credits/admin/purchases", get(admin_purchases::list))
        .route("/credits/webhook", post(credits_webhook::receive))
        .route("/credits/packages", get(credits::list_packages))
        .route("/credits/purchase", post(credits::purchase))
        .route("/credits/history", get(credits::history))
        .route(
            "/credits/checkout/{session_id}/confirm",
            post(credits::confirm),
        )
        .fallback(not_found)
}

async fn not_found() -> AppError {
    AppError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "There is no such API endpoint.",
    )
}
