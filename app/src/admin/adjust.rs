//! A manual credit adjustment from the purchase page: add (or with a minus
//! sign remove) credits for a user, with a reason. The form sends the
//! `request_id` it was rendered with, so a resubmission counts once.

use domain::ids::UserId;
use leptos::prelude::*;

use crate::error::ApiError;

/// Adjusts `user_id`'s balance by `amount` credits (`500`, `-200`,
/// `1,000`) and says what happened.
#[server(endpoint = "adjust_credits")]
pub async fn adjust_credits(
    user_id: UserId,
    amount: String,
    reason: String,
    request_id: String,
) -> Result<String, ApiError> {
    use backend::admin::{self, AdjustmentReason, CreditAdjustment};
    use domain::Credits;
    use uuid::Uuid;

    use super::ssr::{bad_input, require_admin, state};
    use crate::error::ErrorCode;

    let admin = require_admin().await?;
    let state = state();
    let user = user_id;
    let amount: i64 = amount.trim().replace(',', "").parse().map_err(|_| {
        bad_input(
            ErrorCode::InvalidAdjustment,
            "Credits must be a whole number, such as 500 or -200.",
        )
    })?;
    let adjustment = CreditAdjustment {
        user,
        amount: Credits::signed(amount),
        reason: AdjustmentReason::parse(&reason)?,
        request_id: request_id.trim().parse().unwrap_or_else(|_| Uuid::new_v4()),
    };
    let outcome = admin::adjust(&state, admin.id, &adjustment).await?;
    Ok(if outcome.applied {
        format!(
            "Adjusted by {} credits; the balance is now {}.",
            adjustment.amount, outcome.balance_after
        )
    } else {
        format!(
            "This adjustment was already applied; the balance is {}.",
            outcome.balance_after
        )
    })
}
