//! Credit packages: the view type the page shows and the server function that loads them.

#[allow(unused_imports)]
use crate::error::{ApiError, ErrorCode};
use domain::{Cents, Credits, PackageCode};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A package as the browser sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageView {
    pub code: PackageCode,
    pub name: String,
    pub description: String,
    pub credits: Credits,
    pub price: Cents,
    pub discount_percentage: u8,
    pub is_popular: bool,
}

impl PackageView {
    /// What 1,000 credits cost in this package.
    pub fn price_per_thousand(&self) -> Option<Cents> {
        self.price.per_thousand(self.credits)
    }
}

#[cfg(feature = "ssr")]
impl From<backend::packages::CreditPackage> for PackageView {
    fn from(package: backend::packages::CreditPackage) -> Self {
        PackageView {
            code: package.code,
            name: package.name,
            description: package.description,
            credits: package.credits,
            price: package.price,
            discount_percentage: package.discount_percentage,
            is_popular: package.is_popular,
        }
    }
}

/// The packages on sale, in display order. Public: anyone may see the catalogue.
#[server]
pub async fn list_packages() -> Result<Vec<PackageView>, ApiError> {
    let state = expect_context::<backend::AppState>();
    // A signed-in request reads its user's glance anyway (for the header):
    // the catalogue's version in it says whether the packs kept are current.
    let current = match crate::auth::ssr::optional_user().await {
        Ok(Some(user)) => crate::wallet::ssr::glance(&state.pool, user.id)
            .await
            .ok()
            .map(|glance| glance.catalogue_version),
        _ => None,
    };
    let packages = state
        .catalogue
        .active(&state.pool, current)
        .await
        .map_err(|error| {
            let mut failed = crate::error::ssr::internal(ErrorCode::InternalError, &error);
            failed.detail = "The packages could not be loaded. Please try again.".into();
            failed
        })?;
    Ok(packages.iter().cloned().map(PackageView::from).collect())
}
