//! Keeping Stripe's products and prices in step with `credit_packages` and
//! `subscription_tiers` (the `sync-stripe-catalogue` command). Idempotent:
//! run it as often as you like.

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    packages::{self, PackageError},
    stripe::{StripeError, StripeGateway},
};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error(transparent)]
    Tier(#[from] crate::subscriptions::SubscriptionError),
    #[error("Stripe sync of package {code:?} failed")]
    Stripe {
        code: String,
        #[source]
        source: StripeError,
    },
}

/// One line of the sync report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synced {
    pub code: String,
    pub price_id: Option<domain::ids::PriceId>,
    pub archived: bool,
}

/// Active packages get a product and a current one-time price (found by
/// lookup key; a changed amount makes a new price and archives the old one);
/// inactive packages have their price archived. Then every active tier gets
/// a product and a recurring price per cycle (`subscriptions::tiers::sync`);
/// their lines are named `tier:<code>:<cycle>`.
///
/// Each package is synced with its row locked (`select … for update`), the
/// way admin catalogue changes are: a price changed while the sync runs
/// either waits for the sync to store its ids (and then makes its own
/// price) or is read by it, so a package is never paired with a Stripe
/// price of another amount.
pub async fn sync(pool: &PgPool, stripe: &StripeGateway) -> Result<Vec<Synced>, SyncError> {
    let mut report = Vec::new();
    for listed in packages::list_all(pool).await? {
        if let Some(line) = sync_one(pool, stripe, listed.id).await? {
            report.push(line);
        }
    }
    for tier in crate::subscriptions::tiers::sync(pool, stripe).await? {
        for (cycle, price_id) in [("monthly", tier.monthly), ("yearly", tier.yearly)] {
            if price_id.is_some() {
                report.push(Synced {
                    code: format!("tier:{}:{cycle}", tier.code),
                    price_id,
                    archived: false,
                });
            }
        }
    }
    Ok(report)
}

/// Syncs the package `id` as it is once locked; `None` if it was deleted
/// meanwhile or is inactive with no price to archive.
async fn sync_one(
    pool: &PgPool,
    stripe: &StripeGateway,
    id: Uuid,
) -> Result<Option<Synced>, SyncError> {
    let mut tx = pool.begin().await.map_err(PackageError::from)?;
    let Some(package) = packages::lock(&mut tx, id).await? else {
        return Ok(None);
    };
    let code = package.code.to_string();
    let stripe_err = |source| SyncError::Stripe {
        code: code.clone(),
        source,
    };
    let line = if package.is_active {
        let (product_id, price_id) = stripe.sync_package(&package).await.map_err(stripe_err)?;
        packages::store_stripe_ids(&mut tx, id, &product_id, &price_id).await?;
        Some(Synced {
            code,
            price_id: Some(price_id),
            archived: false,
        })
    } else if let Some(price_id) = &package.stripe_price_id {
        stripe.archive_price(price_id).await.map_err(stripe_err)?;
        Some(Synced {
            code,
            price_id: None,
            archived: true,
        })
    } else {
        None
    };
    tx.commit().await.map_err(PackageError::from)?;
    Ok(line)
}
