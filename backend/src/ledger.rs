//! The credit ledger: its entries, appending them and reading balances.
//!
//! Entries are written only through [`append`], inside the transaction of
//! the change they record (a purchase's settlement, an admin adjustment).
//! Each has a unique `reference`, so the same grant or take-back can never
//! be written twice; the balance trigger keeps `credit_balances` equal to
//! the ledger's sum in the same transaction, and the grant trigger makes
//! each credit a grant and funds each debit from grants (`crate::wallet`).

use chrono::{DateTime, Utc};
use domain::Credits;
use sqlx::{PgConnection, PgPool};

use crate::ids::{PurchaseId, UserId};

/// Why a ledger entry exists (`credit_ledger.source`, a checked text column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedgerSource {
    /// A completed purchase granted its credits.
    Purchase,
    /// A refund took (a share of) them back.
    Refund,
    /// An admin changed the balance by hand, with a reason.
    Adjustment,
    /// Credits were spent.
    Usage,
    /// A dispute took the purchase's credits back, or a won one restored them.
    Dispute,
    /// A paid subscription invoice granted its tier's allowance.
    SubscriptionAllowance,
    /// An admin granted promotional credits.
    Promotional,
    /// A grant's unused credits expired.
    Expiry,
}

impl LedgerSource {
    pub const ALL: [LedgerSource; 8] = [
        LedgerSource::Purchase,
        LedgerSource::Refund,
        LedgerSource::Adjustment,
        LedgerSource::Usage,
        LedgerSource::Dispute,
        LedgerSource::SubscriptionAllowance,
        LedgerSource::Promotional,
        LedgerSource::Expiry,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LedgerSource::Purchase => "purchase",
            LedgerSource::Refund => "refund",
            LedgerSource::Adjustment => "adjustment",
            LedgerSource::Usage => "usage",
            LedgerSource::Dispute => "dispute",
            LedgerSource::SubscriptionAllowance => "subscription_allowance",
            LedgerSource::Promotional => "promotional",
            LedgerSource::Expiry => "expiry",
        }
    }

    /// The source stored as `text`, if it is one we know.
    pub fn parse(text: &str) -> Option<Self> {
        LedgerSource::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// One `credit_ledger` row to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry<'a> {
    pub user: UserId,
    /// Positive grants, negative takes back; never zero.
    pub amount: Credits,
    pub source: LedgerSource,
    /// Unique across the ledger (`checkout_session:<id>`, `refund:…`,
    /// `adjustment:<request id>`): the same movement is written once.
    pub reference: &'a str,
    pub purchase: Option<PurchaseId>,
    pub description: &'a str,
    /// When it happened; `None` is now (only demo data is written in the past).
    pub created_at: Option<DateTime<Utc>>,
    /// A grant's expiry (an allowance's period end); `None` never expires.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Appends `entry` on `conn` (inside the caller's transaction) and answers
/// its id; `None` when an entry with its `reference` exists already (the
/// caller then rolls its transaction or savepoint back by dropping it).
pub async fn append(
    conn: &mut PgConnection,
    entry: &NewEntry<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    // `on conflict do nothing` rather than catching the violation: the
    // caller's transaction (perhaps a webhook's, with its event record)
    // stays usable either way.
    sqlx::query_scalar::<_, i64>(
        "insert into credit_ledger (user_id, amount, source, reference, purchase_id, description, created_at, expires_at) \
         values ($1, $2, $3, $4, $5, $6, coalesce($7, now()), $8) \
         on conflict on constraint credit_ledger_reference_key do nothing returning id",
    )
    .bind(entry.user)
    .bind(entry.amount.get())
    .bind(entry.source.as_str())
    .bind(entry.reference)
    .bind(entry.purchase)
    .bind(entry.description)
    .bind(entry.created_at)
    .bind(entry.expires_at)
    .fetch_optional(conn)
    .await
}

/// The credits the entry `reference` of `purchase` moved, if it exists.
pub async fn amount_of(
    conn: &mut PgConnection,
    reference: &str,
    purchase: PurchaseId,
) -> Result<Option<Credits>, sqlx::Error> {
    let amount: Option<i64> = sqlx::query_scalar(
        "select amount from credit_ledger where reference = $1 and purchase_id = $2",
    )
    .bind(reference)
    .bind(purchase)
    .fetch_optional(conn)
    .await?;
    Ok(amount.map(Credits::signed))
}

/// The user's current balance; zero when they never had credits.
pub async fn balance(pool: &PgPool, user: UserId) -> Result<Credits, sqlx::Error> {
    let balance: Option<i64> =
        sqlx::query_scalar("select balance from credit_balances where user_id = $1")
            .bind(user)
            .fetch_optional(pool)
            .await?;
    Ok(Credits::signed(balance.unwrap_or(0)))
}
