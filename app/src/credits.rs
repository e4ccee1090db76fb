//! The buyer's side of credits: balance, history, buying a pack and coming
//! back from Checkout. View types and the server functions that fill them;
//! the services live in `backend`.

#[allow(unused_imports)]
use crate::error::{ApiError, ErrorCode};
use domain::{Cents, Credits, PackageCode, PurchaseStatus, ids::PurchaseId};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// History rows per page.
pub const HISTORY_PAGE_SIZE: u32 = 10;

/// One purchase as its owner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurchaseView {
    pub id: String,
    pub package_name: String,
    pub credits: Credits,
    pub amount_paid: Cents,
    pub status: PurchaseStatus,
    /// Formatted on the server (UTC), so server and browser render the same text.
    pub created_at: String,
    pub completed_at: Option<String>,
}

/// How the checkout the buyer just came back from stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CheckoutReturn {
    /// Paid and granted (now, or already by Stripe's webhook).
    Completed {
        package_name: String,
        credits: Credits,
    },
    /// Stripe has not confirmed the payment yet (bank transfers, 3-D Secure…).
    Processing { package_name: String },
    /// Paid, but held for our review (the payment did not match the
    /// purchase, or came after it expired): credits or a refund follow.
    UnderReview { package_name: String },
    /// The payment failed or the session expired.
    Unsuccessful {
        package_name: String,
        status: PurchaseStatus,
    },
    /// Not a checkout of this user's (or Stripe could not be asked).
    Unknown,
}

/// Everything the credits page shows for the logged-in user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreditsOverview {
    pub balance: Credits,
    /// The balance's breakdown: available, held, paid, granted, expiring.
    pub wallet: crate::wallet::WalletView,
    pub purchases: Vec<PurchaseView>,
    /// 1-based page of the history.
    pub page: u32,
    pub has_more: bool,
    /// Set when the page was reached from Checkout's success URL.
    pub checkout: Option<CheckoutReturn>,
}

/// The caller's balance and a page of their history; `None` for anonymous
/// visitors. With `session_id` (Checkout's success return) the purchase is
/// confirmed with Stripe and fulfilled first, so the balance shown already
/// includes it: the webhook, whenever it comes, is then a no-op. A checkout
/// left through the cancel URL is closed by [`abandon_checkout`], a POST the
/// page sends once it is live, not here.
#[server]
pub async fn load_credits_page(
    session_id: Option<String>,
    page: u32,
) -> Result<Option<CreditsOverview>, ApiError> {
    use backend::{ids::CheckoutSessionId, purchases, rate_limit::Limited};

    let Some(user) = crate::auth::ssr::optional_user().await? else {
        return Ok(None);
    };
    let state = expect_context::<backend::AppState>();
    let checkout = match session_id.filter(|s| !s.is_empty()) {
        Some(raw) => match CheckoutSessionId::parse(raw) {
            // Over the limit: no call to Stripe; the webhook still fulfils it.
            Ok(_) if state.limits.check(Limited::Confirm, user.id).is_err() => {
                Some(CheckoutReturn::Unknown)
            }
            Ok(session) => ssr::confirm(&state, user.id, &session).await,
            Err(_) => Some(CheckoutReturn::Unknown),
        },
        None => None,
    };
    let page = page.max(1);
    let size = i64::from(HISTORY_PAGE_SIZE);
    let mut records =
        purchases::history(&state.pool, user.id, size + 1, (i64::from(page) - 1) * size)
            .await
            .map_err(|e| ssr::failed("loading your purchases", e))?;
    let has_more = records.len() > HISTORY_PAGE_SIZE as usize;
    records.truncate(HISTORY_PAGE_SIZE as usize);
    // After a checkout was just confirmed, its grant must show: read the
    // wallet afresh rather than share what the header may have read before.
    let wallet = if checkout.is_some() {
        crate::wallet::ssr::wallet(&state.pool, user.id).await?
    } else {
        crate::wallet::ssr::wallet_view(
            crate::wallet::ssr::glance(&state.pool, user.id)
                .await?
                .wallet,
        )
    };
    Ok(Some(CreditsOverview {
        balance: wallet.balance,
        wallet,
        purchases: records.into_iter().map(PurchaseView::from).collect(),
        page,
        has_more,
        checkout,
    }))
}

