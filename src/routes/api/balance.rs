//! `GET /credits/balance`: the caller's credit balance.

use axum::{Json, extract::State};
use backend::{AppState, ids::UserId};
use serde::Serialize;

use crate::{auth::CurrentUser, error::AppError};

#[derive(Serialize)]
pub struct BalanceView {
    balance: i64,
    user_id: UserId,
    email: Option<String>,
}

pub async fn balance(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<BalanceView>, AppError> {
    let balance = backend::ledger::balance(&state.pool, user.id)
        .await
        .map_err(crate::error::internal)?;
    Ok(Json(BalanceView {
        balance: balance.get(),
        user_id: user.id,
        email: user.email,
    }))
}
