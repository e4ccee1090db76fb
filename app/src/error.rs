//! The one error contract of the JSON API and the server functions.
//!
//! Every refusal has a machine code from the closed [`ErrorCode`] enum; the
//! code alone decides the HTTP status ([`ErrorCode::status`]). The JSON
//! routes answer an [`ApiError`] as `{"detail", "code"}` (see `docs/API.md`);
//! server functions return it through Leptos' custom server-function errors
//! (`FromServerFnError`), so pages match on `error.code`, never on text.
//! Service errors become an `ApiError` once, in `error::ssr` (server only).

use std::fmt;

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// What went wrong, for programs. Closed: a new refusal is a new variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // 400: a Stripe webhook or login that is not what it claims to be.
    /// A webhook's body that cannot be read or is not a Stripe event.
    InvalidPayload,
    MissingSignature,
    InvalidSignature,
    StaleSignature,
    /// The login could not be completed (state, code or provider refusal).
    LoginFailed,
    // 401
    NotAuthenticated,
    InvalidToken,
    // 402
    InsufficientCredits,
    // 403
    Forbidden,
    CrossSiteRequest,
    // 404
    NotFound,
    UnknownPackage,
    UnknownSession,
    UnknownPurchase,
    UnknownUser,
    UnknownSubscription,
    NoSubscription,
    UnknownHold,
    UnknownTier,
    // 405
    MethodNotAllowed,
    // 409: the request is fine, the state does not allow it.
    NotRefundable,
    DuplicateCode,
    NotInReview,
    RequestIdReused,
    BalanceTooLow,
    AlreadySubscribed,
    SamePlan,
    NotCanceling,
    AlreadyCanceling,
    SubscriptionEnded,
    PlanNotChangeable,
    ReconcileRunning,
    HoldNotOpen,
    HoldExpired,
    // 413
    PayloadTooLarge,
    // 422: bad input: a body that is not the JSON the endpoint takes, or
    // that breaks a rule, a bad query or path, a missing header.
    InvalidBody,
    /// A body sent as something other than the endpoint's content type.
    UnsupportedMediaType,
    /// A wallet request without its `Idempotency-Key` header.
    MissingIdempotencyKey,
    InvalidQuery,
    InvalidPath,
    InvalidRedirect,
    InvalidAmount,
    InvalidPackage,
    InvalidOrder,
    InvalidAdjustment,
    InvalidAction,
    InvalidPlan,
    InvalidAllowance,
    InvalidPromotion,
    /// An `Idempotency-Key` first used with another request.
    IdempotencyKeyReused,
    // 429
    RateLimited,
    // 500
    InternalError,
    // 502
    StripeUnavailable,
    StripeRefused,
    // 503
    DatabaseUnavailable,
    IdentityProviderUnavailable,
}

