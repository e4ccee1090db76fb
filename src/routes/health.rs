use std::time::Duration;

use axum::{Json, extract::State};
use backend::AppState;
use serde_json::{Value, json};

use crate::error::{AppError, ErrorCode};

/// The process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    if backend::db::is_reachable(&state.pool, Duration::from_secs(2)).await {
        Ok(Json(json!({ "status": "ready", "database": "ok" })))
    } else {
        Err(AppError::new(
            ErrorCode::DatabaseUnavailable,
            "The database is not reachable.",
        ))
    }
}
