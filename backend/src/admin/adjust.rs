//! Manual credit adjustments: an admin adds or removes credits with a
//! reason. One ledger row (source `adjustment`, reference
//! `adjustment:<request id>`) and one audit row, in one transaction; the
//! balance trigger keeps the balance equal to the sum of the ledger.

use domain::{Credits, MoneyError};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    AppState,
    audit::{self, Actor},
    ids::UserId,
    ledger::{self, LedgerSource},
    rate_limit::{Limited, RateLimited},
};

/// Why the balance changes: trimmed, 3 to 500 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdjustmentReason(String);

impl AdjustmentReason {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 500;

    pub fn parse(text: &str) -> Result<Self, AdjustmentError> {
        let text = text.trim();
        let chars = text.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(AdjustmentError::ReasonRequired);
        }
        if chars > Self::MAX_CHARS {
            return Err(AdjustmentError::ReasonTooLong);
        }
        Ok(AdjustmentReason(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An admin's change to a user's balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditAdjustment {
    pub user: UserId,
    /// Positive adds credits, negative removes them; never zero.
    pub amount: Credits,
    pub reason: AdjustmentReason,
    /// Makes the adjustment idempotent: the same request id is applied once
    /// (a form can send a fresh UUID with each submission).
    pub request_id: Uuid,
}

#[derive(Debug, thiserror::Error)]
pub enum AdjustmentError {
    #[error("there is no user {0}")]
    UnknownUser(UserId),
    #[error("the adjustment must add or remove at least one credit")]
    ZeroAmount,
    #[error(
        "a reason is required (at least {} characters)",
        AdjustmentReason::MIN_CHARS
    )]
    ReasonRequired,
    #[error(
        "the reason must be at most {} characters",
        AdjustmentReason::MAX_CHARS
    )]
    ReasonTooLong,
    #[error(
        "an adjustment must be at most {} credits either way",
        Credits::signed(Credits::MAX_ADJUSTMENT)
    )]
    TooLarge,
    #[error("the balance is {balance} credits; adjusting by {amount} would make it negative")]
    WouldGoNegative { balance: Credits, amount: Credits },
    #[error(
        "the balance is {balance} credits; adjusting by {amount} would take it above {}",
        Credits::signed(Credits::MAX_BALANCE)
    )]
    BalanceTooHigh { balance: Credits, amount: Credits },
    /// The admin adjusts too often (see [`adjust`]).
    #[error(transparent)]
    RateLimited(#[from] RateLimited),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// What the adjustment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdjustmentOutcome {
    pub ledger_id: i64,
    /// The balance right after this entry.
    pub balance_after: Credits,
    /// `false` when this request id had been applied before (nothing changed now).
    pub applied: bool,
}

/// The adjustment, as the JSON API and the purchase page make it: the
/// admin's rate limit, then [`adjust_credits`].
pub async fn adjust(
    state: &AppState,
    admin: UserId,
    adjustment: &CreditAdjustment,
) -> Result<AdjustmentOutcome, AdjustmentError> {
    state.limits.check(Limited::Adjustment, admin)?;
    adjust_credits(&state.pool, admin, adjustment).await
}

/// Applies `adjustment` as `admin`. Refuses amounts beyond
/// [`Credits::MAX_ADJUSTMENT`] and balances below zero or above
/// [`Credits::MAX_BALANCE`].
pub async fn adjust_credits(
    pool: &PgPool,
    admin: UserId,
    adjustment: &CreditAdjustment,
) -> Result<AdjustmentOutcome, AdjustmentError> {
    Credits::adjustment(adjustment.amount.get()).map_err(|e| match e {
        MoneyError::Zero => AdjustmentError::ZeroAmount,
        _ => AdjustmentError::TooLarge,
    })?;
    let reference = format!("adjustment:{}", adjustment.request_id);
    let mut tx = pool.begin().await?;
    let exists: bool = sqlx::query_scalar("select exists (select 1 from users where id = $1)")
        .bind(adjustment.user)
        .fetch_one(&mut *tx)
        .await?;
    if !exists {
        return Err(AdjustmentError::UnknownUser(adjustment.user));
    }
    if let Some(done) = existing(&mut tx, &reference).await? {
        return Ok(done);
    }
    // Lock the balance so a concurrent removal cannot slip below zero.
    let balance: i64 =
        sqlx::query_scalar("select balance from credit_balances where user_id = $1 for update")
            .bind(adjustment.user)
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or(0);
    let balance = Credits::signed(balance);
    match balance.checked_add(adjustment.amount).map(Credits::get) {
        Some(after) if after < 0 => {
            return Err(AdjustmentError::WouldGoNegative {
                balance,
                amount: adjustment.amount,
            });
        }
        Some(after) if after <= Credits::MAX_BALANCE || adjustment.amount < Credits::ZERO => {}
        _ => {
            return Err(AdjustmentError::BalanceTooHigh {
                balance,
                amount: adjustment.amount,
            });
        }
    }
    let entry = ledger::NewEntry {
        user: adjustment.user,
        amount: adjustment.amount,
        source: LedgerSource::Adjustment,
        reference: &reference,
        purchase: None,
        description: adjustment.reason.as_str(),
        created_at: None,
        expires_at: None,
    };
    let Some(ledger_id) = ledger::append(&mut tx, &entry).await? else {
        // The same request id won a race with us: report its entry.
        drop(tx);
        let mut tx = pool.begin().await?;
        return existing(&mut tx, &reference)
            .await?
            .ok_or(AdjustmentError::Database(sqlx::Error::RowNotFound));
    };
    audit::record(
        &mut tx,
        audit::NewEntry {
            actor: Actor::Admin(admin),
            action: "credits.adjusted",
            user: Some(adjustment.user),
            purchase: None,
            ledger: Some(ledger_id),
            details: json!({ "amount": adjustment.amount.get(), "reason": adjustment.reason.as_str(), "request_id": adjustment.request_id }),
            occurred_at: None,
        },
    )
    .await?;
    let balance_after: i64 =
        sqlx::query_scalar("select balance_after from credit_ledger where id = $1")
            .bind(ledger_id)
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    tracing::info!(user = %adjustment.user, admin = %admin, amount = adjustment.amount.get(), "credits adjusted");
    Ok(AdjustmentOutcome {
        ledger_id,
        balance_after: Credits::signed(balance_after),
        applied: true,
    })
}

async fn existing(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    reference: &str,
) -> Result<Option<AdjustmentOutcome>, sqlx::Error> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("select id, balance_after from credit_ledger where reference = $1")
            .bind(reference)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map(|(ledger_id, balance_after)| AdjustmentOutcome {
        ledger_id,
        balance_after: Credits::signed(balance_after),
        applied: false,
    }))
}
