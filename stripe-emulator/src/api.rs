//! Stripe's REST API under `/v1`: bearer `sk_test_…` auth, form bodies, `Idempotency-Key` replay.
//! The route table is here; each resource's handlers are in its file under `resources/`.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::error::ApiError;
use crate::resources::{
    billing_portal, charges, checkout_sessions, customers, disputes, events, invoices,
    payment_intents, payment_methods, prices, products, refunds, subscriptions,
};

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/products", post(products::create).get(products::list))
        .route(
            "/products/{id}",
            get(products::retrieve)
                .post(products::update)
                .delete(products::delete),
        )
        .route("/prices", post(prices::create).get(prices::list))
        .route("/prices/{id}", get(prices::retrieve).post(prices::update))
        .route("/customers", post(customers::create).get(customers::list))
        .route("/customers/search", get(customers::search))
        .route(
            "/customers/{id}",
            get(customers::retrieve)
                .post(customers::update)
                .delete(customers::delete),
        )
        .route(
            "/customers/{id}/payment_methods",
            get(customers::list_payment_methods),
        )
        .route(
            "/checkout/sessions",
            post(checkout_sessions::create).get(checkout_sessions::list),
        )
        .route("/checkout/sessions/{id}", get(checkout_sessions::retrieve))
        .route(
            "/checkout/sessions/{id}/line_items",
            get(checkout_sessions::line_items),
        )
        .route(
            "/checkout/sessions/{id}/expire",
            post(checkout_sessions::expire),
        )
        .route("/payment_methods", get(payment_methods::list))
        .route("/payment_methods/{id}", get(payment_methods::retrieve))
        .route("/payment_intents", get(payment_intents::list))
        .route("/payment_intents/{id}", get(payment_intents::retrieve))
        .route("/charges", get(charges::list))
        .route("/charges/{id}", get(charges::retrieve))
        .route("/refunds", post(refunds::create).get(refunds::list))
        .route("/refunds/{id}", get(refunds::retrieve))
        .route("/disputes", get(disputes::list))
        .route("/disputes/{id}", get(disputes::retrieve))
        .route("/subscriptions", get(subscriptions::list))
        .route(
            "/subscriptions/{id}",
            get(subscriptions::retrieve)
                .post(subscriptions::update)
                .delete(subscriptions::cancel),
        )
        .route("/invoices", get(invoices::list))
        .route("/invoices/create_preview", post(invoices::create_preview))
        .route("/invoices/{id}", get(invoices::retrieve))
        .route("/invoices/{id}/pay", post(invoices::pay))
        .route("/invoices/{id}/lines", get(invoices::lines))
        .route("/billing_portal/sessions", post(billing_portal::create))
        .route("/events", get(events::list))
        .route("/events/{id}", get(events::retrieve))
        .fallback(unknown_route)
        .layer(middleware::from_fn_with_state(state, idempotency))
        .layer(middleware::from_fn(authenticate))
}

async fn unknown_route(request: Request) -> ApiError {
    ApiError::no_such("route", request.uri().path())
        .with_code("resource_missing")
        .tap_message(format!(
            "Unrecognized request URL ({} {}). The Stripe emulator does not implement this endpoint.",
            request.method(),
            request.uri().path()
        ))
}

impl ApiError {
    fn tap_message(mut self, message: String) -> Self {
        self.message = message;
        self.param = None;
        self
    }
}

/// Requires `Authorization: Bearer sk_test_…`.
async fn authenticate(request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let basic = header
        .strip_prefix("Basic ")
        .and_then(|b| base64_decode(b.trim()))
        .map(|user| user.split(':').next().unwrap_or("").to_owned());
    let bearer = header.strip_prefix("Bearer ").map(|k| k.trim().to_owned());
    let Some(key) = bearer.or(basic) else {
        return ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        )
        .into_response();
    };
    if !key.starts_with("sk_test_") || key.len() <= "sk_test_".len() {
        let shown: String = key.chars().take(8).collect();
        return ApiError::unauthorized(format!(
            "Invalid API Key provided: {shown}****. The Stripe emulator accepts only test-mode secret keys (sk_test_…)."
        ))
        .into_response();
    }
    next.run(request).await
}

/// Standard base64 (curl's `-u sk_test_…:` sends Basic auth).
fn base64_decode(input: &str) -> Option<String> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in input.bytes().filter(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Same `Idempotency-Key` and same request → the first response again; a different request → 400.
async fn idempotency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(key) = request
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return next.run(request).await;
    };
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let _serial = state.idempotency_lock.lock().await;
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, 1 << 20).await else {
        return ApiError::invalid("Could not read the request body.", None).into_response();
    };
    let fingerprint = format!(
        "{} {}?{}\n{}",
        parts.method,
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        String::from_utf8_lossy(&body)
    );
    let cached = state.lock().idempotency.get(&key).cloned();
    if let Some((seen, status, bytes)) = cached {
        if seen != fingerprint {
            return ApiError::invalid(
                format!("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."),
                None,
            )
            .with_kind("idempotency_error")
            .into_response();
        }
        let mut response = Response::new(Body::from(bytes));
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        let headers = response.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
        if let Ok(v) = HeaderValue::from_str(&key) {
            headers.insert("idempotency-key", v);
        }
        return response;
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, 16 << 20).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if parts.status.as_u16() < 500 {
        state
            .lock()
            .idempotency
            .insert(key, (fingerprint, parts.status.as_u16(), bytes.to_vec()));
    }
    Response::from_parts(parts, Body::from(bytes))
}

impl ApiError {
    fn with_kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }
}
