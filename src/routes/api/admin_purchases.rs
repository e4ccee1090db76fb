//! The admin purchase table (admins only):
//!
//! - `GET /credits/admin/purchases`: a page, as a JSON array (docs/API.md:
//!   `?limit=100&offset=0&status=`), plus filters `package`, `from`, `to`
//!   (`YYYY-MM-DD`, UTC, inclusive), `user` (e-mail, name or id substring),
//!   `sort=created_at|amount`, `order=desc|asc`, and `cursor` (keyset
//!   paging, from the previous page's `X-Next-Cursor`). Headers:
//!   `X-Total-Count` (rows matching the filters), `X-Next-Cursor` (absent on
//!   the last page).
//! - `GET /credits/admin/purchases/export`: the same filters and sort, every
//!   matching row as streamed CSV.
//! - `GET /credits/admin/purchases/{id}`: one purchase, audit trail, ledger.
//! - `POST /credits/admin/purchases/{id}/refund`: `{"amount_cents": 900,
//!   "request_id": "<uuid>"}` (amount omitted, or an empty body: everything
//!   left) refunds through Stripe; the same `request_id` refunds once.
//! - `POST /credits/admin/purchases/{id}/review`: `{"action": "grant"}` or
//!   `{"action": "refund"}` settles a purchase held for review
//!   (`?status=needs_review` lists them); 409 `not_in_review` otherwise.

use axum::{
    body::{Body, Bytes},
    extract::{Path, State, rejection::BytesRejection, rejection::PathRejection},
    http::{HeaderMap, HeaderName, HeaderValue, header},
    response::{IntoResponse, Response},
};
use backend::{
    AppState,
    admin::{
        self, AdminPurchase, AdminRefund, AuditEntry, FilterParams, LedgerEntry, PageParams,
        PurchaseDetail, ReviewAction,
    },
    ids::{PurchaseId, UserId},
};
use chrono::{DateTime, Utc};
use domain::{Cents, PurchaseStatus};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::invalid_body;
use crate::{
    auth::AdminUser,
    error::{AppError, ErrorCode},
    extract::{Json, Query},
};

/// Rows per page when the query gives no `limit`.
const DEFAULT_LIMIT: i64 = 100;

#[derive(Serialize)]
pub struct AdminPurchaseView {
    id: PurchaseId,
    user_id: UserId,
    user_email: Option<String>,
    user_name: Option<String>,
    package_code: String,
    package_name: String,
    amount_credits: i64,
    /// Dollars as an exact JSON number, kept for older clients.
    #[serde(serialize_with = "super::money::dollars")]
    amount_paid: domain::Cents,
    amount_paid_cents: i64,
    refunded_cents: i64,
    status: PurchaseStatus,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    stripe_session_id: Option<String>,
    stripe_payment_id: Option<String>,
    /// The payment in Stripe's dashboard, when the app uses real Stripe keys.
    stripe_payment_url: Option<String>,
    /// Why the purchase was held for review (`needs_review`), if it was.
    review_reason: Option<String>,
}

impl AdminPurchaseView {
    fn new(p: AdminPurchase, dashboard: Option<&str>) -> Self {
        AdminPurchaseView {
            stripe_payment_url: p.payment_url(dashboard),
            id: p.id,
            user_id: p.user_id,
            user_email: p.user_email,
            user_name: p.user_name,
            package_code: p.package_code,
            package_name: p.package_name,
            amount_credits: p.amount_credits.get(),
            amount_paid: p.amount_paid,
            amount_paid_cents: p.amount_paid.get(),
            refunded_cents: p.refunded.get(),
            status: p.status,
            created_at: p.created_at,
            completed_at: p.completed_at,
            stripe_session_id: p.stripe_session_id,
            stripe_payment_id: p.stripe_payment_id,
            review_reason: p.review_reason,
        }
    }
}

