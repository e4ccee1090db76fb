//! The user-facing credits API (docs/API.md): packages, purchase, history,
//! and confirming a checkout on return.

use std::time::{Duration, Instant};

use axum::{extract::State, http::HeaderName};
use backend::{
    AppState,
    checkout::{self, CheckoutError, ReturnUrls},
    ids::{CheckoutSessionId, PackageId, PurchaseId},
    packages::{self, CreditPackage},
    purchases::{self, PurchaseRecord},
    rate_limit::Limited,
    stripe::timing,
};
use domain::PackageCode;
use serde::{Deserialize, Serialize};

use crate::{
    auth::CurrentUser,
    error::{AppError, ErrorCode},
    extract::{Json, Path, Query},
};

#[derive(Serialize)]
pub struct PackageJson {
    id: PackageId,
    package_code: String,
    package_name: String,
    description: String,
    credits: i64,
    /// Dollars as an exact JSON number (`45.00`), kept for older clients.
    #[serde(serialize_with = "super::money::dollars")]
    price_usd: domain::Cents,
    price_cents: i64,
    discount_percentage: u8,
    is_active: bool,
    is_popular: bool,
    display_order: i32,
    stripe_price_id: Option<backend::ids::PriceId>,
    stripe_product_id: Option<backend::ids::ProductId>,
}

impl From<CreditPackage> for PackageJson {
    fn from(p: CreditPackage) -> Self {
        PackageJson {
            id: PackageId::from_uuid(p.id),
            package_code: p.code.to_string(),
            package_name: p.name,
            description: p.description,
            credits: p.credits.get(),
            price_usd: p.price,
            price_cents: p.price.get(),
            discount_percentage: p.discount_percentage,
            is_active: p.is_active,
            is_popular: p.is_popular,
            display_order: p.display_order,
            stripe_price_id: p.stripe_price_id,
            stripe_product_id: p.stripe_product_id,
        }
    }
}

#[derive(Deserialize)]
pub struct PackagesQuery {
    #[serde(default)]
    include_inactive: bool,
}

/// `GET /credits/packages`: active packages in display order; admins may ask for all.
pub async fn list_packages(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(query): Query<PackagesQuery>,
) -> Result<Json<Vec<PackageJson>>, AppError> {
    let packages = if query.include_inactive {
        if !user.is_admin {
            return Err(crate::auth::forbidden());
        }
        packages::list_all(&state.pool).await
    } else {
        packages::list_active(&state.pool).await
    }
    .map_err(crate::error::internal)?;
    Ok(Json(packages.into_iter().map(PackageJson::from).collect()))
}

#[derive(Deserialize)]
pub struct PurchaseRequest {
    package_code: String,
    success_url: Option<String>,
    cancel_url: Option<String>,
}

#[derive(Serialize)]
pub struct PurchaseResponse {
    checkout_url: String,
    session_id: String,
}

/// `POST /credits/purchase`: a pending purchase and its Checkout Session.
pub async fn purchase(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(request): Json<PurchaseRequest>,
) -> Result<([(HeaderName, String); 1], Json<PurchaseResponse>), AppError> {
    let started = Instant::now();
    // A code that cannot be one is a package we do not sell.
    let code = PackageCode::parse(request.package_code.as_str())
        .map_err(|_| CheckoutError::UnknownPackage(request.package_code.clone()))?;
    let (redirect, in_stripe) = timing::measured(checkout::buy(
        &state,
        &user,
        &code,
        ReturnUrls {
            success: request.success_url.as_deref(),
            cancel: request.cancel_url.as_deref(),
        },
    ))
    .await;
    let redirect = redirect?;
    Ok((
        [(SERVER_TIMING, server_timing(in_stripe, started.elapsed()))],
        Json(PurchaseResponse {
            checkout_url: redirect.url,
            session_id: redirect.session_id.to_string(),
        }),
    ))
}

/// `Server-Timing`: the time spent waiting on Stripe and the rest (ours),
/// in milliseconds, for browsers' tools and the benchmark's split.
fn server_timing(in_stripe: Duration, total: Duration) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "stripe;dur={:.3};desc=\"Stripe API\", app;dur={:.3};desc=\"Ops-Center Credits\"",
        ms(in_stripe),
        ms(total.saturating_sub(in_stripe))
    )
}

/// Not in `http`'s list of standard headers.
const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

#[derive(Serialize)]
pub struct PurchaseJson {
    id: PurchaseId,
    package_name: String,
    amount_credits: i64,
    /// Dollars as an exact JSON number, kept for older clients.
    #[serde(serialize_with = "super::money::dollars")]
    amount_paid: domain::Cents,
    amount_paid_cents: i64,
    status: domain::PurchaseStatus,
    created_at: chrono::DateTime<chrono::Utc>,
    completed_at: Option<chrono::DateTime<chrono::Utc>>,
    stripe_session_id: Option<CheckoutSessionId>,
    stripe_payment_id: Option<backend::ids::PaymentIntentId>,
}

impl From<PurchaseRecord> for PurchaseJson {
    fn from(p: PurchaseRecord) -> Self {
        PurchaseJson {
            id: p.id,
            package_name: p.package_name,
            amount_credits: p.amount_credits.get(),
            amount_paid: p.amount_paid,
            amount_paid_cents: p.amount_paid.get(),
            status: p.status,
            created_at: p.created_at,
            completed_at: p.completed_at,
            stripe_session_id: p.stripe_session_id,
            stripe_payment_id: p.stripe_payment_id,
        }
    }
}

#[derive(Deserialize)]
pub struct Page {
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    50
}

/// `GET /credits/history`: the caller's own purchases, newest first.
pub async fn history(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(page): Query<Page>,
) -> Result<Json<Vec<PurchaseJson>>, AppError> {
    if !(1..=200).contains(&page.limit) || page.offset < 0 {
        return Err(AppError::new(
            ErrorCode::InvalidQuery,
            "limit must be 1-200 and offset at least 0.",
        ));
    }
    let records = purchases::history(&state.pool, user.id, page.limit, page.offset)
        .await
        .map_err(crate::error::internal)?;
    Ok(Json(records.into_iter().map(PurchaseJson::from).collect()))
}

/// `POST /credits/checkout/{session_id}/confirm`: the success-page return.
/// Asks Stripe and fulfils if paid; the webhook may have done so already.
pub async fn confirm(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(session_id): Path<String>,
) -> Result<Json<PurchaseJson>, AppError> {
    let session = CheckoutSessionId::parse(session_id).map_err(|_| unknown_session())?;
    state.limits.check(Limited::Confirm, user.id)?;
    let record = checkout::confirm_return(&state, user.id, &session).await?;
    Ok(Json(record.into()))
}

fn unknown_session() -> AppError {
    AppError::new(
        ErrorCode::UnknownSession,
        "There is no such checkout session for you.",
    )
}
