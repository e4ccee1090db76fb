//! The wallet as people see it: the balance's breakdown and the activity
//! list (what was granted, spent, held, expired, refunded). View types and
//! the server functions that fill them; the rules live in `backend::wallet`.

#[allow(unused_imports)]
use crate::error::{ApiError, ErrorCode};
use domain::Credits;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Activity rows per page.
pub const ACTIVITY_PAGE_SIZE: i64 = 25;

/// The days the credit-use chart covers.
pub const USAGE_DAYS: i32 = 30;

/// Credits of one grant that expire soon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiringView {
    /// "Plan allowance", "Promotional", …
    pub kind: String,
    pub credits: Credits,
    /// Formatted on the server (UTC).
    pub expires_at: String,
}

/// A balance and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalletView {
    pub balance: Credits,
    pub available: Credits,
    pub held: Credits,
    pub paid: Credits,
    pub granted: Credits,
    /// Owed after a refund of credits already spent: spending waits.
    pub debt: Credits,
    pub expiring: Vec<ExpiringView>,
    pub expiring_soon: Credits,
}

/// One line of the activity list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityView {
    pub id: String,
    /// `grant`, `debit`, `hold`, `expiry`, `refund`.
    pub kind: String,
    /// For people: "Purchase", "Spent", "Hold (open)", …
    pub label: String,
    pub description: String,
    pub service: Option<String>,
    pub model: Option<String>,
    /// Signed credits (a hold: minus what it reserves).
    pub amount: Credits,
    pub balance_after: Option<Credits>,
    pub at: String,
}

/// A page of activity, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityPage {
    pub items: Vec<ActivityView>,
    /// Credits spent per day over the last [`USAGE_DAYS`] days, oldest
    /// first (on the first page only).
    pub daily_use: Vec<crate::components::bar_chart::Bar>,
    /// `?cursor=` of the next (older) page.
    pub next_cursor: Option<String>,
}

/// The caller's activity; `None` for anonymous visitors.
#[server]
pub async fn load_activity(cursor: Option<String>) -> Result<Option<ActivityPage>, ApiError> {
    let Some(user) = crate::auth::ssr::optional_user().await? else {
        return Ok(None);
    };
    let state = expect_context::<backend::AppState>();
    ssr::activity(&state.pool, user.id, cursor.as_deref())
        .await
        .map(Some)
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    //! Turning the wallet's records into views, on the server.

    use backend::{
        account::{Glance, GlanceOnce},
        wallet::{self, Breakdown, HoldStatus, Transaction, TransactionFilter},
    };
    use domain::{Credits, ids::UserId};
    use sqlx::PgPool;

    use super::{
        ACTIVITY_PAGE_SIZE, ActivityPage, ActivityView, ExpiringView, USAGE_DAYS, WalletView,
    };
    use crate::components::bar_chart::Bar;
    use crate::error::{ApiError, ErrorCode};

    pub fn wallet_view(b: Breakdown) -> WalletView {
        WalletView {
            balance: Credits::signed(b.balance),
            available: Credits::signed(b.available),
            held: Credits::signed(b.held),
            paid: Credits::signed(b.paid),
            granted: Credits::signed(b.granted),
            debt: Credits::signed(b.debt),
            expiring_soon: Credits::signed(b.expiring_soon()),
            expiring: b
                .expiring
                .into_iter()
                .map(|e| ExpiringView {
                    kind: e.kind.label().to_owned(),
                    credits: Credits::signed(e.amount),
                    expires_at: e.expires_at.format("%-d %b %Y").to_string(),
                })
                .collect(),
        }
    }

    pub async fn wallet(pool: &PgPool, user: UserId) -> Result<WalletView, ApiError> {
        Ok(wallet_view(wallet::breakdown(pool, user).await?))
    }

    /// `user`'s wallet, plan and catalogue version: read once for a whole
    /// page render (the header and the page share it, through the request's
    /// [`GlanceOnce`]), on its own anywhere else.
    pub async fn glance(pool: &PgPool, user: UserId) -> Result<Glance, ApiError> {
        Ok(match leptos::prelude::use_context::<GlanceOnce>() {
            Some(once) => once.get(pool, user).await?,
            None => backend::account::glance(pool, user).await?,
        })
    }

    /// A page of `user`'s activity after `cursor`.
    pub async fn activity(
        pool: &PgPool,
        user: UserId,
        cursor: Option<&str>,
    ) -> Result<ActivityPage, ApiError> {
        let after = match cursor.filter(|c| !c.is_empty()) {
            Some(text) => Some(wallet::Cursor::decode(text).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidQuery,
                    "That page of activity does not exist.",
                )
            })?),
            None => None,
        };
        let filter = TransactionFilter {
            limit: ACTIVITY_PAGE_SIZE,
            after,
            ..TransactionFilter::default()
        };
        let daily_use = if filter.after.is_some() {
            Vec::new()
        } else {
            wallet::daily_usage(pool, user, USAGE_DAYS)
                .await?
                .into_iter()
                .map(|(day, used)| Bar {
                    label: day.to_string(),
                    value: used,
                    title: format!("{} credits", Credits::signed(used)),
                })
                .collect()
        };
        let items = wallet::transactions(pool, user, &filter).await?;
        let next_cursor = (items.len() as i64 == ACTIVITY_PAGE_SIZE)
            .then(|| items.last().map(|t| t.cursor.encode()))
            .flatten();
        Ok(ActivityPage {
            items: items.into_iter().map(activity_view).collect(),
            daily_use,
            next_cursor,
        })
    }

    fn activity_view(t: Transaction) -> ActivityView {
        let label = match (t.source.as_str(), t.hold_status) {
            ("hold", Some(status)) => format!("Hold ({})", status_word(status)),
            ("purchase", _) => "Purchase".into(),
            ("subscription_allowance", _) => "Plan allowance".into(),
            ("promotional", _) => "Promotional credits".into(),
            ("adjustment", _) => "Adjustment".into(),
            ("usage", Some(_)) => "Spent (from a hold)".into(),
            ("usage", None) => "Spent".into(),
            ("expiry", _) => "Expired".into(),
            ("refund", _) => "Refund".into(),
            ("dispute", _) if t.amount > 0 => "Dispute won".into(),
            ("dispute", _) => "Dispute".into(),
            (other, _) => other.to_owned(),
        };
        ActivityView {
            id: t.id,
            kind: t.kind.as_str().to_owned(),
            label,
            description: t.description,
            service: t.service,
            model: t.model,
            amount: Credits::signed(t.amount),
            balance_after: t.balance_after.map(Credits::signed),
            at: crate::components::local_time::iso(t.created_at),
        }
    }

    fn status_word(status: HoldStatus) -> &'static str {
        match status {
            HoldStatus::Open => "open",
            HoldStatus::Captured => "captured",
            HoldStatus::Released => "released",
            HoldStatus::Expired => "expired",
        }
    }
}