impl ErrorCode {
    /// The HTTP status this code is always answered with.
    pub const fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            InvalidPayload | MissingSignature | InvalidSignature | StaleSignature | LoginFailed => {
                400
            }
            NotAuthenticated | InvalidToken => 401,
            InsufficientCredits => 402,
            Forbidden | CrossSiteRequest => 403,
            NotFound | UnknownPackage | UnknownSession | UnknownPurchase | UnknownUser
            | UnknownSubscription | NoSubscription | UnknownHold | UnknownTier => 404,
            MethodNotAllowed => 405,
            NotRefundable | DuplicateCode | NotInReview | RequestIdReused | BalanceTooLow
            | AlreadySubscribed | SamePlan | NotCanceling | AlreadyCanceling
            | SubscriptionEnded | PlanNotChangeable | ReconcileRunning | HoldNotOpen
            | HoldExpired => 409,
            PayloadTooLarge => 413,
            InvalidBody
            | UnsupportedMediaType
            | MissingIdempotencyKey
            | InvalidQuery
            | InvalidPath
            | InvalidRedirect
            | InvalidAmount
            | InvalidPackage
            | InvalidOrder
            | InvalidAdjustment
            | InvalidAction
            | InvalidPlan
            | InvalidAllowance
            | InvalidPromotion
            | IdempotencyKeyReused => 422,
            RateLimited => 429,
            InternalError => 500,
            StripeUnavailable | StripeRefused => 502,
            DatabaseUnavailable | IdentityProviderUnavailable => 503,
        }
    }

    /// The code as it appears on the wire (`"not_authenticated"`).
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidPayload => "invalid_payload",
            MissingSignature => "missing_signature",
            InvalidSignature => "invalid_signature",
            StaleSignature => "stale_signature",
            LoginFailed => "login_failed",
            MissingIdempotencyKey => "missing_idempotency_key",
            NotAuthenticated => "not_authenticated",
            InvalidToken => "invalid_token",
            InsufficientCredits => "insufficient_credits",
            Forbidden => "forbidden",
            CrossSiteRequest => "cross_site_request",
            NotFound => "not_found",
            UnknownPackage => "unknown_package",
            UnknownSession => "unknown_session",
            UnknownPurchase => "unknown_purchase",
            UnknownUser => "unknown_user",
            UnknownSubscription => "unknown_subscription",
            NoSubscription => "no_subscription",
            UnknownHold => "unknown_hold",
            UnknownTier => "unknown_tier",
            MethodNotAllowed => "method_not_allowed",
            NotRefundable => "not_refundable",
            DuplicateCode => "duplicate_code",
            NotInReview => "not_in_review",
            RequestIdReused => "request_id_reused",
            PayloadTooLarge => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            InvalidBody => "invalid_body",
            InvalidQuery => "invalid_query",
            InvalidPath => "invalid_path",
            InvalidRedirect => "invalid_redirect",
            InvalidAmount => "invalid_amount",
            InvalidPackage => "invalid_package",
            InvalidOrder => "invalid_order",
            InvalidAdjustment => "invalid_adjustment",
            InvalidAction => "invalid_action",
            BalanceTooLow => "balance_too_low",
            AlreadySubscribed => "already_subscribed",
            SamePlan => "same_plan",
            NotCanceling => "not_canceling",
            AlreadyCanceling => "already_canceling",
            SubscriptionEnded => "subscription_ended",
            PlanNotChangeable => "plan_not_changeable",
            ReconcileRunning => "reconcile_running",
            HoldNotOpen => "hold_not_open",
            HoldExpired => "hold_expired",
            InvalidPlan => "invalid_plan",
            InvalidAllowance => "invalid_allowance",
            InvalidPromotion => "invalid_promotion",
            IdempotencyKeyReused => "idempotency_key_reused",
            RateLimited => "rate_limited",
            InternalError => "internal_error",
            StripeUnavailable => "stripe_unavailable",
            StripeRefused => "stripe_refused",
            DatabaseUnavailable => "database_unavailable",
            IdentityProviderUnavailable => "identity_provider_unavailable",
        }
    }

    /// Whether the caller is at fault (4xx) rather than us or a peer (5xx).
    pub const fn is_client_error(self) -> bool {
        self.status() < 500
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal as the caller sees it: `{"detail", "code"}`, plus the seconds
/// to wait for `rate_limited` (also sent as `Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub detail: String,
    pub code: ErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A refusal with a message for people. In a server function this also
    /// sets the response's status from the code.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        #[cfg(feature = "ssr")]
        ssr::set_status(code);
        ApiError {
            detail: detail.into(),
            code,
            retry_after: None,
        }
    }

    pub fn not_authenticated() -> Self {
        Self::new(
            ErrorCode::NotAuthenticated,
            "Log in, or send an access token in the Authorization header.",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "You are not allowed to do this.")
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut error = Self::new(
            ErrorCode::RateLimited,
            format!("Too many requests. Please wait {retry_after_secs} seconds and try again."),
        );
        error.retry_after = Some(retry_after_secs);
        #[cfg(feature = "ssr")]
        ssr::set_retry_after(retry_after_secs);
        error
    }

    /// Our fault or a peer's: a generic message; the cause is logged by
    /// [`ssr::internal`] where it happened, never sent.
    pub fn internal() -> Self {
        Self::new(
            ErrorCode::InternalError,
            "Something went wrong on our side. Please try again.",
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.detail, self.code)
    }
}

