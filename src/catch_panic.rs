//! The last line of defence: a panic while handling a request answers 500
//! `{"detail", "code": "internal_error"}` and is logged, instead of dropping
//! the connection.

use std::any::Any;

use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::{AppError, ErrorCode};

type PanicHandler = fn(Box<dyn Any + Send + 'static>) -> Response;

/// The outermost layer of the router.
pub fn layer() -> CatchPanicLayer<PanicHandler> {
    CatchPanicLayer::custom(panic_response as PanicHandler)
}

/// Logs the panic's message and answers 500 in the JSON error contract.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
    AppError::new(
        ErrorCode::InternalError,
        "Something went wrong on our side. Please try again.",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use axum::{
        Router,
        body::Body,
        http::{Request, StatusCode},
        routing::get,
    };
    use tower::ServiceExt;

    use super::*;

    async fn json(response: Response) -> serde_json::Value {
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    #[tokio::test]
    async fn a_panic_payload_becomes_a_json_500() {
        for payload in [
            Box::new("boom") as Box<dyn Any + Send>,
            Box::new(String::from("boom")),
            Box::new(42_u8),
        ] {
            let response = panic_response(payload);
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
            let body = json(response).await;
            assert_eq!(body["code"], "internal_error");
            assert!(body["detail"].is_string());
        }
    }

    #[tokio::test]
    async fn a_panicking_handler_is_answered_not_dropped() {
        async fn explode() -> &'static str {
            panic!("a handler bug")
        }
        let router = Router::new()
            .route("/explode", get(explode))
            .route("/fine", get(|| async { "fine" }))
            .layer(layer());
        let response = router
            .clone()
            .oneshot(Request::get("/explode").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(json(response).await["code"], "internal_error");
        let response = router
            .oneshot(Request::get("/fine").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
