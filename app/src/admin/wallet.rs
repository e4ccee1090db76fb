//! Any user's wallet for admins (breakdown and activity), and promotional
//! credits for one user or for every subscriber of a tier.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{
    error::ApiError,
    wallet::{ActivityPage, WalletView},
};

/// A user's wallet as an admin sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminWalletView {
    pub user_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub wallet: WalletView,
    pub activity: ActivityPage,
    /// Sent back with the promotion form: a resubmission grants once.
    pub promotion_request_id: String,
}

/// The wallets page: the tiers to promote to, and the user looked up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminWalletsView {
    /// (code, name) of every tier.
    pub tiers: Vec<(String, String)>,
    /// `None` until someone is looked up; `Some(None)`: nobody matched.
    pub found: Option<Option<AdminWalletView>>,
    pub tier_request_id: String,
}

/// The user `user` names (an id or an e-mail), with a page of activity.
#[server(endpoint = "admin_wallet")]
pub async fn admin_wallet(
    user: Option<String>,
    cursor: Option<String>,
) -> Result<AdminWalletsView, ApiError> {
    use super::ssr::{require_admin, state};

    require_admin().await?;
    let state = state();
    let tiers = backend::subscriptions::tiers::list(&state.pool)
        .await?
        .into_iter()
        .map(|t| (t.code, t.name))
        .collect();
    let found = match user.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(query) => Some(
            match backend::wallet::find_owner(&state.pool, query).await? {
                None => None,
                Some(owner) => Some(AdminWalletView {
                    user_id: owner.id.to_string(),
                    email: owner.email,
                    name: owner.name,
                    wallet: crate::wallet::ssr::wallet(&state.pool, owner.id).await?,
                    activity: crate::wallet::ssr::activity(
                        &state.pool,
                        owner.id,
                        cursor.as_deref(),
                    )
                    .await?,
                    promotion_request_id: uuid::Uuid::new_v4().to_string(),
                }),
            },
        ),
    };
    Ok(AdminWalletsView {
        tiers,
        found,
        tier_request_id: uuid::Uuid::new_v4().to_string(),
    })
}

/// Grants `amount` promotional credits to `user_id`, or to every live
/// subscriber of `tier`, expiring at the end of `expires_on`
/// (`YYYY-MM-DD`, UTC; empty: never), with a reason. Says what happened.
#[server(endpoint = "grant_promotion")]
pub async fn grant_promotion(
    user_id: Option<String>,
    tier: Option<String>,
    amount: String,
    reason: String,
    expires_on: Option<String>,
    request_id: String,
) -> Result<String, ApiError> {
    use backend::{
        admin::AdjustmentReason,
        ids::UserId,
        wallet::{NewPromotion, PromotionTarget},
    };
    use domain::Credits;

    use super::ssr::{bad_input, require_admin, state};
    use crate::error::ErrorCode;

    let admin = require_admin().await?;
    let state = state();
    let target = match (
        user_id.filter(|u| !u.trim().is_empty()),
        tier.filter(|t| !t.trim().is_empty()),
    ) {
        (Some(user), None) => PromotionTarget::User(
            user.trim()
                .parse::<UserId>()
                .map_err(|_| ApiError::new(ErrorCode::UnknownUser, "There is no such user."))?,
        ),
        (None, Some(tier)) => PromotionTarget::Tier(tier.trim().to_owned()),
        _ => {
            return Err(bad_input(
                ErrorCode::InvalidPromotion,
                "Choose one user or one tier.",
            ));
        }
    };
    let amount: i64 = amount.trim().replace(',', "").parse().map_err(|_| {
        bad_input(
            ErrorCode::InvalidPromotion,
            "Credits must be a whole number, such as 500.",
        )
    })?;
    let expires_at = match expires_on
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => None,
        Some(date) => Some(
            chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(23, 59, 59))
                .map(|at| at.and_utc())
                .ok_or_else(|| {
                    bad_input(
                        ErrorCode::InvalidPromotion,
                        "The expiry must be a date, such as 2027-01-31.",
                    )
                })?,
        ),
    };
    let promotion = NewPromotion {
        target,
        amount: Credits::signed(amount),
        reason: AdjustmentReason::parse(&reason)?,
        expires_at,
        request_id: request_id
            .trim()
            .parse()
            .unwrap_or_else(|_| uuid::Uuid::new_v4()),
    };
    let done = backend::wallet::grant_promotional(&state.pool, admin.id, &promotion).await?;
    let expiry = match expires_at {
        Some(at) => format!(", expiring {}", at.format("%-d %b %Y")),
        None => String::new(),
    };
    Ok(match done.users {
        0 => "Nobody received credits: the tier has no live subscribers, or this form was already sent.".into(),
        1 => format!("Granted {} promotional credits{expiry}.", Credits::signed(done.amount_each)),
        n => format!(
            "Granted {} promotional credits to each of {n} users{expiry}.",
            Credits::signed(done.amount_each)
        ),
    })
}
