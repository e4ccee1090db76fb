//! The subscription API (docs/API.md): checkout, portal, cards, status,
//! cancel/resume, plan changes and invoices, each for the caller only, and
//! the admins' tier allowances. Bodies are the page's view types
//! (`app::billing`), so the page and the API say the same thing.

use app::billing::{
    CardView, ChangePreviewView, InvoiceView, PlanStatus, TierView,
    ssr::{cards, status},
};
use axum::extract::State;
use backend::{
    AppState,
    subscriptions::{manage, tiers},
};
use domain::{BillingCycle, PlanChange};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    auth::{AdminUser, CurrentUser},
    error::{AppError, ErrorCode},
    extract::{Json, Path},
};

#[derive(Deserialize)]
pub struct CheckoutRequest {
    /// The tier's code (`professional`) or id.
    tier_id: String,
    billing_cycle: BillingCycle,
}

#[derive(Serialize)]
pub struct CheckoutResponse {
    checkout_url: String,
    session_id: String,
}

/// `POST /checkout/create`: a subscription-mode Checkout Session.
pub async fn checkout(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(request): Json<CheckoutRequest>,
) -> Result<Json<CheckoutResponse>, AppError> {
    let redirect =
        manage::start_checkout(&state, &user, &request.tier_id, request.billing_cycle).await?;
    Ok(Json(CheckoutResponse {
        checkout_url: redirect.url,
        session_id: redirect.session_id.to_string(),
    }))
}

/// `POST /portal/create`: a customer-portal session returning to `/billing`.
pub async fn portal(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<Value>, AppError> {
    let url = manage::portal(&state, &user).await?;
    Ok(Json(json!({ "portal_url": url })))
}

#[derive(Serialize)]
pub struct PaymentMethodsResponse {
    payment_methods: Vec<CardView>,
    default_payment_method: Option<String>,
}

/// `GET /payment-methods`: the caller's saved cards.
pub async fn payment_methods(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<PaymentMethodsResponse>, AppError> {
    let methods = manage::payment_methods(&state, user.id).await?;
    let default_payment_method = methods.default.clone();
    Ok(Json(PaymentMethodsResponse {
        payment_methods: cards(methods),
        default_payment_method,
    }))
}

/// `GET /subscription-status`.
pub async fn subscription_status(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<PlanStatus>, AppError> {
    Ok(Json(status(&state, user.id).await?))
}

#[derive(Deserialize)]
pub struct CancelRequest {
    subscription_id: String,
    #[serde(default = "yes")]
    at_period_end: bool,
}

fn yes() -> bool {
    true
}

/// `POST /subscription/cancel`: at the end of the period unless
/// `at_period_end` is false. Not the caller's → 404.
pub async fn cancel(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(request): Json<CancelRequest>,
) -> Result<Json<PlanStatus>, AppError> {
    manage::cancel(
        &state,
        user.id,
        &request.subscription_id,
        request.at_period_end,
    )
    .await?;
    Ok(Json(status(&state, user.id).await?))
}

#[derive(Deserialize, Default)]
pub struct ResumeRequest {
    #[serde(default)]
    subscription_id: Option<String>,
}

/// `POST /subscription/resume`: undoes a pending cancel at period end (the
/// body and its `subscription_id` are optional: the caller's plan).
pub async fn resume(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    body: axum::body::Bytes,
) -> Result<Json<PlanStatus>, AppError> {
    let request: ResumeRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ResumeRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            AppError::new(
                ErrorCode::InvalidBody,
                format!("The request body is not valid: {e}"),
            )
        })?
    };
    manage::resume(&state, user.id, request.subscription_id.as_deref()).await?;
    Ok(Json(status(&state, user.id).await?))
}

#[derive(Deserialize)]
pub struct ChangeRequest {
    new_tier_id: String,
    billing_cycle: BillingCycle,
    /// From `POST /subscription/preview`, to bill exactly what it showed.
    #[serde(default)]
    proration_date: Option<i64>,
}

#[derive(Serialize)]
pub struct ChangeResponse {
    change: &'static str,
    subscription: PlanStatus,
}

/// `POST /subscription/upgrade`: changes the plan (either way). An upgrade
/// is prorated and invoiced now; a downgrade prorated onto the next invoice.
pub async fn change(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(request): Json<ChangeRequest>,
) -> Result<Json<ChangeResponse>, AppError> {
    let (_, change) = manage::change_plan(
        &state,
        user.id,
        &request.new_tier_id,
        request.billing_cycle,
        request.proration_date,
    )
    .await?;
    Ok(Json(ChangeResponse {
        change: match change {
            PlanChange::Upgrade => "upgrade",
            PlanChange::Downgrade | PlanChange::Same => "downgrade",
        },
        subscription: status(&state, user.id).await?,
    }))
}

#[derive(Deserialize)]
pub struct PreviewRequest {
    new_tier_id: String,
    billing_cycle: BillingCycle,
}

/// `POST /subscription/preview`: what the change would bill now (Stripe's
/// upcoming-invoice preview).
pub async fn preview(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(request): Json<PreviewRequest>,
) -> Result<Json<ChangePreviewView>, AppError> {
    let preview =
        manage::preview_change(&state, user.id, &request.new_tier_id, request.billing_cycle)
            .await?;
    Ok(Json(preview.into()))
}

/// `GET /invoices`: the caller's invoices, newest first.
pub async fn invoices(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<Value>, AppError> {
    let invoices: Vec<InvoiceView> = manage::invoices(&state, user.id)
        .await?
        .into_iter()
        .map(InvoiceView::from)
        .collect();
    Ok(Json(json!({ "invoices": invoices })))
}

/// `GET /plans`: the tiers on sale, in display order.
pub async fn plans(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
) -> Result<Json<Vec<TierView>>, AppError> {
    let tiers = tiers::list(&state.pool)
        .await?
        .into_iter()
        .filter(|t| t.is_active)
        .map(TierView::from)
        .collect();
    Ok(Json(tiers))
}

#[derive(Deserialize)]
pub struct AllowanceRequest {
    monthly_allowance: i64,
}

/// `PATCH /credits/admin/tiers/{tier}`: an admin sets a tier's monthly allowance.
pub async fn set_allowance(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(tier): Path<String>,
    Json(request): Json<AllowanceRequest>,
) -> Result<Json<TierView>, AppError> {
    let tier = tiers::set_allowance(&state.pool, &tier, request.monthly_allowance, admin.id)
        .await?
        .ok_or_else(|| AppError::new(ErrorCode::NotFound, "There is no such tier."))?;
    Ok(Json(tier.into()))
}

/// `GET /credits/admin/tiers`: every tier, on sale or not.
pub async fn admin_tiers(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> Result<Json<Vec<TierView>>, AppError> {
    Ok(Json(
        tiers::list(&state.pool)
            .await?
            .into_iter()
            .map(TierView::from)
            .collect(),
    ))
}