/// `GET /credits/admin/purchases`: the filters and the page are two reads
/// of the same query string.
pub async fn list(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    Query(filter): Query<FilterParams>,
    Query(page): Query<PageParams>,
) -> Result<(HeaderMap, Json<Vec<AdminPurchaseView>>), AppError> {
    let table = admin::purchase_table(&state.pool, &filter, &page, DEFAULT_LIMIT).await?;
    let mut headers = HeaderMap::new();
    headers.insert(X_TOTAL_COUNT, HeaderValue::from(table.total));
    if let Some(next) = table.next_cursor
        && let Ok(value) = HeaderValue::from_str(&next.to_string())
    {
        headers.insert(X_NEXT_CURSOR, value);
    }
    let dashboard = state.config.stripe.dashboard_base();
    let rows = table
        .rows
        .into_iter()
        .map(|p| AdminPurchaseView::new(p, dashboard))
        .collect();
    Ok((headers, Json(rows)))
}

const X_TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");
const X_NEXT_CURSOR: HeaderName = HeaderName::from_static("x-next-cursor");

/// `GET /credits/admin/purchases/export`: `text/csv`, streamed.
pub async fn export(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Query(filter): Query<FilterParams>,
) -> Result<Response, AppError> {
    let (filter, sort) = admin::parse_filter(&filter)?;
    tracing::info!(admin = %admin.id, "purchases exported as CSV");
    let filename = format!(
        "attachment; filename=\"purchases-{}.csv\"",
        Utc::now().format("%Y%m%d-%H%M%S")
    );
    let body = Body::from_stream(admin::export_csv(state.pool.clone(), filter, sort));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&filename).expect("an ASCII file name"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}

#[derive(Serialize)]
pub struct PurchaseDetailView {
    purchase: AdminPurchaseView,
    discount_percentage: i32,
    currency: String,
    stripe_customer_id: Option<String>,
    audit: Vec<AuditView>,
    ledger: Vec<LedgerView>,
}

#[derive(Serialize)]
pub struct AuditView {
    id: i64,
    occurred_at: DateTime<Utc>,
    actor: String,
    action: String,
    ledger_id: Option<i64>,
    stripe_event_id: Option<String>,
    stripe_object_id: Option<String>,
    details: serde_json::Value,
}

#[derive(Serialize)]
pub struct LedgerView {
    id: i64,
    created_at: DateTime<Utc>,
    user_id: UserId,
    amount: i64,
    source: Option<&'static str>,
    reference: String,
    description: String,
    balance_after: i64,
}

impl From<AuditEntry> for AuditView {
    fn from(a: AuditEntry) -> Self {
        AuditView {
            id: a.id,
            occurred_at: a.occurred_at,
            actor: a.actor,
            action: a.action,
            ledger_id: a.ledger_id,
            stripe_event_id: a.stripe_event_id,
            stripe_object_id: a.stripe_object_id,
            details: a.details,
        }
    }
}

impl From<LedgerEntry> for LedgerView {
    fn from(l: LedgerEntry) -> Self {
        LedgerView {
            id: l.id,
            created_at: l.created_at,
            user_id: l.user_id,
            amount: l.amount.get(),
            source: l.source.map(|s| s.as_str()),
            reference: l.reference,
            description: l.description,
            balance_after: l.balance_after.get(),
        }
    }
}

