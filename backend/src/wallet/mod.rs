//! The wallet: credits as grants, spent by Ops-Center services.
//!
//! Every credit in a balance belongs to a grant (paid, allowance,
//! promotional, adjustment; `credit_grants`), kept by the ledger's own
//! trigger in the transaction of each ledger row, whatever wrote it (see
//! `migrations/20261206000001_wallet.sql`). Services spend through
//! [`spend`] and reserve through [`hold`] / [`capture`] / [`release`]; each
//! is one call of a database function, so a spend is one round trip and one
//! commit, and two spends of one user are serialised on their balance row
//! only. [`sweep`] expires grants and holds; [`audit::violations`] checks the
//! invariants.

pub mod audit;
mod grants;
mod ops;
mod read;

use domain::{
    ids::{GrantId, UserId},
    wallet::{GrantKind, IdempotencyKey, SpendAmount},
};
use serde::{Deserialize, Serialize};

pub use grants::{
    NewPromotion, Promoted, PromotionError, PromotionTarget, SweepReport, grant_promotional, sweep,
    sweep_every,
};
pub use ops::{
    CaptureOutcome, Captured, Debited, Held, HoldOutcome, ReleaseOutcome, SpendOutcome, Spent,
    capture, capture_amount, hold, release, spend,
};
pub(crate) use read::{BREAKDOWN_SQL, BreakdownRow};
pub use read::{
    Breakdown, CSV_COLUMNS, Cursor, EXPIRING_WITHIN_DAYS, Expiring, Transaction, TransactionFilter,
    TransactionKind, activity_csv, breakdown, daily_usage, transactions,
};

/// A service that spends credits: the OAuth client of its access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spender {
    pub client_id: String,
}

/// One spend or hold as a service asks for it, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDebit {
    pub user: UserId,
    pub amount: SpendAmount,
    pub description: String,
    /// `{service, model, units, …}` as the service sent it (an object).
    pub metadata: serde_json::Value,
    pub key: IdempotencyKey,
}

impl NewDebit {
    /// `metadata.service` when the service names itself there, else its
    /// client id: what `/transactions?service=` filters on.
    pub fn service(&self, spender: &Spender) -> String {
        self.metadata
            .get("service")
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .unwrap_or(&spender.client_id)
            .to_owned()
    }

    /// The request's fingerprint: the same key with another request is
    /// refused. Object keys are sorted, so key order does not matter.
    pub(crate) fn fingerprint(&self, extra: &str) -> String {
        use sha2::{Digest, Sha256};
        let canonical = serde_json::json!({
            "user": self.user,
            "amount": self.amount.get(),
            "description": self.description,
            "metadata": canonical(&self.metadata),
            "extra": extra,
        });
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// `value` with every object's keys in sorted order.
fn canonical(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let mut sorted = serde_json::Map::new();
            for (key, value) in entries {
                sorted.insert(key.clone(), canonical(value));
            }
            serde_json::Value::Object(sorted)
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(canonical).collect())
        }
        other => other.clone(),
    }
}

/// One grant's part in funding a debit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funding {
    pub grant_id: GrantId,
    pub kind: GrantKind,
    pub amount: i64,
}

/// Who a spend is for, as the service names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    Id(UserId),
    /// Their Keycloak subject.
    Subject(String),
}

/// The user `account` names, if they exist here.
pub async fn resolve(
    pool: &sqlx::PgPool,
    account: &Account,
) -> Result<Option<UserId>, sqlx::Error> {
    match account {
        Account::Id(id) => {
            sqlx::query_scalar("select id from users where id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
        }
        Account::Subject(sub) => {
            sqlx::query_scalar("select id from users where keycloak_sub = $1")
                .bind(sub)
                .fetch_optional(pool)
                .await
        }
    }
}

/// Someone whose wallet an admin looks up.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WalletOwner {
    pub id: UserId,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// The user with this id, or else this e-mail (case-insensitive).
pub async fn find_owner(
    pool: &sqlx::PgPool,
    query: &str,
) -> Result<Option<WalletOwner>, sqlx::Error> {
    let query = query.trim();
    if let Ok(id) = query.parse::<uuid::Uuid>() {
        return sqlx::query_as("select id, email, name from users where id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await;
    }
    sqlx::query_as("select id, email, name from users where lower(email) = lower($1) order by created_at limit 1")
        .bind(query)
        .fetch_optional(pool)
        .await
}

/// A hold's lifecycle (`credit_holds.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    Open,
    Captured,
    Released,
    Expired,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Open => "open",
            HoldStatus::Captured => "captured",
            HoldStatus::Released => "released",
            HoldStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            HoldStatus::Open,
            HoldStatus::Captured,
            HoldStatus::Released,
            HoldStatus::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("the database answered an unknown {what}: {value:?}")]
    Corrupt { what: &'static str, value: String },
}
