//! What a user does with their plan, whichever way it arrives (the JSON
//! API or a page's server function). Each acts for the caller only: a
//! subscription id that is not theirs is "no such subscription".
//!
//! After every change at Stripe the subscription is read back from Stripe
//! under its lock and stored ([`refresh`]), so the user sees the result at
//! once and the webhook that follows changes nothing.

use chrono::{DateTime, Utc};
use domain::{BillingCycle, Cents, PlanChange};
use sqlx::PgPool;

use super::{SubscriptionError, state, tiers, tiers::Tier};
use crate::{
    AppState,
    auth::AuthUser,
    checkout::{self, Buyer},
    ids::{CheckoutSessionId, SubscriptionId, UserId},
    rate_limit::Limited,
    stripe::{Card, CheckoutRedirect, InvoiceSummary, SubscriptionCheckout},
};

use super::state::StoredSubscription;

/// The user's plan as the status endpoint and the billing page show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionView {
    /// Their current subscription (live, or the last one that ended);
    /// `None` if they never subscribed.
    pub subscription: Option<StoredSubscription>,
    /// The tier that applies: the live subscription's, else `trial` (what
    /// the platform gives a user with no active plan).
    pub tier: Option<Tier>,
}

impl SubscriptionView {
    /// Whether the user has a plan (live subscription).
    pub fn is_live(&self) -> bool {
        self.subscription
            .as_ref()
            .is_some_and(|s| s.stripe.status.is_live())
    }
}

/// What changing to another plan would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePreview {
    pub change: PlanChange,
    pub tier: Tier,
    pub cycle: BillingCycle,
    /// Charged now: the prorated difference of an upgrade; zero for a
    /// downgrade (its credit goes onto the next invoice).
    pub amount_due: Cents,
    /// The previewed invoice's total (negative: a credit).
    pub total: i64,
    /// The proration date to send with the change so it bills this amount.
    pub proration_date: i64,
    /// When a downgrade's next invoice is charged.
    pub next_payment_at: Option<DateTime<Utc>>,
}

/// The saved cards and which one pays the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethods {
    pub cards: Vec<Card>,
    pub default: Option<String>,
}

/// The tier the platform gives a user with no active plan.
pub(crate) const TRIAL: &str = "trial";

/// `GET /subscription-status`.
pub async fn status(pool: &PgPool, user: UserId) -> Result<SubscriptionView, SubscriptionError> {
    let subscription = state::current_for_user(pool, user).await?;
    let mut conn = pool.acquire().await?;
    let code = subscription
        .as_ref()
        .filter(|s| s.stripe.status.is_live())
        .and_then(|s| s.tier_code.clone())
        .unwrap_or_else(|| TRIAL.to_owned());
    let tier = tiers::by_code(&mut conn, &code).await?;
    Ok(SubscriptionView { subscription, tier })
}

/// The tier and its Stripe price for a plan the user asked for: an unknown
/// or withdrawn tier, or a cycle it is not sold in, is refused.
async fn plan(
    pool: &PgPool,
    tier_ref: &str,
    cycle: BillingCycle,
) -> Result<(Tier, crate::ids::PriceId), SubscriptionError> {
    let tier = tiers::find_active(pool, tier_ref)
        .await?
        .ok_or_else(|| SubscriptionError::UnknownTier(tier_ref.to_owned()))?;
    if tier.price(cycle).is_none() {
        return Err(SubscriptionError::UnknownCycle {
            tier: tier.name.clone(),
            cycle: cycle.to_string(),
        });
    }
    let price = tier
        .stripe_price(cycle)
        .cloned()
        .ok_or_else(|| SubscriptionError::NotInStripe(tier.code.clone()))?;
    Ok((tier, price))
}

fn buyer(user: &AuthUser) -> Buyer<'_> {
    Buyer {
        id: user.id,
        email: user.email.as_deref(),
        name: user.name.as_deref(),
    }
}

