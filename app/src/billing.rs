//! The subscriber's side: their plan, cards and invoices, the plan picker,
//! and the actions on a plan. View types (also the JSON API's bodies) and
//! the server functions that fill them; the services live in
//! `backend::subscriptions`.

#[allow(unused_imports)]
use crate::error::{ApiError, ErrorCode};
use domain::{BillingCycle, Cents, Credits};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The user's plan (`GET /subscription-status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStatus {
    /// Their current (or last) Stripe subscription; `null` if none ever.
    pub subscription_id: Option<String>,
    /// The tier that applies: the live plan's, else `trial`.
    pub tier: String,
    pub tier_name: String,
    pub billing_cycle: Option<BillingCycle>,
    /// Stripe's status (`active`, `past_due`, `canceled`…), or `none`.
    pub status: String,
    /// Whether there is a live plan; `false` shows "No active plan".
    pub has_active_plan: bool,
    /// ISO 8601, UTC.
    pub current_period_start: Option<String>,
    pub current_period_end: Option<String>,
    pub cancel_at_period_end: bool,
    /// When a live plan renews (not set while it is set to cancel).
    pub next_invoice_date: Option<String>,
    /// The plan's price per period.
    pub amount_cents: Option<i64>,
    /// The same, in dollars, as an exact decimal string (`"49.00"`).
    pub amount: Option<String>,
    pub currency: String,
    /// Credits a month of the tier grants.
    pub monthly_allowance: i64,
    /// Credits one paid period grants (twelve months' worth when yearly).
    pub period_allowance: i64,
}

/// A tier on the plan picker (`GET /plans`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierView {
    pub id: String,
    pub tier: String,
    pub name: String,
    pub description: String,
    pub price_monthly_cents: i64,
    pub price_yearly_cents: Option<i64>,
    /// Twelve monthly payments less the yearly price.
    pub yearly_saving_cents: Option<i64>,
    pub monthly_allowance: i64,
}

/// A saved card (`GET /payment-methods`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardView {
    pub id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    pub is_default: bool,
}

/// An invoice (`GET /invoices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceView {
    pub id: String,
    pub number: Option<String>,
    /// ISO 8601, UTC.
    pub created_at: String,
    pub total_cents: i64,
    pub amount_due_cents: i64,
    pub amount_paid_cents: i64,
    /// `total_cents` in dollars, exact (`"-12.50"` for a credit).
    pub amount: String,
    pub currency: String,
    pub status: String,
    pub hosted_invoice_url: Option<String>,
}

/// What changing to another plan would cost now (`POST /subscription/preview`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePreviewView {
    /// `upgrade` (billed now, prorated) or `downgrade` (prorated onto the next invoice).
    pub change: String,
    pub tier: String,
    pub tier_name: String,
    pub billing_cycle: BillingCycle,
    pub amount_due_cents: i64,
    pub amount_due: String,
    /// Send it back with the change so Stripe bills exactly this amount.
    pub proration_date: i64,
    /// When a downgrade's next invoice is charged (ISO 8601).
    pub next_payment_at: Option<String>,
    pub monthly_allowance: i64,
}

/// Everything `/billing` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingOverview {
    pub plan: PlanStatus,
    pub card: Option<CardView>,
    pub invoices: Vec<InvoiceView>,
    pub balance: Credits,
    /// Set when Stripe could not be asked for cards or invoices.
    pub stripe_error: Option<String>,
    /// Set when the page was reached from Checkout's success URL.
    pub just_subscribed: bool,
}

/// Everything `/billing/plans` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlansOverview {
    pub tiers: Vec<TierView>,
    pub plan: PlanStatus,
}

/// Dollars of a cent amount, exact: `4900` → `"49.00"`, `-1250` → `"-12.50"`.
pub fn decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// `$49.00`, `-$12.50`.
pub fn money(cents: i64) -> String {
    match Cents::new(cents.abs()) {
        Ok(amount) if cents < 0 => format!("-{amount}"),
        Ok(amount) => amount.to_string(),
        Err(_) => format!("${}", decimal(cents)),
    }
}

