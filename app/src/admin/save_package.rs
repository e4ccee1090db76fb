//! The catalogue editor's form: create a package (`id` empty) or save
//! changes to one. Validation is the catalogue's (`backend::packages`), so
//! every problem comes back at once as 422 `invalid_package`, as on the
//! JSON API.

use domain::PackageCode;
use leptos::prelude::*;

use crate::error::ApiError;

/// Creates or saves a package and says so. `package_code` must be a valid
/// code (else 422 `invalid_body`; it is ignored when saving, as codes never
/// change); `credits` may have thousands separators, `price` is in dollars
/// (`$1,234.50`); checkboxes send `on` when ticked and nothing otherwise.
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "save_package")]
pub async fn save_package(
    id: String,
    package_code: PackageCode,
    package_name: String,
    description: String,
    credits: String,
    price: String,
    discount_percentage: String,
    is_popular: Option<String>,
    is_active: Option<String>,
) -> Result<String, ApiError> {
    use backend::packages::{self, PackageChanges, PackageInput};

    use super::ssr::{bad_input, dollars, package_id, require_admin, state};
    use crate::error::ErrorCode;

    require_admin().await?;
    let state = state();
    let whole = |text: &str, field: &str| {
        text.trim().replace(',', "").parse::<i64>().map_err(|_| {
            bad_input(
                ErrorCode::InvalidPackage,
                format!("{field} must be a whole number."),
            )
        })
    };
    let credits = whole(credits.as_str(), "Credits")?;
    let price = dollars(&price, "The price")?
        .ok_or_else(|| bad_input(ErrorCode::InvalidPackage, "The price is required."))?;
    let discount = match discount_percentage.trim() {
        "" => 0,
        text => i32::try_from(whole(text, "The discount")?).map_err(|_| {
            bad_input(
                ErrorCode::InvalidPackage,
                "The discount must be between 0 and 100 percent.",
            )
        })?,
    };
    let package = if id.trim().is_empty() {
        let input = PackageInput {
            code: package_code.to_string(),
            name: package_name,
            description,
            credits,
            price_cents: price.get(),
            discount_percentage: discount,
            is_popular: is_popular.is_some(),
            is_active: is_active.is_some(),
        };
        packages::create_package(&state.pool, &state.stripe, &input).await?
    } else {
        let changes = PackageChanges {
            name: Some(package_name),
            description: Some(description),
            credits: Some(credits),
            price_cents: Some(price.get()),
            discount_percentage: Some(discount),
            is_popular: Some(is_popular.is_some()),
            is_active: Some(is_active.is_some()),
        };
        packages::update_package(&state.pool, &state.stripe, package_id(&id)?, &changes).await?
    };
    Ok(format!("Saved {}.", package.name))
}
