//! What a page shows of the signed-in user wherever it is (the header's
//! balance and plan) and what the credits page shows beside it (the
//! wallet's breakdown), read in one statement, at most once a request.

use std::sync::{Arc, LazyLock};

use sqlx::PgPool;
use tokio::sync::OnceCell;

use crate::{
    ids::UserId,
    subscriptions::{manage::TRIAL, state::live_statuses},
    wallet::{BREAKDOWN_SQL, Breakdown, BreakdownRow, EXPIRING_WITHIN_DAYS, WalletError},
};

/// The user's wallet, their plan, and the version of the packs on sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glance {
    pub wallet: Breakdown,
    /// The live plan's tier name (`None`: no active plan).
    pub tier: Option<String>,
    /// `catalogue_version` as of this read: the packs kept by
    /// [`crate::packages::CatalogueCache`] at this version are current.
    pub catalogue_version: i64,
}

/// The breakdown's row, the newest live subscription's tier (its name, or
/// the trial's for a plan without a tier) and the catalogue's version.
static GLANCE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "select w.*, \
                (select coalesce(t.tier_name, 'Trial') \
                   from (select tier_code from subscriptions \
                          where user_id = $1 and status = any($3) \
                          order by started_at desc limit 1) s \
                   left join subscription_tiers t on t.tier_code = coalesce(s.tier_code, $4)) as tier, \
                (select version from catalogue_version) as catalogue_version \
         from ({BREAKDOWN_SQL}) w"
    )
});

#[derive(sqlx::FromRow)]
struct GlanceRow {
    #[sqlx(flatten)]
    wallet: BreakdownRow,
    tier: Option<String>,
    catalogue_version: i64,
}

/// [`Glance`] for `user`: one round trip, one snapshot.
pub async fn glance(pool: &PgPool, user: UserId) -> Result<Glance, WalletError> {
    let row: GlanceRow = sqlx::query_as(GLANCE_SQL.as_str())
        .bind(user)
        .bind(EXPIRING_WITHIN_DAYS as i32)
        .bind(live_statuses())
        .bind(TRIAL)
        .fetch_one(pool)
        .await?;
    Ok(Glance {
        wallet: row.wallet.into(),
        tier: row.tier,
        catalogue_version: row.catalogue_version,
    })
}

/// A request's [`glance`], read by whichever of its parts asks first (the
/// header, the page) and shared with the others. A failed read is not
/// kept: the next part asks again. Clones share the one read.
#[derive(Clone, Default)]
pub struct GlanceOnce {
    read: Arc<OnceCell<(UserId, Glance)>>,
}

impl GlanceOnce {
    pub async fn get(&self, pool: &PgPool, user: UserId) -> Result<Glance, WalletError> {
        let (reader, read) = self
            .read
            .get_or_try_init(|| async { Ok::<_, WalletError>((user, glance(pool, user).await?)) })
            .await?;
        if *reader == user {
            Ok(read.clone())
        } else {
            // Never one user's wallet for another (a request has one user).
            glance(pool, user).await
        }
    }
}