/// Closes the checkout the buyer left without paying (Checkout's cancel URL
/// names the purchase): its Stripe session is expired and the purchase
/// marked expired; a purchase no longer pending is left as it is. Answers
/// the purchase as it stands. Not the caller's (or no such purchase) → 404.
#[server(endpoint = "abandon_checkout")]
pub async fn abandon_checkout(purchase: PurchaseId) -> Result<PurchaseView, ApiError> {
    let user = crate::auth::ssr::require_user().await?;
    let state = expect_context::<backend::AppState>();
    match backend::checkout::abandon(&state.pool, &state.stripe, user.id, purchase).await {
        Ok(Some(record)) => Ok(record.into()),
        Ok(None) => Err(ssr::unknown_purchase()),
        Err(error) => Err(ssr::failed("closing an abandoned checkout", error)),
    }
}

/// Starts Checkout for `package_code`; answers the URL to send the buyer to.
#[server]
pub async fn buy_credits(package_code: PackageCode) -> Result<String, ApiError> {
    let user = crate::auth::ssr::require_user().await?;
    let state = expect_context::<backend::AppState>();
    let redirect = backend::checkout::buy(&state, &user, &package_code, Default::default()).await?;
    crate::auth::ssr::follow_in_plain_forms(&redirect.url);
    Ok(redirect.url)
}

/// The human message of a server function error.
pub fn error_message(error: &ApiError) -> String {
    match error.code {
        // The API's wording speaks to programs; a person's session ran out.
        ErrorCode::NotAuthenticated | ErrorCode::InvalidToken => {
            "Your session has expired. Log in again to continue where you were.".to_owned()
        }
        _ => error.detail.clone(),
    }
}

#[cfg(feature = "ssr")]
impl From<backend::purchases::PurchaseRecord> for PurchaseView {
    fn from(record: backend::purchases::PurchaseRecord) -> Self {
        use crate::components::local_time::iso;
        PurchaseView {
            id: record.id.to_string(),
            package_name: record.package_name,
            credits: record.amount_credits,
            amount_paid: record.amount_paid,
            status: record.status,
            created_at: iso(record.created_at),
            completed_at: record.completed_at.map(iso),
        }
    }
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use crate::error::{ApiError, ErrorCode};
    use backend::{
        AppState,
        checkout::{self, CheckoutError},
        ids::{CheckoutSessionId, UserId},
    };
    use domain::PurchaseStatus;

    use super::CheckoutReturn;

    /// How long after a checkout settled its banner still shows: a reload
    /// right after paying keeps it; a bookmark or the history a day later
    /// does not announce an old payment again.
    pub const BANNER_LASTS: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

    /// Confirms the checkout the user came back from; never fails the page.
    /// `None`: it settled too long ago to announce (see [`BANNER_LASTS`]).
    pub async fn confirm(
        state: &AppState,
        user: UserId,
        session: &CheckoutSessionId,
    ) -> Option<CheckoutReturn> {
        Some(match checkout::confirm_return(state, user, session).await {
            Ok(purchase) if is_stale(&purchase, chrono::Utc::now()) => return None,
            Ok(purchase) => match purchase.status {
                PurchaseStatus::Pending => CheckoutReturn::Processing {
                    package_name: purchase.package_name,
                },
                PurchaseStatus::Completed
                | PurchaseStatus::Refunded
                | PurchaseStatus::PartiallyRefunded
                | PurchaseStatus::Disputed => CheckoutReturn::Completed {
                    package_name: purchase.package_name,
                    credits: purchase.amount_credits,
                },
                PurchaseStatus::NeedsReview => CheckoutReturn::UnderReview {
                    package_name: purchase.package_name,
                },
                status @ (PurchaseStatus::Failed | PurchaseStatus::Expired) => {
                    CheckoutReturn::Unsuccessful {
                        package_name: purchase.package_name,
                        status,
                    }
                }
            },
            Err(CheckoutError::UnknownSession) => CheckoutReturn::Unknown,
            Err(error) => {
                // Stripe or the database is unavailable: the webhook will
                // still fulfil it; the page says the payment is being confirmed.
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    session = %session,
                    "confirming a checkout on return failed"
                );
                CheckoutReturn::Unknown
            }
        })
    }

    /// A settled purchase whose moment has passed; one still pending never is.
    pub fn is_stale(
        purchase: &backend::purchases::PurchaseRecord,
        now: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        purchase.status != PurchaseStatus::Pending
            && now - purchase.completed_at.unwrap_or(purchase.created_at) > BANNER_LASTS
    }

    /// 404: the purchase does not exist or is someone else's (the same answer for both).
    pub fn unknown_purchase() -> ApiError {
        ApiError::new(
            ErrorCode::UnknownPurchase,
            "There is no such checkout of yours.",
        )
    }

    /// Our fault: logged with its cause chain, answered `internal_error`.
    pub fn failed(what: &str, error: impl std::error::Error + 'static) -> ApiError {
        tracing::error!("{what} failed");
        crate::error::ssr::internal(ErrorCode::InternalError, &error)
    }
}