/// `GET /credits/admin/purchases/{id}`
pub async fn detail(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    id: Result<Path<PurchaseId>, PathRejection>,
) -> Result<Json<PurchaseDetailView>, AppError> {
    let id = purchase_id(id)?;
    let PurchaseDetail {
        purchase,
        discount_percentage,
        currency,
        stripe_customer_id,
        audit,
        ledger,
        ..
    } = admin::purchase_detail(&state.pool, id).await?;
    Ok(Json(PurchaseDetailView {
        purchase: AdminPurchaseView::new(purchase, state.config.stripe.dashboard_base()),
        discount_percentage,
        currency,
        stripe_customer_id,
        audit: audit.into_iter().map(Into::into).collect(),
        ledger: ledger.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Omitted or null: refund everything that is left.
    amount_cents: Option<i64>,
    /// The client's id for this refund: the same id refunds once, however
    /// often it is sent. Omitted: a fresh one (each request is a new refund).
    request_id: Option<Uuid>,
}

#[derive(Serialize)]
pub struct RefundView {
    refund_id: backend::ids::RefundId,
    amount_cents: i64,
    refunded_total_cents: i64,
    status: PurchaseStatus,
    /// `false` when this request id had refunded before (nothing moved now).
    applied: bool,
    request_id: Uuid,
}

/// `POST /credits/admin/purchases/{id}/refund`: a JSON body, or an empty
/// body for "everything left". Anything else is refused before any money
/// moves (415 without a JSON content type, 422 for JSON that does not fit).
pub async fn refund(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    id: Result<Path<PurchaseId>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RefundView>, AppError> {
    let id = purchase_id(id)?;
    let body = body.map_err(|e| {
        AppError::new(
            ErrorCode::InvalidBody,
            format!("The request body could not be read: {}", e.body_text()),
        )
    })?;
    let request = refund_request(&headers, &body)?;
    let amount = request
        .amount_cents
        .map(|cents| {
            Cents::new(cents).map_err(|_| {
                AppError::new(
                    ErrorCode::InvalidAmount,
                    "amount_cents must be a positive number of cents.",
                )
            })
        })
        .transpose()?;
    let request_id = request.request_id.unwrap_or_else(Uuid::new_v4);
    let request = AdminRefund {
        purchase: id,
        amount,
        request_id,
    };
    let outcome = admin::refund(&state, admin.id, &request).await?;
    Ok(Json(RefundView {
        refund_id: outcome.refund_id,
        amount_cents: outcome.amount.get(),
        refunded_total_cents: outcome.refunded_total.get(),
        status: outcome.status,
        applied: outcome.applied,
        request_id,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// `grant` or `refund`.
    action: String,
}

#[derive(Serialize)]
pub struct ReviewView {
    id: PurchaseId,
    action: &'static str,
    status: PurchaseStatus,
    credits_granted: i64,
    refund_id: Option<backend::ids::RefundId>,
}

/// `POST /credits/admin/purchases/{id}/review`
pub async fn review(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    id: Result<Path<PurchaseId>, PathRejection>,
    body: Result<axum::Json<ReviewRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ReviewView>, AppError> {
    let id = purchase_id(id)?;
    let axum::Json(request) = body.map_err(invalid_body)?;
    let action = ReviewAction::parse(&request.action).ok_or_else(|| {
        AppError::new(
            ErrorCode::InvalidAction,
            "action must be \"grant\" or \"refund\".",
        )
    })?;
    let outcome = admin::review_purchase(&state.pool, &state.stripe, admin.id, id, action).await?;
    Ok(Json(ReviewView {
        id,
        action: outcome.action.as_str(),
        status: outcome.status,
        credits_granted: outcome.credits_granted,
        refund_id: outcome.refund_id,
    }))
}

/// The refund body: empty means "everything left"; otherwise JSON, sent as JSON.
fn refund_request(headers: &HeaderMap, body: &[u8]) -> Result<RefundRequest, AppError> {
    if body.is_empty() {
        return Ok(RefundRequest::default());
    }
    if !is_json(headers) {
        return Err(AppError::new(
            ErrorCode::UnsupportedMediaType,
            "Send the refund as JSON (Content-Type: application/json), or an empty body to refund everything left.",
        ));
    }
    axum::Json::<RefundRequest>::from_bytes(body)
        .map(|axum::Json(request)| request)
        .map_err(invalid_body)
}

/// `application/json` or `application/…+json`, parameters aside.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

fn purchase_id(id: Result<Path<PurchaseId>, PathRejection>) -> Result<PurchaseId, AppError> {
    id.map(|Path(id)| id).map_err(|_| unknown_purchase())
}

fn unknown_purchase() -> AppError {
    AppError::new(ErrorCode::UnknownPurchase, "There is no such purchase.")
}