/// `POST /checkout/create`: a subscription-mode Checkout Session for a user
/// with no plan. One who has a live plan (here, or at Stripe already while
/// its webhook is on its way) is refused: that is a plan change. Their
/// earlier subscription checkouts still open are expired first.
pub async fn start_checkout(
    app: &AppState,
    user: &AuthUser,
    tier_ref: &str,
    cycle: BillingCycle,
) -> Result<CheckoutRedirect, SubscriptionError> {
    app.limits.check(Limited::Checkout, user.id)?;
    let (tier, price) = plan(&app.pool, tier_ref, cycle).await?;
    if status(&app.pool, user.id).await?.is_live() {
        return Err(SubscriptionError::AlreadySubscribed);
    }
    let customer = checkout::customer_for(&app.pool, &app.stripe, buyer(user)).await?;
    if !app.stripe.live_subscriptions(&customer).await?.is_empty() {
        return Err(SubscriptionError::AlreadySubscribed);
    }
    // Only the newest checkout can be paid: one plan, one charge.
    app.stripe
        .expire_open_subscription_checkouts(&customer)
        .await?;
    let base = &app.config.app_base_url;
    let success_url = checkout::same_origin(
        base,
        "success_url",
        "/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}",
    )?;
    let cancel_url =
        checkout::same_origin(base, "cancel_url", "/billing/plans?checkout=cancelled")?;
    let redirect = app
        .stripe
        .create_subscription_checkout(SubscriptionCheckout {
            user_id: user.id,
            customer_id: &customer,
            price_id: &price,
            tier_code: &tier.code,
            cycle,
            success_url: &success_url,
            cancel_url: &cancel_url,
        })
        .await?;
    tracing::info!(user = %user.id, tier = %tier.code, %cycle, session = %redirect.session_id, "subscription checkout started");
    Ok(redirect)
}

/// The subscriber is back from Checkout: store the subscription the
/// session created and grant its first invoice's allowance if paid (the
/// webhooks may be later; then they change nothing). Not theirs, or not
/// paid yet: nothing happens.
pub async fn confirm_checkout(
    app: &AppState,
    user: UserId,
    session: &CheckoutSessionId,
) -> Result<(), SubscriptionError> {
    let Some((subscription, reference)) = app.stripe.subscription_of_checkout(session).await?
    else {
        return Ok(());
    };
    if reference.as_deref() != Some(user.to_string().as_str()) {
        return Err(SubscriptionError::UnknownSubscription);
    }
    sync(
        app,
        &subscription,
        user,
        Some(crate::audit::Actor::SuccessReturn),
    )
    .await?;
    Ok(())
}

/// `POST /portal/create`: a customer-portal session returning to `/billing`.
pub async fn portal(app: &AppState, user: &AuthUser) -> Result<String, SubscriptionError> {
    let customer = checkout::customer_for(&app.pool, &app.stripe, buyer(user)).await?;
    let return_url = checkout::same_origin(&app.config.app_base_url, "return_url", "/billing")?;
    Ok(app
        .stripe
        .create_portal_session(&customer, &return_url)
        .await?)
}

async fn customer_of(
    pool: &PgPool,
    user: UserId,
) -> Result<Option<crate::ids::CustomerId>, sqlx::Error> {
    sqlx::query_scalar("select stripe_customer_id from users where id = $1")
        .bind(user)
        .fetch_optional(pool)
        .await
        .map(Option::flatten)
}

/// `GET /payment-methods`: the caller's cards; the default is the one their
/// plan is paid with (else the newest).
pub async fn payment_methods(
    app: &AppState,
    user: UserId,
) -> Result<PaymentMethods, SubscriptionError> {
    let Some(customer) = customer_of(&app.pool, user).await? else {
        return Ok(PaymentMethods {
            cards: Vec::new(),
            default: None,
        });
    };
    let cards = app.stripe.list_cards(&customer).await?;
    let plan = state::current_for_user(&app.pool, user).await?;
    let default = plan
        .and_then(|s| s.stripe.default_payment_method)
        .filter(|pm| cards.iter().any(|c| &c.id == pm))
        .or_else(|| cards.first().map(|c| c.id.clone()));
    Ok(PaymentMethods { cards, default })
}

