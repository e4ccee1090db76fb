//! Starting a credit purchase and confirming it when the buyer returns: the
//! two user-facing steps around Stripe Checkout.

use domain::PackageCode;
use sqlx::PgPool;
use url::Url;

use crate::{
    audit::Actor,
    ids::{CheckoutSessionId, CustomerId, PurchaseId, UserId},
    packages::{self, PackageError},
    purchases::{self, PurchaseError, Settlement},
    stripe::{CheckoutOutcome, CheckoutRedirect, CreditCheckout, StripeError, StripeGateway},
};

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("no active package {0:?}")]
    UnknownPackage(String),
    #[error("{0} must be a URL on this site ({1})")]
    ForeignRedirect(&'static str, String),
    #[error("package {0:?} is not set up in Stripe yet (run sync-stripe-catalogue)")]
    NotInStripe(String),
    #[error("no such checkout session for this user")]
    UnknownSession,
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error(transparent)]
    Purchase(#[from] PurchaseError),
    #[error(transparent)]
    Stripe(#[from] StripeError),
    #[error("too many checkouts; retry in {} s", .0.retry_after_secs())]
    RateLimited(#[from] crate::rate_limit::RateLimited),
}

/// Who is buying.
#[derive(Debug, Clone, Copy)]
pub struct Buyer<'a> {
    pub id: UserId,
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// Where Checkout sends the buyer back; `None` takes our defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReturnUrls<'a> {
    pub success: Option<&'a str>,
    pub cancel: Option<&'a str>,
}

const SESSION_PLACEHOLDER: &str = "{CHECKOUT_SESSION_ID}";

/// The Buy action, whichever way it arrives (the JSON API's
/// `POST /credits/purchase` or the page's `buy_credits` server function):
/// the package code as typed, the caller's per-user limit, then
/// [`start_credit_purchase`].
pub async fn buy(
    state: &crate::AppState,
    user: &crate::auth::AuthUser,
    code: &PackageCode,
    urls: ReturnUrls<'_>,
) -> Result<CheckoutRedirect, CheckoutError> {
    state
        .limits
        .check(crate::rate_limit::Limited::Checkout, user.id)?;
    start_credit_purchase(
        &state.pool,
        &state.stripe,
        &state.config.app_base_url,
        Buyer {
            id: user.id,
            email: user.email.as_deref(),
            name: user.name.as_deref(),
        },
        code,
        urls,
    )
    .await
}

/// Records a pending purchase of `code` and opens a Checkout Session for it.
pub async fn start_credit_purchase(
    pool: &PgPool,
    stripe: &StripeGateway,
    base_url: &Url,
    buyer: Buyer<'_>,
    code: &PackageCode,
    urls: ReturnUrls<'_>,
) -> Result<CheckoutRedirect, CheckoutError> {
    let success_url = success_url(base_url, urls.success)?;
    let requested_cancel = urls
        .cancel
        .map(|url| same_origin(base_url, "cancel_url", url))
        .transpose()?;
    let package = packages::find_active(pool, code)
        .await?
        .ok_or_else(|| CheckoutError::UnknownPackage(code.to_string()))?;
    let price_id = package
        .stripe_price_id
        .clone()
        .ok_or_else(|| CheckoutError::NotInStripe(code.to_string()))?;
    let customer = customer_for(pool, stripe, buyer).await?;
    let purchase_id = purchases::create_pending(pool, buyer.id, &package).await?;
    // Our own cancel page names the purchase, so coming back closes its session.
    let cancel_url = match requested_cancel {
        Some(url) => url,
        None => same_origin(
            base_url,
            "cancel_url",
            &format!("/credits?checkout=cancelled&purchase={purchase_id}"),
        )?,
    };
    let redirect = stripe
        .create_credit_checkout(CreditCheckout {
            purchase_id,
            user_id: buyer.id,
            customer_id: &customer,
            price_id: &price_id,
            package_code: package.code.as_str(),
            credits: package.credits,
            success_url: &success_url,
            cancel_url: &cancel_url,
        })
        .await?;
    purchases::attach_checkout_session(
        pool,
        purchase_id,
        &redirect.session_id,
        Some(customer.as_str()),
    )
    .await?;
    tracing::info!(purchase = %purchase_id, session = %redirect.session_id, "checkout started");
    Ok(redirect)
}

/// Settles the purchase of a session Stripe reports paid (the
/// `checkout.session.completed` / `…async_payment_succeeded` webhook, the
/// success-page return): grants its credits once when Stripe's amount,
/// currency and mode match the purchase, and holds it for an admin's
/// review otherwise (see [`purchases::fulfil`]).
pub async fn fulfil_checkout(
    pool: &PgPool,
    stripe: &StripeGateway,
    outcome: &CheckoutOutcome,
    actor: Actor<'_>,
) -> Result<Settlement, CheckoutError> {
    Ok(purchases::fulfil(
        pool,
        &outcome.session_id,
        &outcome.payment(),
        stripe.livemode(),
        actor,
    )
    .await?)
}

/// The buyer is back from Checkout: ask Stripe how the session stands and
/// fulfil it if paid (the webhook may already have; then this is a no-op).
/// A purchase we closed (expired, failed) is asked about too: a payment that
/// arrived anyway waits for an admin instead of going unnoticed.
/// Only the purchase's own user may confirm it. Runs to the end even when
/// the caller goes away (the page load or request that asked).
pub async fn confirm_return(
    state: &crate::AppState,
    user: UserId,
    session: &CheckoutSessionId,
) -> Result<purchases::PurchaseRecord, CheckoutError> {
    let (pool, stripe, session) = (state.pool.clone(), state.stripe.clone(), session.clone());
    state
        .detached
        .run(async move { confirm(&pool, &stripe, user, &session).await })
        .await
}

async fn confirm(
    pool: &PgPool,
    stripe: &StripeGateway,
    user: UserId,
    session: &CheckoutSessionId,
) -> Result<purchases::PurchaseRecord, CheckoutError> {
    let purchase = purchases::find_for_user(pool, user, session)
        .await?
        .ok_or(CheckoutError::UnknownSession)?;
    if matches!(
        purchase.status,
        domain::PurchaseStatus::Pending
            | domain::PurchaseStatus::Expired
            | domain::PurchaseStatus::Failed
    ) {
        let outcome = stripe.retrieve_checkout(session).await?;
        let settlement = fulfil_checkout(pool, stripe, &outcome, Actor::SuccessReturn).await?;
        if let Settlement::Applied { .. } = settlement {
            tracing::info!(session = %session, "fulfilled on return");
        }
        return purchases::find_for_user(pool, user, session)
            .await?
            .ok_or(CheckoutError::UnknownSession);
    }
    Ok(purchase)
}

/// The buyer left Checkout without paying (our cancel URL): close the
/// session at Stripe so it can no longer be paid, and mark the purchase
/// expired (Stripe's `checkout.session.expired` webhook then changes
/// nothing). Stripe refuses if the session was paid meanwhile (another tab):
/// then the purchase is left for the webhook to complete. Returns the
/// purchase as it stands, `None` if it is not this user's.
pub async fn abandon(
    pool: &PgPool,
    stripe: &StripeGateway,
    user: UserId,
    purchase: PurchaseId,
) -> Result<Option<purchases::PurchaseRecord>, CheckoutError> {
    let Some(record) = purchases::find_by_id_for_user(pool, user, purchase).await? else {
        return Ok(None);
    };
    if record.status != domain::PurchaseStatus::Pending {
        return Ok(Some(record));
    }
    let Some(session) = record.stripe_session_id.clone() else {
        return Ok(Some(record));
    };
    if let Err(error) = stripe.expire_checkout(&session).await {
        tracing::warn!(
            error = &error as &dyn std::error::Error,
            session = %session,
            "Stripe did not expire the abandoned session"
        );
        return Ok(Some(record));
    }
    purchases::mark_expired(pool, &session, Actor::Buyer(user)).await?;
    tracing::info!(purchase = %purchase, session = %session, "checkout abandoned");
    Ok(purchases::find_by_id_for_user(pool, user, purchase).await?)
}

/// The user's Stripe customer, created (once) when they first buy.
pub(crate) async fn customer_for(
    pool: &PgPool,
    stripe: &StripeGateway,
    buyer: Buyer<'_>,
) -> Result<CustomerId, CheckoutError> {
    let existing: Option<CustomerId> =
        sqlx::query_scalar("select stripe_customer_id from users where id = $1")
            .bind(buyer.id)
            .fetch_one(pool)
            .await?;
    if let Some(customer) = existing {
        return Ok(customer);
    }
    // The idempotency key is per user, so racing first purchases get one customer.
    let customer = stripe
        .create_customer(buyer.id, buyer.email, buyer.name)
        .await?;
    sqlx::query("update users set stripe_customer_id = $2, updated_at = now() where id = $1 and stripe_customer_id is null")
        .bind(buyer.id)
        .bind(&customer)
        .execute(pool)
        .await?;
    Ok(customer)
}

fn success_url(base: &Url, requested: Option<&str>) -> Result<String, CheckoutError> {
    let url = same_origin(base, "success_url", requested.unwrap_or("/credits"))?;
    if url.contains(SESSION_PLACEHOLDER) {
        return Ok(url);
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{separator}session_id={SESSION_PLACEHOLDER}"))
}

/// `candidate` as an absolute URL on `base`'s origin (a path is joined to it);
/// anything else is refused, so Checkout can never send a buyer elsewhere.
pub(crate) fn same_origin(
    base: &Url,
    field: &'static str,
    candidate: &str,
) -> Result<String, CheckoutError> {
    let refuse = || CheckoutError::ForeignRedirect(field, base.origin().ascii_serialization());
    // Keep the placeholder out of URL parsing, which would percent-encode its braces.
    let probe = candidate.replace(SESSION_PLACEHOLDER, "cs_placeholder");
    if probe.starts_with("//") || probe.contains('\\') {
        return Err(refuse());
    }
    let parsed = base.join(&probe).map_err(|_| refuse())?;
    if parsed.origin() != base.origin() {
        return Err(refuse());
    }
    Ok(parsed
        .as_str()
        .replace("cs_placeholder", SESSION_PLACEHOLDER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://billing.example.com").unwrap()
    }

    #[test]
    fn redirects_stay_on_our_origin() {
        assert_eq!(
            success_url(&base(), None).unwrap(),
            "https://billing.example.com/credits?session_id={CHECKOUT_SESSION_ID}"
        );
        assert_eq!(
            success_url(&base(), Some("https://billing.example.com/done?x=1")).unwrap(),
            "https://billing.example.com/done?x=1&session_id={CHECKOUT_SESSION_ID}"
        );
        assert_eq!(
            success_url(&base(), Some("/back?s={CHECKOUT_SESSION_ID}")).unwrap(),
            "https://billing.example.com/back?s={CHECKOUT_SESSION_ID}"
        );
        for foreign in [
            "https://evil.example/steal",
            "//evil.example/x",
            "http://billing.example.com/downgraded",
            "https://billing.example.com.evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
        ] {
            assert!(
                same_origin(&base(), "success_url", foreign).is_err(),
                "{foreign} accepted"
            );
        }
    }
}
