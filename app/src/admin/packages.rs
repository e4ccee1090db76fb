//! The catalogue editor's list: every package, active or not.

use domain::{Cents, Credits};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A package as the catalogue editor shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminPackageView {
    pub id: String,
    pub code: String,
    pub name: String,
    pub description: String,
    pub credits: Credits,
    pub price: Cents,
    pub discount_percentage: u8,
    pub is_popular: bool,
    pub is_active: bool,
    pub stripe_price_id: Option<String>,
}

#[cfg(feature = "ssr")]
impl From<backend::packages::CreditPackage> for AdminPackageView {
    fn from(p: backend::packages::CreditPackage) -> Self {
        AdminPackageView {
            id: p.id.to_string(),
            code: p.code.to_string(),
            name: p.name,
            description: p.description,
            credits: p.credits,
            price: p.price,
            discount_percentage: p.discount_percentage,
            is_popular: p.is_popular,
            is_active: p.is_active,
            stripe_price_id: p.stripe_price_id.map(String::from),
        }
    }
}

/// Every package, active or not, in display order.
#[server(endpoint = "admin_packages")]
pub async fn admin_packages() -> Result<Vec<AdminPackageView>, ApiError> {
    super::ssr::require_admin().await?;
    let state = super::ssr::state();
    let all = backend::packages::list_all(&state.pool).await?;
    Ok(all.into_iter().map(AdminPackageView::from).collect())
}