/// `GET /invoices`: the caller's invoices, newest first.
pub async fn invoices(
    app: &AppState,
    user: UserId,
) -> Result<Vec<InvoiceSummary>, SubscriptionError> {
    match customer_of(&app.pool, user).await? {
        Some(customer) => Ok(app.stripe.list_invoices(&customer).await?),
        None => Ok(Vec::new()),
    }
}

/// The caller's live subscription `id` (`None`: their current one).
async fn own_live(
    pool: &PgPool,
    user: UserId,
    id: Option<&str>,
) -> Result<StoredSubscription, SubscriptionError> {
    let found = match id {
        Some(id) => state::find_for_user(pool, user, id)
            .await?
            .ok_or(SubscriptionError::UnknownSubscription)?,
        None => state::current_for_user(pool, user)
            .await?
            .ok_or(SubscriptionError::NoSubscription)?,
    };
    if !found.stripe.status.is_live() {
        return Err(match id {
            Some(_) => SubscriptionError::Ended,
            None => SubscriptionError::NoSubscription,
        });
    }
    Ok(found)
}

/// `POST /subscription/cancel`: at the end of the period (the default) or now.
pub async fn cancel(
    app: &AppState,
    user: UserId,
    id: &str,
    at_period_end: bool,
) -> Result<StoredSubscription, SubscriptionError> {
    app.limits.check(Limited::Checkout, user)?;
    let sub = own_live(&app.pool, user, Some(id)).await?;
    if at_period_end && sub.stripe.cancel_at_period_end {
        return Err(SubscriptionError::AlreadyCanceling);
    }
    if at_period_end {
        app.stripe
            .set_cancel_at_period_end(&sub.stripe.id, true)
            .await?;
    } else {
        app.stripe.cancel_subscription_now(&sub.stripe.id).await?;
    }
    tracing::info!(%user, subscription = %sub.stripe.id, at_period_end, "subscription canceled");
    refresh(app, &sub.stripe.id, user).await
}

/// `POST /subscription/resume`: undoes a pending cancel at period end.
pub async fn resume(
    app: &AppState,
    user: UserId,
    id: Option<&str>,
) -> Result<StoredSubscription, SubscriptionError> {
    app.limits.check(Limited::Checkout, user)?;
    let sub = own_live(&app.pool, user, id).await?;
    if !sub.stripe.cancel_at_period_end {
        return Err(SubscriptionError::NotCanceling);
    }
    app.stripe
        .set_cancel_at_period_end(&sub.stripe.id, false)
        .await?;
    tracing::info!(%user, subscription = %sub.stripe.id, "subscription resumed");
    refresh(app, &sub.stripe.id, user).await
}

/// How a plan change would go, with what Stripe would bill.
async fn change_of(
    app: &AppState,
    user: UserId,
    tier_ref: &str,
    cycle: BillingCycle,
) -> Result<(StoredSubscription, Tier, crate::ids::PriceId, PlanChange), SubscriptionError> {
    let sub = own_live(&app.pool, user, None).await?;
    let (tier, price) = plan(&app.pool, tier_ref, cycle).await?;
    let (Some(code), Some(current_cycle), Some(_)) =
        (&sub.tier_code, sub.cycle, &sub.stripe.item_id)
    else {
        return Err(SubscriptionError::NotChangeable);
    };
    let mut conn = app.pool.acquire().await?;
    let current = tiers::by_code(&mut conn, code)
        .await?
        .ok_or(SubscriptionError::NotChangeable)?;
    let change = PlanChange::between(current.rank(current_cycle), tier.rank(cycle));
    if change == PlanChange::Same || sub.stripe.price_id.as_ref() == Some(&price) {
        return Err(SubscriptionError::SamePlan);
    }
    Ok((sub, tier, price, change))
}

