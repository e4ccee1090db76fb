//! Rate-limited requests are refused with 429 `rate_limited` and
//! `Retry-After` (seconds): `backend::rate_limit::RateLimited` becomes an
//! `ApiError` through `From`, so a handler just uses `?`.

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::{
        http::{StatusCode, header::RETRY_AFTER},
        response::IntoResponse,
    };
    use backend::rate_limit::RateLimited;

    use crate::error::AppError;

    #[tokio::test]
    async fn a_refusal_is_429_json_with_retry_after() {
        let response = AppError::from(RateLimited {
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