impl std::error::Error for ApiError {}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    /// Failures of the server-function machinery itself: arguments that do
    /// not decode are the caller's (422); a request that never reached us
    /// is said as such in the browser; anything else is ours.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(reason) | ServerFnErrorErr::MissingArg(reason) => {
                ApiError::new(ErrorCode::InvalidBody, format!("Invalid input: {reason}"))
            }
            ServerFnErrorErr::Request(_) => ApiError::new(
                ErrorCode::InternalError,
                "The server could not be reached. Please check your connection and try again.",
            ),
            other => {
                #[cfg(feature = "ssr")]
                tracing::error!(error = %other, "server function failed");
                #[cfg(not(feature = "ssr"))]
                let _ = other;
                ApiError::internal()
            }
        }
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! Server side: the status of a server function's response, the cause
    //! chain of what went wrong, and each service error's one reading.

    use leptos::prelude::use_context;

    use super::{ApiError, ErrorCode};

    /// Sets the status of the server function response being built, if any
    /// (a JSON route has no Leptos context: there the route answers it).
    pub(super) fn set_status(code: ErrorCode) {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
            && let Ok(status) = http::StatusCode::from_u16(code.status())
        {
            response.set_status(status);
        }
    }

    /// `Retry-After` on the server function response being built, if any.
    pub(super) fn set_retry_after(secs: u64) {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
    }

    pub use backend::error_chain;

    /// Logs `error` with its cause chain, once, and answers a 5xx `code`
    /// (`internal_error`, `stripe_unavailable`, …) with a safe message.
    pub fn internal(code: ErrorCode, error: &dyn std::error::Error) -> ApiError {
        tracing::error!(
            code = code.as_str(),
            error = error_chain(error),
            "request failed"
        );
        match code {
            ErrorCode::StripeUnavailable => ApiError::new(
                code,
                "Stripe could not be reached. Nothing was charged; please try again in a moment.",
            ),
            ErrorCode::DatabaseUnavailable => ApiError::new(
                code,
                "The service is temporarily unavailable. Please try again shortly.",
            ),
            ErrorCode::IdentityProviderUnavailable => ApiError::new(
                code,
                "The login service is not reachable. Please try again shortly.",
            ),
            code if code.is_client_error() => ApiError::internal(),
            code => ApiError::new(code, "Something went wrong on our side. Please try again."),
        }
    }

    /// A database failure: unavailable when the pool could not reach it,
    /// else ours.
    pub fn database(error: &sqlx::Error) -> ApiError {
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                internal(ErrorCode::DatabaseUnavailable, error)
            }
            _ => internal(ErrorCode::InternalError, error),
        }
    }

    impl From<sqlx::Error> for ApiError {
        fn from(error: sqlx::Error) -> Self {
            database(&error)
        }
    }

    impl From<backend::auth::AuthError> for ApiError {
        fn from(error: backend::auth::AuthError) -> Self {
            use backend::auth::AuthError;
            match error {
                AuthError::InvalidToken(reason) | AuthError::RefreshRefused(reason) => {
                    tracing::info!(%reason, "credentials refused");
                    ApiError::new(
                        ErrorCode::InvalidToken,
                        "The access token is invalid or expired.",
                    )
                }
                AuthError::LoginRefused(reason) => {
                    tracing::info!(%reason, "login refused by the provider");
                    ApiError::new(
                        ErrorCode::LoginFailed,
                        "The login could not be completed. Please log in again.",
                    )
                }
                AuthError::ProviderUnavailable(ref reason) => {
                    tracing::warn!(%reason, "identity provider unavailable");
                    internal(ErrorCode::IdentityProviderUnavailable, &error)
                }
                AuthError::Database(ref source) => database(source),
                other => internal(ErrorCode::InternalError, &other),
            }
        }
    }

    impl From<backend::checkout::CheckoutError> for ApiError {
        fn from(error: backend::checkout::CheckoutError) -> Self {
            use backend::checkout::CheckoutError;
            match error {
                CheckoutError::UnknownPackage(_) => ApiError::new(
                    ErrorCode::UnknownPackage,
                    "This package is not on sale. Please reload the page to see what is.",
                ),
                CheckoutError::RateLimited(limited) => ApiError::from(limited),
                CheckoutError::ForeignRedirect(..) => {
                    ApiError::new(ErrorCode::InvalidRedirect, error.to_string())
                }
                CheckoutError::UnknownSession => ApiError::new(
                    ErrorCode::UnknownSession,
                    "There is no such checkout session for you.",
                ),
                CheckoutError::Stripe(_) => internal(ErrorCode::StripeUnavailable, &error),
                other => internal(ErrorCode::InternalError, &other),
            }
        }
    }

    impl From<backend::subscriptions::SubscriptionError> for ApiError {
        fn from(error: backend::subscriptions::SubscriptionError) -> Self {
            use backend::subscriptions::SubscriptionError as E;
            let code = match error {
                E::UnknownTier(_) | E::UnknownCycle { .. } => ErrorCode::InvalidPlan,
                E::AlreadySubscribed => ErrorCode::AlreadySubscribed,
                E::NoSubscription => ErrorCode::NoSubscription,
                E::UnknownSubscription => ErrorCode::UnknownSubscription,
                E::Ended => ErrorCode::SubscriptionEnded,
                E::NotCanceling => ErrorCode::NotCanceling,
                E::AlreadyCanceling => ErrorCode::AlreadyCanceling,
                E::SamePlan => ErrorCode::SamePlan,
                E::NotChangeable => ErrorCode::PlanNotChangeable,
                E::BadProrationDate => ErrorCode::InvalidBody,
                E::InvalidAllowance => ErrorCode::InvalidAllowance,
                E::RateLimited(limited) => return limited.into(),
                E::Checkout(inner) => return inner.into(),
                E::Database(ref source) => return database(source),
                E::Stripe(backend::stripe::StripeError::Rejected { ref message, .. }) => {
                    tracing::warn!(%message, "Stripe refused a subscription request");
                    return ApiError::new(
                        ErrorCode::StripeRefused,
                        format!("Stripe refused the request: {message}"),
                    );
                }
                E::Stripe(_) | E::Sync { .. } => {
                    return internal(ErrorCode::StripeUnavailable, &error);
                }
                E::NotInStripe(_) | E::Corrupt(_) => {
                    return internal(ErrorCode::InternalError, &error);
                }
            };
            ApiError::new(code, sentence(&error))
        }
    }

    /// A service error's message as a sentence: capitalised, with a full stop.
    fn sentence(error: &dyn std::error::Error) -> String {
        let text = error.to_string();
        let mut chars = text.chars();
        let mut sentence: String = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => return text,
        };
        if !sentence.ends_with('.') {
            sentence.push('.');
        }
        sentence
    }

    fn unknown_purchase() -> ApiError {
        ApiError::new(ErrorCode::UnknownPurchase, "There is no such purchase.")
    }

    /// Stripe could not be reached for a refund: logged, 502, and said so.
    fn refund_unreachable(error: &dyn std::error::Error) -> ApiError {
        let mut refused = internal(ErrorCode::StripeUnavailable, error);
        refused.detail =
            "Stripe could not be reached; nothing was refunded. Please try again.".into();
        refused
    }

    impl From<backend::admin::AdminError> for ApiError {
        fn from(error: backend::admin::AdminError) -> Self {
            use backend::admin::AdminError;
            match error {
                AdminError::InvalidQuery(detail) => ApiError::new(ErrorCode::InvalidQuery, detail),
                AdminError::CursorMismatch => ApiError::new(
                    ErrorCode::InvalidQuery,
                    "cursor belongs to another sort order; start again from the first page.",
                ),
                AdminError::UnknownPurchase(_) => unknown_purchase(),
                AdminError::Database(ref source) => database(source),
                other => internal(ErrorCode::InternalError, &other),
            }
        }
    }

    impl From<backend::admin::RefundError> for ApiError {
        fn from(error: backend::admin::RefundError) -> Self {
            use backend::admin::RefundError;
            let code = match error {
                RefundError::NotFound(_) => return unknown_purchase(),
                RefundError::NotRefundable(_) | RefundError::NoPayment => ErrorCode::NotRefundable,
                RefundError::ZeroAmount | RefundError::TooMuch { .. } => ErrorCode::InvalidAmount,
                RefundError::StripeRefused { .. } => ErrorCode::StripeRefused,
                RefundError::RequestIdReused => ErrorCode::RequestIdReused,
                RefundError::Stripe(_) => return refund_unreachable(&error),
                RefundError::RateLimited(limited) => return limited.into(),
                RefundError::Database(ref source) => return database(source),
                _ => return internal(ErrorCode::InternalError, &error),
            };
            ApiError::new(code, sentence(&error))
        }
    }

    impl From<backend::wallet::WalletError> for ApiError {
        fn from(error: backend::wallet::WalletError) -> Self {
            match error {
                backend::wallet::WalletError::Database(ref source) => database(source),
                other => internal(ErrorCode::InternalError, &other),
            }
        }
    }

    impl From<backend::wallet::PromotionError> for ApiError {
        fn from(error: backend::wallet::PromotionError) -> Self {
            use backend::wallet::PromotionError as E;
            match error {
                E::Amount { .. } | E::ExpiryInPast => {
                    ApiError::new(ErrorCode::InvalidPromotion, sentence(&error))
                }
                E::UnknownUser(_) => {
                    ApiError::new(ErrorCode::UnknownUser, "There is no such user.")
                }
                E::UnknownTier(_) => ApiError::new(ErrorCode::UnknownTier, sentence(&error)),
                E::Database(ref source) => database(source),
            }
        }
    }

    impl From<backend::admin::ReviewError> for ApiError {
        fn from(error: backend::admin::ReviewError) -> Self {
            use backend::admin::ReviewError;
            let code = match error {
                ReviewError::NotFound(_) => return unknown_purchase(),
                ReviewError::NotInReview(_) => ErrorCode::NotInReview,
                ReviewError::NoPayment => ErrorCode::NotRefundable,
                ReviewError::StripeRefused { .. } => ErrorCode::StripeRefused,
                ReviewError::Stripe(_) => return refund_unreachable(&error),
                ReviewError::Database(ref source) => return database(source),
                _ => return internal(ErrorCode::InternalError, &error),
            };
            ApiError::new(code, sentence(&error))
        }
    }

    impl From<backend::admin::AdjustmentError> for ApiError {
        fn from(error: backend::admin::AdjustmentError) -> Self {
            use backend::admin::AdjustmentError;
            let code = match error {
                AdjustmentError::UnknownUser(_) => {
                    return ApiError::new(ErrorCode::UnknownUser, "There is no such user.");
                }
                AdjustmentError::ZeroAmount
                | AdjustmentError::TooLarge
                | AdjustmentError::BalanceTooHigh { .. }
                | AdjustmentError::ReasonRequired
                | AdjustmentError::ReasonTooLong => ErrorCode::InvalidAdjustment,
                AdjustmentError::WouldGoNegative { .. } => ErrorCode::BalanceTooLow,
                AdjustmentError::RateLimited(limited) => return limited.into(),
                AdjustmentError::Database(ref source) => return database(source),
            };
            ApiError::new(code, sentence(&error))
        }
    }

    impl From<backend::packages::CatalogueError> for ApiError {
        fn from(error: backend::packages::CatalogueError) -> Self {
            use backend::packages::CatalogueError;
            let code = match error {
                CatalogueError::Invalid(_) => ErrorCode::InvalidPackage,
                CatalogueError::DuplicateCode(_) => ErrorCode::DuplicateCode,
                CatalogueError::NotFound(_) => {
                    return ApiError::new(ErrorCode::UnknownPackage, "There is no such package.");
                }
                CatalogueError::IncompleteOrder => ErrorCode::InvalidOrder,
                CatalogueError::Stripe(_) => {
                    let mut refused = internal(ErrorCode::StripeUnavailable, &error);
                    refused.detail =
                        "Stripe could not be updated; nothing was changed. Please try again."
                            .into();
                    return refused;
                }
                CatalogueError::Database(ref source) => return database(source),
                _ => return internal(ErrorCode::InternalError, &error),
            };
            ApiError::new(code, error.to_string())
        }
    }

    impl From<backend::packages::PackageError> for ApiError {
        fn from(error: backend::packages::PackageError) -> Self {
            match error {
                backend::packages::PackageError::Database(ref source) => database(source),
                other => internal(ErrorCode::InternalError, &other),
            }
        }
    }

    impl From<backend::rate_limit::RateLimited> for ApiError {
        fn from(limited: backend::rate_limit::RateLimited) -> Self {
            ApiError::rate_limited(limited.retry_after_secs())
        }
    }

    impl axum::response::IntoResponse for ApiError {
        fn into_response(self) -> axum::response::Response {
            let status = http::StatusCode::from_u16(self.code.status())
                .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
            let retry_after = self.retry_after;
            let mut response = (status, axum::Json(self)).into_response();
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, secs.into());
            }
            response
        }
    }

    impl From<axum::extract::rejection::JsonRejection> for ApiError {
        fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
            use axum::extract::rejection::JsonRejection;
            match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "Send the body as JSON with Content-Type: application/json.",
                ),
                JsonRejection::JsonDataError(error) => {
                    ApiError::new(ErrorCode::InvalidBody, error.body_text())
                }
                JsonRejection::JsonSyntaxError(error) => {
                    ApiError::new(ErrorCode::InvalidBody, error.body_text())
                }
                other if other.status() == http::StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::new(ErrorCode::PayloadTooLarge, "The body is too large.")
                }
                other => ApiError::new(ErrorCode::InvalidBody, other.body_text()),
            }
        }
    }

    impl From<axum::extract::rejection::FormRejection> for ApiError {
        fn from(rejection: axum::extract::rejection::FormRejection) -> Self {
            use axum::extract::rejection::FormRejection;
            match rejection {
                FormRejection::InvalidFormContentType(_) => ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "Send the form as application/x-www-form-urlencoded.",
                ),
                other => ApiError::new(ErrorCode::InvalidBody, other.body_text()),
            }
        }
    }

    impl From<axum::extract::rejection::QueryRejection> for ApiError {
        fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
            ApiError::new(ErrorCode::InvalidQuery, rejection.body_text())
        }
    }

    impl From<axum::extract::rejection::PathRejection> for ApiError {
        fn from(rejection: axum::extract::rejection::PathRejection) -> Self {
            tracing::debug!(%rejection, "path refused");
            ApiError::new(ErrorCode::NotFound, "There is no such resource.")
        }
    }
}