/// A plan in one line, for admins: "Professional (monthly), active, renews
/// 2027-01-02", or "No active plan".
pub fn plan_summary(plan: &PlanStatus) -> String {
    if !plan.has_active_plan {
        return "No active plan".to_owned();
    }
    let cycle = plan
        .billing_cycle
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    let end = plan
        .current_period_end
        .as_deref()
        .map(day)
        .unwrap_or_default();
    let when = if plan.cancel_at_period_end {
        format!("ends {end}")
    } else {
        format!("renews {end}")
    };
    format!("{}{cycle}, {}, {when}", plan.tier_name, plan.status)
}

/// The date part of an ISO 8601 time (`2026-12-03`).
pub fn day(iso: &str) -> String {
    iso.get(..10).unwrap_or(iso).to_owned()
}

/// What the header shows next to the user's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderSummary {
    pub balance: Credits,
    pub tier_name: String,
    pub has_active_plan: bool,
}

/// The caller's balance and tier; `None` for anonymous visitors.
#[server]
pub async fn account_summary() -> Result<Option<HeaderSummary>, ApiError> {
    let Some(user) = crate::auth::ssr::optional_user().await? else {
        return Ok(None);
    };
    let state = expect_context::<backend::AppState>();
    let glance = crate::wallet::ssr::glance(&state.pool, user.id).await?;
    Ok(Some(HeaderSummary {
        balance: Credits::signed(glance.wallet.balance),
        has_active_plan: glance.tier.is_some(),
        tier_name: glance.tier.unwrap_or_else(|| "No active plan".to_owned()),
    }))
}

/// The caller's plan, card and invoices; `None` for anonymous visitors.
/// With `session_id` (Checkout's success return) the new subscription is
/// read from Stripe first, so the page shows it even before its webhook.
#[server]
pub async fn load_billing_page(
    session_id: Option<String>,
) -> Result<Option<BillingOverview>, ApiError> {
    use backend::{ids::CheckoutSessionId, rate_limit::Limited, subscriptions::manage};

    let Some(user) = crate::auth::ssr::optional_user().await? else {
        return Ok(None);
    };
    let state = expect_context::<backend::AppState>();
    let mut just_subscribed = false;
    if let Some(Ok(session)) = session_id
        .filter(|s| !s.is_empty())
        .map(CheckoutSessionId::parse)
    {
        just_subscribed = true;
        if state.limits.check(Limited::Confirm, user.id).is_ok()
            && let Err(error) = manage::confirm_checkout(&state, user.id, &session).await
        {
            // The webhook will still store it; the page says it is on its way.
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "confirming a subscription checkout failed"
            );
        }
    }
    let plan = PlanStatus::from(manage::status(&state.pool, user.id).await?);
    let mut stripe_error = None;
    let card = match manage::payment_methods(&state, user.id).await {
        Ok(methods) => ssr::default_card(methods),
        Err(error) => {
            stripe_error = Some(ApiError::from(error).detail);
            None
        }
    };
    let invoices = match manage::invoices(&state, user.id).await {
        Ok(invoices) => invoices.into_iter().map(InvoiceView::from).collect(),
        Err(error) => {
            stripe_error = Some(ApiError::from(error).detail);
            Vec::new()
        }
    };
    let balance = backend::ledger::balance(&state.pool, user.id).await?;
    Ok(Some(BillingOverview {
        plan,
        card,
        invoices,
        balance,
        stripe_error,
        just_subscribed,
    }))
}

/// The tiers on sale and the caller's plan; `None` for anonymous visitors.
#[server]
pub async fn load_plans_page() -> Result<Option<PlansOverview>, ApiError> {
    let Some(user) = crate::auth::ssr::optional_user().await? else {
        return Ok(None);
    };
    let state = expect_context::<backend::AppState>();
    let plan =
        PlanStatus::from(backend::subscriptions::manage::status(&state.pool, user.id).await?);
    let tiers = backend::subscriptions::tiers::list(&state.pool)
        .await?
        .into_iter()
        .filter(|t| t.is_active)
        .map(TierView::from)
        .collect();
    Ok(Some(PlansOverview { tiers, plan }))
}

