//! Spending: one spend, a hold and its capture or release. Each is one call
//! of its database function (one round trip, one commit).

use chrono::{DateTime, Utc};
use domain::{
    ids::HoldId,
    wallet::{HoldTtl, SpendAmount},
};
use sqlx::{PgPool, types::Json};

use super::{Funding, HoldStatus, NewDebit, Spender, WalletError};

/// A debit as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spent {
    /// The ledger row.
    pub transaction_id: i64,
    pub balance_after: i64,
    /// What was still available right after.
    pub available_after: i64,
    pub funded_by: Vec<Funding>,
    /// The stored answer to an earlier request with this key.
    pub replayed: bool,
}

/// What a spend or a hold came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Debited<T> {
    Done(T),
    /// Fewer credits available than asked; nothing changed.
    Insufficient {
        available: i64,
        replayed: bool,
    },
    /// Spending is blocked until a refund's debt is repaid.
    InDebt {
        replayed: bool,
    },
    /// The key was first used for another request.
    KeyReused,
    /// No such user (nothing was recorded, not even the key).
    UnknownUser,
}

pub type SpendOutcome = Debited<Spent>;
pub type HoldOutcome = Debited<Held>;

/// The refusals the database functions answer, as [`Debited`].
fn refusal<T>(
    outcome: &str,
    available: Option<i64>,
    replayed: bool,
) -> Result<Debited<T>, WalletError> {
    Ok(match outcome {
        "insufficient" => Debited::Insufficient {
            available: available.unwrap_or(0),
            replayed,
        },
        "in_debt" => Debited::InDebt { replayed },
        "mismatch" => Debited::KeyReused,
        "unknown_user" => Debited::UnknownUser,
        other => return Err(corrupt("wallet outcome", other)),
    })
}

#[derive(sqlx::FromRow)]
struct SpendRow {
    outcome: String,
    replayed: bool,
    ledger_id: Option<i64>,
    balance_after: Option<i64>,
    available: Option<i64>,
    funded_by: Option<Json<Vec<Funding>>>,
}

/// Spends `debit.amount` of the user's credits for `spender`, never below
/// zero, once per idempotency key.
pub async fn spend(
    pool: &PgPool,
    spender: &Spender,
    debit: &NewDebit,
) -> Result<SpendOutcome, WalletError> {
    let row: SpendRow =
        sqlx::query_as("select * from wallet_spend($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&spender.client_id)
            .bind(debit.key.as_str())
            .bind(debit.fingerprint("spend"))
            .bind(debit.user)
            .bind(debit.amount.get())
            .bind(&debit.description)
            .bind(debit.service(spender))
            .bind(&debit.metadata)
            .fetch_one(pool)
            .await?;
    if row.outcome != "done" {
        return refusal(&row.outcome, row.available, row.replayed);
    }
    Ok(Debited::Done(Spent {
        transaction_id: required(row.ledger_id, "spend ledger id")?,
        balance_after: required(row.balance_after, "spend balance")?,
        available_after: row.available.unwrap_or(0),
        funded_by: row.funded_by.map(|f| f.0).unwrap_or_default(),
        replayed: row.replayed,
    }))
}

/// A hold as placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub hold_id: HoldId,
    pub amount: i64,
    pub expires_at: DateTime<Utc>,
    pub available_after: i64,
    pub replayed: bool,
}

#[derive(sqlx::FromRow)]
struct HoldRow {
    outcome: String,
    replayed: bool,
    hold_id: Option<uuid::Uuid>,
    expires_at: Option<DateTime<Utc>>,
    available: Option<i64>,
}

