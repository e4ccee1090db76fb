//! An admin refund from the purchase page: `amount` in dollars (blank: all
//! that is left) through Stripe; the credits come back through the refund
//! path. The form sends the `request_id` it was rendered with, so a
//! resubmission refunds once.

use domain::ids::PurchaseId;
use leptos::prelude::*;

use crate::error::ApiError;

/// Refunds `amount` dollars of the purchase (everything left when blank)
/// and says what happened.
#[server(endpoint = "refund_purchase")]
pub async fn refund_purchase(
    id: PurchaseId,
    amount: String,
    request_id: String,
) -> Result<String, ApiError> {
    use super::ssr::{bad_input, dollars, require_admin, state};
    use crate::error::ErrorCode;

    let admin = require_admin().await?;
    let state = state();
    let request = backend::admin::AdminRefund {
        purchase: id,
        amount: dollars(&amount, "The refund amount")?,
        request_id: request_id.trim().parse().map_err(|_| {
            bad_input(
                ErrorCode::InvalidBody,
                "The form is out of date; please reload the page.",
            )
        })?,
    };
    let outcome = backend::admin::refund(&state, admin.id, &request).await?;
    let status = outcome.status.as_str().replace('_', " ");
    Ok(if outcome.applied {
        format!(
            "Refunded {} (refund {}). {} refunded in all; the purchase is now {status}.",
            outcome.amount, outcome.refund_id, outcome.refunded_total
        )
    } else {
        format!(
            "This refund was already made (refund {}). {} refunded in all; the purchase is {status}.",
            outcome.refund_id, outcome.refunded_total
        )
    })
}
