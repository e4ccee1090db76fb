//! The credit ledger: reading balances. Entries are written only inside
//! transactions next to the change they record: the settlement transactions of
//! `purchases` (grants and refunds) and admin adjustments
//! (`admin::adjust_credits`), all through `purchases::append_ledger`.

use domain::Credits;
use sqlx::PgPool;

use crate::ids::UserId;

/// The user's current balance; zero when they never had credits.
pub async fn balance(pool: &PgPool, user: UserId) -> Result<Credits, sqlx::Error> {
    let balance: Option<i64> =
        sqlx::query_scalar("select balance from credit_balances where user_id = $1")
            .bind(user)
            .fetch_optional(pool)
            .await?;
    Ok(Credits::signed(balance.unwrap_or(0)))
}
