//! The credit ledger: reading balances. Entries are written only inside the
//! settlement transactions of `purchases`, next to the status change they record.

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
