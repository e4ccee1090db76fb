//! Settling a purchase held for review from its page: grant its credits
//! once, or refund the whole payment through Stripe.

use domain::ids::PurchaseId;
use leptos::prelude::*;

use crate::error::ApiError;

/// `action` is `grant` (the purchase's credits, once) or `refund` (the
/// whole payment through Stripe, no credits); says what happened.
#[server(endpoint = "review_purchase")]
pub async fn review_purchase(id: PurchaseId, action: String) -> Result<String, ApiError> {
    use backend::admin::{self, ReviewAction};

    use super::ssr::{bad_input, require_admin, state};
    use crate::error::ErrorCode;

    let admin = require_admin().await?;
    let state = state();
    let action = ReviewAction::parse(&action).ok_or_else(|| {
        bad_input(
            ErrorCode::InvalidAction,
            "The action must be grant or refund.",
        )
    })?;
    let outcome = admin::review_purchase(&state.pool, &state.stripe, admin.id, id, action).await?;
    let status = outcome.status.as_str().replace('_', " ");
    Ok(match outcome.refund_id {
        Some(refund) => format!(
            "Refunded the whole payment (refund {refund}); no credits were granted. The purchase is now {status}."
        ),
        None => format!(
            "Granted {} credits. The purchase is now {status}.",
            domain::Credits::signed(outcome.credits_granted)
        ),
    })
}