/// The upcoming-invoice preview of changing to `tier_ref`/`cycle` now.
pub async fn preview_change(
    app: &AppState,
    user: UserId,
    tier_ref: &str,
    cycle: BillingCycle,
) -> Result<ChangePreview, SubscriptionError> {
    let (sub, tier, price, change) = change_of(app, user, tier_ref, cycle).await?;
    let proration_date = Utc::now().timestamp();
    let item = sub
        .stripe
        .item_id
        .as_ref()
        .ok_or(SubscriptionError::NotChangeable)?;
    let preview = app
        .stripe
        .preview_plan_change(
            &sub.stripe.customer_id,
            &sub.stripe.id,
            item,
            &price,
            change,
            proration_date,
        )
        .await?;
    Ok(ChangePreview {
        change,
        tier,
        cycle,
        amount_due: preview.amount_due,
        total: preview.total,
        proration_date,
        next_payment_at: preview.next_payment_at,
    })
}

/// `POST /subscription/upgrade`: swaps the plan's price. An upgrade is
/// prorated and invoiced now, a downgrade prorated onto the next invoice.
/// `proration_date` (from the preview the user saw, at most an hour old)
/// makes Stripe bill exactly the previewed amount.
pub async fn change_plan(
    app: &AppState,
    user: UserId,
    tier_ref: &str,
    cycle: BillingCycle,
    proration_date: Option<i64>,
) -> Result<(StoredSubscription, PlanChange), SubscriptionError> {
    app.limits.check(Limited::Checkout, user)?;
    let (sub, tier, price, change) = change_of(app, user, tier_ref, cycle).await?;
    let now = Utc::now().timestamp();
    let proration_date = match proration_date {
        Some(date) if (now - 3600..=now + 60).contains(&date) => date,
        Some(_) => return Err(SubscriptionError::BadProrationDate),
        None => now,
    };
    let item = sub
        .stripe
        .item_id
        .as_ref()
        .ok_or(SubscriptionError::NotChangeable)?;
    app.stripe
        .change_plan(&sub.stripe.id, item, &price, change, proration_date)
        .await?;
    tracing::info!(%user, subscription = %sub.stripe.id, tier = %tier.code, %cycle, ?change, "plan changed");
    let stored = refresh(app, &sub.stripe.id, user).await?;
    Ok((stored, change))
}

/// Reads the subscription from Stripe under its lock and stores it.
pub async fn refresh(
    app: &AppState,
    id: &SubscriptionId,
    user: UserId,
) -> Result<StoredSubscription, SubscriptionError> {
    sync(app, id, user, None).await
}

/// [`refresh`], granting the allowance of the latest invoice if it is a
/// paid period invoice not granted yet (the reconcile job, for a webhook
/// that never came).
pub async fn resync(
    app: &AppState,
    id: &SubscriptionId,
    user: UserId,
    actor: crate::audit::Actor<'_>,
) -> Result<StoredSubscription, SubscriptionError> {
    sync(app, id, user, Some(actor)).await
}

/// [`refresh`], and with `grant` (who asks) also the allowance of the
/// latest invoice if it is a paid period invoice: once, whether this or
/// `invoice.paid` comes first. One Stripe call, one transaction.
async fn sync(
    app: &AppState,
    id: &SubscriptionId,
    user: UserId,
    grant: Option<crate::audit::Actor<'_>>,
) -> Result<StoredSubscription, SubscriptionError> {
    let (pool, stripe) = (&app.pool, &app.stripe);
    let mut tx = pool.begin().await?;
    state::lock(&mut tx, id).await?;
    let (snapshot, invoice) = match stripe.retrieve_subscription_with_paid_invoice(id).await {
        Err(crate::stripe::StripeError::Rejected { status: 404, .. }) => {
            return Err(SubscriptionError::UnknownSubscription);
        }
        other => other?,
    };
    let stored = state::store(
        &mut tx,
        &app.outbox,
        &snapshot,
        user,
        Utc::now() + state::FETCH_MARGIN,
    )
    .await?;
    if let (Some(actor), Some(invoice)) = (grant, invoice)
        && invoice.reason.grants_allowance()
    {
        super::webhook::grant_allowance(
            &mut tx,
            &invoice,
            user,
            stored.tier_code.as_deref(),
            stored.cycle,
            actor,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(stored)
}
