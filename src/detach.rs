//! Requests that change state run to the end even if the client hangs up.
//!
//! axum drops the handler's future when its client disconnects. For a
//! request that writes (the Stripe webhook, checkout creation, confirmation,
//! refunds, adjustments, server functions, and later spends) that would stop
//! the work at an arbitrary `.await`. This layer runs every request whose
//! method is not safe (RFC 9110: anything but GET, HEAD, OPTIONS, TRACE) in
//! its own task through `backend::detach::Detached::run`; a disconnect
//! then only means the answer is not delivered. Reads stay cancellable: they
//! hold nothing worth finishing. GET paths that move money (the success-page
//! confirmation) detach their own work in `backend`.

use axum::{
    extract::{Request, State},
    http::Method,
    middleware::Next,
    response::Response,
};
use backend::AppState;
use tracing::Instrument;

pub async fn detach_unsafe_methods(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return next.run(request).await;
    }
    let span = tracing::Span::current();
    state.detached.run(next.run(request).instrument(span)).await
}
