//! `POST /credits/admin/users/{user_id}/adjustments` (admins):
//! `{"amount": -500, "reason": "Goodwill for the outage", "request_id": "<uuid>"}`
//! adds (positive) or removes (negative) credits with a required reason; a
//! ledger entry and an audit row. `request_id` (optional, a UUID) makes a
//! retry apply once: the same id answers with the first result, `applied: false`.

use axum::{
    Json,
    extract::{
        Path, State,
        rejection::{JsonRejection, PathRejection},
    },
    http::StatusCode,
};
use backend::{
    AppState,
    admin::{self, AdjustmentReason, CreditAdjustment},
    ids::UserId,
    wallet::{self, NewPromotion, PromotionTarget},
};
use domain::Credits;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::invalid_body;
use crate::{
    auth::AdminUser,
    error::{AppError, ErrorCode},
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentRequest {
    amount: i64,
    reason: String,
    request_id: Option<Uuid>,
}

#[derive(Serialize)]
pub struct AdjustmentView {
    ledger_id: i64,
    balance_after: i64,
    applied: bool,
}

pub async fn adjust(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    user: Result<Path<UserId>, PathRejection>,
    body: Result<Json<AdjustmentRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<AdjustmentView>), AppError> {
    let Path(user) =
        user.map_err(|_| AppError::new(ErrorCode::UnknownUser, "There is no such user."))?;
    let Json(request) = body.map_err(invalid_body)?;
    let adjustment = CreditAdjustment {
        user,
        amount: Credits::signed(request.amount),
        reason: AdjustmentReason::parse(&request.reason)?,
        request_id: request.request_id.unwrap_or_else(Uuid::new_v4),
    };
    let outcome = admin::adjust(&state, admin.id, &adjustment).await?;
    let status = if outcome.applied {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(AdjustmentView {
            ledger_id: outcome.ledger_id,
            balance_after: outcome.balance_after.get(),
            applied: outcome.applied,
        }),
    ))
}

/// `POST /credits/admin/promotions` (admins):
/// `{"user_id": "<uuid>" | "tier": "professional", "amount": 500,
///   "reason": "Launch week", "expires_at": "2027-01-31T00:00:00Z",
///   "request_id": "<uuid>"}`: promotional credits for one user or for every
/// live subscriber of a tier, expiring at `expires_at` (optional).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionRequest {
    user_id: Option<UserId>,
    tier: Option<String>,
    amount: i64,
    reason: String,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    request_id: Option<Uuid>,
}

#[derive(Serialize)]
pub struct PromotionView {
    users: u64,
    amount_each: i64,
}

pub async fn promote(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    body: Result<Json<PromotionRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<PromotionView>), AppError> {
    let Json(request) = body.map_err(invalid_body)?;
    let target = match (request.user_id, request.tier) {
        (Some(user), None) => PromotionTarget::User(user),
        (None, Some(tier)) => PromotionTarget::Tier(tier),
        _ => {
            return Err(AppError::new(
                ErrorCode::InvalidPromotion,
                "Name either one user (user_id) or one tier (tier).",
            ));
        }
    };
    let promotion = NewPromotion {
        target,
        amount: Credits::signed(request.amount),
        reason: AdjustmentReason::parse(&request.reason)?,
        expires_at: request.expires_at,
        request_id: request.request_id.unwrap_or_else(Uuid::new_v4),
    };
    let done = wallet::grant_promotional(&state.pool, admin.id, &promotion).await?;
    Ok((
        StatusCode::CREATED,
        Json(PromotionView {
            users: done.users,
            amount_each: done.amount_each,
        }),
    ))
}
