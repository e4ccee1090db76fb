//! Cross-site request forgery guard for state-changing requests (server
//! functions, `/auth/logout`, purchases): a browser says where a request
//! comes from in `Sec-Fetch-Site` and `Origin`; a cross-site one is refused.
//! Requests that authenticate with a bearer token and carry no cookie are
//! not browser-driven and pass.

use axum::{
    extract::{Request, State},
    http::{
        HeaderMap, Method,
        header::{AUTHORIZATION, COOKIE, ORIGIN},
    },
    middleware::Next,
    response::{IntoResponse, Response},
};
use backend::AppState;

use crate::error::{AppError, ErrorCode};

pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_safe(request.method()) || is_bearer_only(&request) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let cross_site = is_cross_site(headers);
    let app_origin = state.config.app_base_url.origin().ascii_serialization();
    let foreign_origin = headers
        .get(ORIGIN)
        .is_some_and(|origin| origin.as_bytes() != app_origin.as_bytes());
    if cross_site || foreign_origin {
        tracing::warn!(
            method = %request.method(),
            path = request.uri().path(),
            "cross-site request refused"
        );
        return AppError::new(
            ErrorCode::CrossSiteRequest,
            "This request came from another site and was refused.",
        )
        .into_response();
    }
    next.run(request).await
}

/// The browser says the request comes from a page of another site.
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn is_bearer_only(request: &Request) -> bool {
    let headers = request.headers();
    !headers.contains_key(COOKIE)
        && headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "))
}