/// Starts Checkout for a plan; answers the URL to send the subscriber to.
#[server]
pub async fn subscribe(tier: String, billing_cycle: BillingCycle) -> Result<String, ApiError> {
    let user = crate::auth::ssr::require_user().await?;
    let state = expect_context::<backend::AppState>();
    let redirect =
        backend::subscriptions::manage::start_checkout(&state, &user, &tier, billing_cycle).await?;
    crate::auth::ssr::follow_in_plain_forms(&redirect.url);
    Ok(redirect.url)
}

/// What changing to `tier`/`billing_cycle` would bill now.
#[server]
pub async fn preview_plan_change(
    tier: String,
    billing_cycle: BillingCycle,
) -> Result<ChangePreviewView, ApiError> {
    let user = crate::auth::ssr::require_user().await?;
    let state = expect_context::<backend::AppState>();
    let preview =
        backend::subscriptions::manage::preview_change(&state, user.id, &tier, billing_cycle)
            .await?;
    Ok(preview.into())
}

/// Changes the plan, billing what the preview with `proration_date` showed.
#[server]
pub async fn change_plan(
    tier: String,
    billing_cycle: BillingCycle,
    proration_date: Option<i64>,
) -> Result<PlanStatus, ApiError> {
    let user = crate::auth::ssr::require_user().await?;
    let state = expect_context::<backend::AppState>();
    backend::subscriptions::manage::change_plan(
        &state,
        user.id,
        &tier,
        billing_cycle,
        proration_date,
    )
    .await?;
    ssr::status(&state, user.id).await
}

/// Cancels the plan at the end of its period.
#[server]
pub async fn cancel_plan(subscription_id: String) -> Result<PlanStatus, ApiError> {
    let user = crate::auth::ssr::require_user().await?;
    let state = expect_context::<backend::AppState>();
    backend::subscriptions::manage::cancel(&state, user.id, &subscription_id, true).await?;
    ssr::status(&state, user.id).await
}

/// Undoes a pending cancellation.
#[server]
pub async fn resume_plan(subscription_id: String) -> Result<PlanStatus, ApiError> {
    let user = crate::auth::ssr::require_user().await?;
    let state = expect_context::<backend::AppState>();
    backend::subscriptions::manage::resume(&state, user.id, Some(&subscription_id)).await?;
    ssr::status(&state, user.id).await
}

