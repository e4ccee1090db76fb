//! The edge's answer to a rate-limited request (`backend::rate_limit`):
//! 429 `{"detail", "code": "rate_limited"}` with `Retry-After` in seconds.

use axum::{
    http::{HeaderValue, StatusCode, header::RETRY_AFTER},
    response::{IntoResponse, Response},
};
use backend::rate_limit::RateLimited;

use crate::error::AppError;

/// What a rate-limited handler answers when it fails: its usual error, or
/// 429 when the caller is over the limit.
#[derive(Debug)]
pub enum LimitedError {
    App(AppError),
    RateLimited(RateLimited),
}

impl From<AppError> for LimitedError {
    fn from(error: AppError) -> Self {
        LimitedError::App(error)
    }
}

impl From<RateLimited> for LimitedError {
    fn from(limited: RateLimited) -> Self {
        LimitedError::RateLimited(limited)
    }
}

impl IntoResponse for LimitedError {
    fn into_response(self) -> Response {
        match self {
            LimitedError::App(error) => error.into_response(),
            LimitedError::RateLimited(limited) => too_many_requests(limited),
        }
    }
}

/// 429 with `Retry-After` and the JSON error body.
pub fn too_many_requests(limited: RateLimited) -> Response {
    let secs = limited.retry_after_secs();
    let mut response = AppError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("Too many requests. Please wait {secs} seconds and try again."),
    )
    .into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs));
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_refusal_is_429_json_with_retry_after() {
        let response = LimitedError::from(RateLimited {
            retry_after: Duration::from_millis(2_300),
        })
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "3");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "rate_limited");
        assert!(body["detail"].as_str().unwrap().contains("3 seconds"));
    }
}