/// Reserves `debit.amount` for `ttl`: the available balance excludes it
/// until it is captured, released or expires.
pub async fn hold(
    pool: &PgPool,
    spender: &Spender,
    debit: &NewDebit,
    ttl: HoldTtl,
) -> Result<HoldOutcome, WalletError> {
    let row: HoldRow =
        sqlx::query_as("select * from wallet_hold($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(&spender.client_id)
            .bind(debit.key.as_str())
            .bind(debit.fingerprint(&format!("hold:{}", ttl.seconds())))
            .bind(debit.user)
            .bind(debit.amount.get())
            .bind(ttl.seconds())
            .bind(&debit.description)
            .bind(debit.service(spender))
            .bind(&debit.metadata)
            .fetch_one(pool)
            .await?;
    if row.outcome != "done" {
        return refusal(&row.outcome, row.available, row.replayed);
    }
    Ok(Debited::Done(Held {
        hold_id: HoldId::from_uuid(required(row.hold_id, "hold id")?),
        amount: debit.amount.get(),
        expires_at: required(row.expires_at, "hold expiry")?,
        available_after: row.available.unwrap_or(0),
        replayed: row.replayed,
    }))
}

/// A capture as written: `captured` debited, the rest of the hold released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub hold_id: HoldId,
    /// The ledger row; `None` for a capture of zero.
    pub transaction_id: Option<i64>,
    pub captured: i64,
    pub released: i64,
    pub balance_after: i64,
    pub available_after: i64,
    pub funded_by: Vec<Funding>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureOutcome {
    Captured(Captured),
    /// No hold of this service has that id.
    Unknown,
    /// Already released, or captured with another amount.
    NotOpen(HoldStatus),
    /// Its time ran out: it released itself.
    Expired,
    /// More than the hold reserved.
    TooMuch {
        held: i64,
    },
    /// Grants expired under the hold: fewer credits than asked remain.
    Insufficient {
        available: i64,
    },
}

#[derive(sqlx::FromRow)]
struct CaptureRow {
    outcome: String,
    hold_amount: Option<i64>,
    ledger_id: Option<i64>,
    balance_after: Option<i64>,
    available: Option<i64>,
    funded_by: Option<Json<Vec<Funding>>>,
    status: Option<String>,
}

/// Debits `amount` (0 to the held amount) of the hold and releases the
/// rest. Repeating the same capture answers the same result.
pub async fn capture(
    pool: &PgPool,
    spender: &Spender,
    hold: HoldId,
    amount: i64,
) -> Result<CaptureOutcome, WalletError> {
    let row: CaptureRow = sqlx::query_as("select * from wallet_capture($1, $2, $3)")
        .bind(&spender.client_id)
        .bind(hold.as_uuid())
        .bind(amount)
        .fetch_one(pool)
        .await?;
    let held = row.hold_amount.unwrap_or(0);
    Ok(match row.outcome.as_str() {
        "done" => CaptureOutcome::Captured(Captured {
            hold_id: hold,
            transaction_id: row.ledger_id,
            captured: amount,
            released: held - amount,
            balance_after: required(row.balance_after, "capture balance")?,
            available_after: row.available.unwrap_or(0),
            funded_by: row.funded_by.map(|f| f.0).unwrap_or_default(),
        }),
        "unknown" => CaptureOutcome::Unknown,
        "not_open" => CaptureOutcome::NotOpen(status(row.status.as_deref())?),
        "expired" => CaptureOutcome::Expired,
        "too_much" => CaptureOutcome::TooMuch { held },
        "insufficient" => CaptureOutcome::Insufficient {
            available: row.available.unwrap_or(0),
        },
        other => return Err(corrupt("capture outcome", other)),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// Released now, or already (releasing twice is the same).
    Released {
        hold_id: HoldId,
        amount: i64,
    },
    Unknown,
    NotOpen(HoldStatus),
    Expired,
}

/// Releases an open hold of `spender`.
pub async fn release(
    pool: &PgPool,
    spender: &Spender,
    hold: HoldId,
) -> Result<ReleaseOutcome, WalletError> {
    // Expired in passing if its time ran out, so it answers as expired.
    let row: Option<(String, i64)> = sqlx::query_as(
        "update credit_holds set \
             status = case when status = 'open' and expires_at <= now() then 'expired' \
                           when status = 'open' then 'released' else status end, \
             settled_at = coalesce(settled_at, now()) \
         where id = $1 and client_id = $2 \
         returning status, amount",
    )
    .bind(hold.as_uuid())
    .bind(&spender.client_id)
    .fetch_optional(pool)
    .await?;
    let Some((state, amount)) = row else {
        return Ok(ReleaseOutcome::Unknown);
    };
    Ok(match status(Some(&state))? {
        HoldStatus::Released => ReleaseOutcome::Released {
            hold_id: hold,
            amount,
        },
        HoldStatus::Expired => ReleaseOutcome::Expired,
        other => ReleaseOutcome::NotOpen(other),
    })
}

/// Checks that a spend amount fits: used by callers that take a capture
/// amount of zero too.
pub fn capture_amount(amount: i64) -> Option<i64> {
    (amount == 0 || SpendAmount::parse(amount).is_ok()).then_some(amount)
}

fn status(text: Option<&str>) -> Result<HoldStatus, WalletError> {
    let text = text.unwrap_or_default();
    HoldStatus::parse(text).ok_or_else(|| corrupt("hold status", text))
}

fn required<T>(value: Option<T>, what: &'static str) -> Result<T, WalletError> {
    value.ok_or(WalletError::Corrupt {
        what,
        value: "null".into(),
    })
}

fn corrupt(what: &'static str, value: &str) -> WalletError {
    WalletError::Corrupt {
        what,
        value: value.to_owned(),
    }
}
