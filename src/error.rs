//! The one error type at the HTTP edge: `app::error::ApiError`, whose
//! closed `ErrorCode` picks the status (see `docs/API.md`). Internal detail
//! is logged once, with its cause chain, where it is turned into an
//! `ApiError`, and never sent.

pub use app::error::{ApiError as AppError, ErrorCode, ssr::error_chain};

/// Our fault: logged with its cause chain; the caller gets `internal_error`.
pub fn internal(error: impl std::error::Error + 'static) -> AppError {
    app::error::ssr::internal(ErrorCode::InternalError, &error)
}

/// A peer's fault (Stripe, the database, the identity provider): logged
/// with its cause chain; the caller gets `code` (a 502 or 503).
pub fn upstream(code: ErrorCode, error: impl std::error::Error + 'static) -> AppError {
    app::error::ssr::internal(code, &error)
}