/// A customer-portal session; answers its URL.
#[server]
pub async fn open_portal() -> Result<String, ApiError> {
    let user = crate::auth::ssr::require_user().await?;
    let state = expect_context::<backend::AppState>();
    let url = backend::subscriptions::manage::portal(&state, &user).await?;
    crate::auth::ssr::follow_in_plain_forms(&url);
    Ok(url)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! From the services' types to the views.

    use backend::{
        ids::UserId,
        stripe::InvoiceSummary,
        subscriptions::{ChangePreview, PaymentMethods, SubscriptionView, Tier, manage},
    };
    use domain::{PlanChange, subscription::period_allowance};

    use super::*;

    pub use crate::components::local_time::iso;

    pub async fn status(state: &backend::AppState, user: UserId) -> Result<PlanStatus, ApiError> {
        Ok(manage::status(&state.pool, user).await?.into())
    }

    /// The card the plan is paid with, if any.
    pub fn default_card(methods: PaymentMethods) -> Option<CardView> {
        cards(methods).into_iter().find(|c| c.is_default)
    }

    pub fn cards(methods: PaymentMethods) -> Vec<CardView> {
        methods
            .cards
            .into_iter()
            .map(|card| CardView {
                is_default: methods.default.as_deref() == Some(card.id.as_str()),
                id: card.id,
                brand: card.brand,
                last4: card.last4,
                exp_month: card.exp_month,
                exp_year: card.exp_year,
            })
            .collect()
    }

    impl From<SubscriptionView> for PlanStatus {
        fn from(view: SubscriptionView) -> Self {
            let live = view.is_live();
            let tier = view.tier;
            let cycle = view
                .subscription
                .as_ref()
                .filter(|_| live)
                .and_then(|s| s.cycle);
            // What Stripe said of it.
            let sub = view.subscription.map(|s| s.stripe);
            let monthly = tier.as_ref().map_or(0, |t| t.monthly_allowance.get());
            let period = tier
                .as_ref()
                .and_then(|t| {
                    period_allowance(t.monthly_allowance, cycle.unwrap_or(BillingCycle::Monthly))
                })
                .map_or(0, |c| c.get());
            let amount = sub.as_ref().filter(|_| live).and_then(|s| s.amount);
            PlanStatus {
                subscription_id: sub.as_ref().filter(|_| live).map(|s| s.id.to_string()),
                tier: tier
                    .as_ref()
                    .map_or_else(|| "trial".to_owned(), |t| t.code.clone()),
                tier_name: tier
                    .as_ref()
                    .map_or_else(|| "Trial".to_owned(), |t| t.name.clone()),
                billing_cycle: cycle,
                status: sub
                    .as_ref()
                    .map_or_else(|| "none".to_owned(), |s| s.status.to_string()),
                has_active_plan: live,
                current_period_start: sub
                    .as_ref()
                    .filter(|_| live)
                    .and_then(|s| s.current_period_start)
                    .map(iso),
                current_period_end: sub
                    .as_ref()
                    .filter(|_| live)
                    .and_then(|s| s.current_period_end)
                    .map(iso),
                cancel_at_period_end: live && sub.as_ref().is_some_and(|s| s.cancel_at_period_end),
                next_invoice_date: sub
                    .as_ref()
                    .filter(|s| live && !s.cancel_at_period_end)
                    .and_then(|s| s.current_period_end)
                    .map(iso),
                amount_cents: amount.map(Cents::get),
                amount: amount.map(|a| decimal(a.get())),
                currency: "usd".to_owned(),
                monthly_allowance: monthly,
                period_allowance: period,
            }
        }
    }

    impl From<Tier> for TierView {
        fn from(tier: Tier) -> Self {
            TierView {
                id: tier.id.to_string(),
                yearly_saving_cents: tier.yearly_saving().map(Cents::get),
                tier: tier.code,
                name: tier.name,
                description: tier.description,
                price_monthly_cents: tier.price_monthly.get(),
                price_yearly_cents: tier.price_yearly.map(Cents::get),
                monthly_allowance: tier.monthly_allowance.get(),
            }
        }
    }

    impl From<InvoiceSummary> for InvoiceView {
        fn from(invoice: InvoiceSummary) -> Self {
            InvoiceView {
                id: invoice.id.to_string(),
                number: invoice.number,
                created_at: iso(invoice.created),
                total_cents: invoice.total,
                amount_due_cents: invoice.amount_due.get(),
                amount_paid_cents: invoice.amount_paid.get(),
                amount: decimal(invoice.total),
                currency: invoice.currency,
                status: invoice.status,
                hosted_invoice_url: invoice.hosted_invoice_url,
            }
        }
    }

    impl From<ChangePreview> for ChangePreviewView {
        fn from(preview: ChangePreview) -> Self {
            ChangePreviewView {
                change: match preview.change {
                    PlanChange::Upgrade => "upgrade",
                    PlanChange::Downgrade | PlanChange::Same => "downgrade",
                }
                .to_owned(),
                tier: preview.tier.code,
                tier_name: preview.tier.name,
                billing_cycle: preview.cycle,
                amount_due_cents: preview.amount_due.get(),
                amount_due: decimal(preview.amount_due.get()),
                proration_date: preview.proration_date,
                next_payment_at: preview.next_payment_at.map(iso),
                monthly_allowance: preview.tier.monthly_allowance.get(),
            }
        }
    }
}

/// Every tier, for the admins' tier editor.
#[server(endpoint = "admin_tiers")]
pub async fn admin_tiers() -> Result<Vec<TierView>, ApiError> {
    crate::admin::ssr::require_admin().await?;
    let state = expect_context::<backend::AppState>();
    Ok(backend::subscriptions::tiers::list(&state.pool)
        .await?
        .into_iter()
        .map(TierView::from)
        .collect())
}

/// An admin sets a tier's monthly allowance (granted from its next paid invoice).
#[server(endpoint = "set_tier_allowance")]
pub async fn set_tier_allowance(
    tier: String,
    monthly_allowance: i64,
) -> Result<TierView, ApiError> {
    let admin = crate::admin::ssr::require_admin().await?;
    let state = expect_context::<backend::AppState>();
    backend::subscriptions::tiers::set_allowance(&state.pool, &tier, monthly_allowance, admin.id)
        .await?
        .map(TierView::from)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "There is no such tier."))
}
