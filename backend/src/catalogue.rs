//! Keeping Stripe's products and prices in step with `credit_packages`
//! (the `sync-stripe-catalogue` command). Idempotent: run it as often as you like.

use sqlx::PgPool;

use crate::{
    packages::{self, PackageError},
    stripe::{StripeError, StripeGateway},
};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Package(#[from] PackageError),
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
    pub price_id: Option<String>,
    pub archived: bool,
}

/// Active packages get a product and a current one-time price (found by
/// lookup key; a changed amount makes a new price and archives the old one);
/// inactive packages have their price archived.
pub async fn sync(pool: &PgPool, stripe: &StripeGateway) -> Result<Vec<Synced>, SyncError> {
    let mut report = Vec::new();
    for package in packages::list_all(pool).await? {
        let code = package.code.to_string();
        let stripe_err = |source| SyncError::Stripe {
            code: code.clone(),
            source,
        };
        if package.is_active {
            let (product_id, price_id) = stripe.sync_package(&package).await.map_err(stripe_err)?;
            packages::set_stripe_ids(pool, &package.code, &product_id, &price_id).await?;
            report.push(Synced {
                code,
                price_id: Some(price_id),
                archived: false,
            });
        } else if let Some(price_id) = &package.stripe_price_id {
            stripe.archive_price(price_id).await.map_err(stripe_err)?;
            report.push(Synced {
                code,
                price_id: None,
                archived: true,
            });
        }
    }
    Ok(report)
}
