//! The admin sync API (the `/admin/credits/sync` page's, as JSON):
//!
//! - `GET /credits/admin/sync`: open jobs per (system, user), counts, the
//!   last reconcile;
//! - `GET /credits/admin/users/{user_id}/sync`: one user's sync per system;
//! - `POST /credits/admin/sync/retry` `{"system": "keycloak", "user_id": "…"}`:
//!   a new job for them now (202);
//! - `POST /credits/admin/sync/retry-failed`: one for every failed (202);
//! - `POST /credits/admin/sync/reconcile`: a reconcile with Stripe now
//!   (409 `reconcile_running` while another instance runs one).

use app::admin::{SyncPageView, UserSyncView, sync_ssr};
use axum::{
    Json,
    extract::{
        Path, State,
        rejection::{JsonRejection, PathRejection},
    },
    http::StatusCode,
};
use backend::{AppState, ids::UserId, sync::reconcile};
use serde::Deserialize;
use serde_json::{Value, json};

use super::invalid_body;
use crate::{
    auth::AdminUser,
    error::{AppError, ErrorCode},
};

pub async fn page(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> Result<Json<SyncPageView>, AppError> {
    Ok(Json(sync_ssr::page(&state).await?))
}

pub async fn for_user(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    user: Result<Path<UserId>, PathRejection>,
) -> Result<Json<Vec<UserSyncView>>, AppError> {
    let Path(user) =
        user.map_err(|_| AppError::new(ErrorCode::UnknownUser, "There is no such user."))?;
    Ok(Json(sync_ssr::for_user(&state, user).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    system: String,
    user_id: String,
}

pub async fn retry(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    body: Result<Json<RetryRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let Json(request) = body.map_err(invalid_body)?;
    sync_ssr::retry(&state, &request.system, &request.user_id).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "retried": 1 }))))
}

pub async fn retry_failed(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let count = backend::sync::status::retry_failed(&state.pool, &state.outbox).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "retried": count }))))
}

/// Pending purchases of any age are looked at: settling one twice is
/// impossible, and an admin asking wants the answer now.
pub async fn reconcile(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> Result<Json<Value>, AppError> {
    match reconcile::run(&state, std::time::Duration::ZERO).await {
        Ok(Some(report)) => Ok(Json(json!({ "changes": report.changes }))),
        Ok(None) => Err(AppError::new(
            ErrorCode::ReconcileRunning,
            "Another instance is reconciling now; try again in a minute.",
        )),
        Err(reconcile::ReconcileError::Database(error)) => Err(error.into()),
        Err(reconcile::ReconcileError::Subscription(error)) => Err(error.into()),
        Err(reconcile::ReconcileError::Stripe(error)) => {
            Err(backend::subscriptions::SubscriptionError::Stripe(error).into())
        }
    }
}
