//! `GET /credits/admin/purchases`: every user's purchases, newest first (admins).

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
};
use backend::{
    AppState,
    admin::{AdminPurchase, PurchaseFilter},
    ids::{PurchaseId, UserId},
};
use chrono::{DateTime, Utc};
use domain::PurchaseStatus;
use serde::{Deserialize, Serialize};

use crate::{auth::AdminUser, error::AppError};

const MAX_LIMIT: i64 = 500;

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    status: Option<String>,
}

#[derive(Serialize)]
pub struct AdminPurchaseView {
    id: PurchaseId,
    user_id: UserId,
    user_email: Option<String>,
    package_name: String,
    amount_credits: i64,
    /// Dollars, as a JSON number.
    amount_paid: f64,
    status: PurchaseStatus,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    stripe_session_id: Option<String>,
    stripe_payment_id: Option<String>,
}

impl From<AdminPurchase> for AdminPurchaseView {
    fn from(p: AdminPurchase) -> Self {
        AdminPurchaseView {
            id: p.id,
            user_id: p.user_id,
            user_email: p.user_email,
            package_name: p.package_name,
            amount_credits: p.amount_credits.get(),
            amount_paid: p.amount_paid.get() as f64 / 100.0,
            status: p.status,
            created_at: p.created_at,
            completed_at: p.completed_at,
            stripe_session_id: p.stripe_session_id,
            stripe_payment_id: p.stripe_payment_id,
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<AdminPurchaseView>>, AppError> {
    let Query(query) = query.map_err(|e| invalid(format!("Bad query parameters: {e}")))?;
    let filter = parse_filter(query)?;
    let purchases = backend::admin::list_purchases(&state.pool, &filter)
        .await
        .map_err(|e| AppError::internal("admin_purchases_failed", e))?;
    Ok(Json(purchases.into_iter().map(Into::into).collect()))
}

fn parse_filter(query: ListQuery) -> Result<PurchaseFilter, AppError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(invalid(format!("limit must be between 1 and {MAX_LIMIT}.")));
    }
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(invalid("offset must not be negative.".into()));
    }
    let status = match query.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(text.parse::<PurchaseStatus>().map_err(|_| {
            let known: Vec<_> = PurchaseStatus::ALL.iter().map(|s| s.as_str()).collect();
            invalid(format!("status must be one of: {}.", known.join(", ")))
        })?),
    };
    Ok(PurchaseFilter {
        limit,
        offset,
        status,
    })
}

fn invalid(detail: String) -> AppError {
    AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", detail)
}
