//! The one error type at the HTTP edge: it picks the status and a safe
//! message; internal detail is logged once here and never sent.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;

#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    source: Option<anyhow::Error>,
}

/// The JSON body of every API error (DESIGN.md §4).
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub detail: &'a str,
    pub code: &'a str,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        AppError {
            status,
            code,
            detail: detail.into(),
            source: None,
        }
    }

    /// A failure the caller cannot fix; logged with its cause chain.
    pub fn internal(code: &'static str, source: impl Into<anyhow::Error>) -> Self {
        AppError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code,
            detail: "Something went wrong on our side. Please try again.".into(),
            source: Some(source.into()),
        }
    }

    /// The same error answered with another status (e.g. 502 for an upstream failure).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn unavailable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Some(source) = &self.source {
            tracing::error!(
                code = self.code,
                error = format!("{source:#}"),
                "request failed"
            );
        }
        let body = ErrorBody {
            detail: &self.detail,
            code: self.code,
        };
        (self.status, Json(body)).into_response()
    }
}
