//! Changing the catalogue (admins): create, edit, deactivate and reorder
//! packages, keeping Stripe in step.
//!
//! Each change runs in one transaction with the package row locked, and
//! talks to Stripe before committing: a new or re-priced active package gets
//! its Stripe price (`StripeGateway::sync_package`: Stripe prices are
//! immutable, so a new amount is a new price and the old one is archived);
//! a deactivated one has its price archived. If Stripe fails, nothing
//! changes here. Purchases never change with the catalogue: they keep the
//! snapshot taken when their checkout started.

use domain::{Cents, Credits, MoneyError, PackageCode, PackageCodeError};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::{COLUMNS, CreditPackage, PackageError, PackageRow};
use crate::{
    ids::PackageId,
    stripe::{StripeError, StripeGateway},
};

/// A new package as an admin typed it; [`create_package`] validates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageInput {
    pub code: String,
    pub name: String,
    pub description: String,
    pub credits: i64,
    pub price_cents: i64,
    pub discount_percentage: i32,
    pub is_popular: bool,
    pub is_active: bool,
}

/// Changes to an existing package; `None` keeps the current value. The code
/// never changes (Stripe finds the price by it, and purchases record it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub credits: Option<i64>,
    pub price_cents: Option<i64>,
    pub discount_percentage: Option<i32>,
    pub is_popular: Option<bool>,
    pub is_active: Option<bool>,
}

/// One thing wrong with a package's input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageProblem {
    #[error("The code must be 1–64 lowercase letters, digits, '-' or '_', starting with a letter.")]
    BadCode(#[source] PackageCodeError),
    #[error("The name is required.")]
    NameMissing,
    #[error("The name must be at most {} characters.", MAX_NAME_CHARS)]
    NameTooLong,
    #[error(
        "The description must be at most {} characters.",
        MAX_DESCRIPTION_CHARS
    )]
    DescriptionTooLong,
    #[error("Credits must be a positive whole number.")]
    CreditsNotPositive,
    #[error("Credits must be at most {}.", Credits::signed(Credits::MAX_PACKAGE))]
    TooManyCredits,
    #[error("The price must be more than $0.00.")]
    PriceNotPositive,
    #[error("The price must be at most $999,999.99.")]
    PriceTooHigh,
    #[error("The discount must be between 0 and 100 percent.")]
    DiscountOutOfRange,
}

impl PackageProblem {
    /// The input field the problem is about (for a form).
    pub fn field(&self) -> &'static str {
        match self {
            PackageProblem::BadCode(_) => "package_code",
            PackageProblem::NameMissing | PackageProblem::NameTooLong => "package_name",
            PackageProblem::DescriptionTooLong => "description",
            PackageProblem::CreditsNotPositive | PackageProblem::TooManyCredits => "credits",
            PackageProblem::PriceNotPositive | PackageProblem::PriceTooHigh => "price_cents",
            PackageProblem::DiscountOutOfRange => "discount_percentage",
        }
    }
}

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Stripe's largest amount for a USD price ($999,999.99).
pub const MAX_PRICE_CENTS: i64 = Cents::MAX_PRICE;

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// Every problem found, in field order.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "))]
    Invalid(Vec<PackageProblem>),
    #[error("A package with the code {0:?} exists already.")]
    DuplicateCode(String),
    #[error("There is no package {0}.")]
    NotFound(PackageId),
    #[error("The new order must list every package exactly once.")]
    IncompleteOrder,
    #[error("Stripe could not be updated")]
    Stripe(#[source] StripeError),
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// Checked values, ready to store.
struct Checked {
    name: String,
    description: String,
    credits: Credits,
    price: Cents,
    discount_percentage: u8,
}

fn check(
    name: &str,
    description: &str,
    credits: i64,
    price_cents: i64,
    discount_percentage: i32,
    problems: &mut Vec<PackageProblem>,
) -> Option<Checked> {
    let start = problems.len();
    let name = name.trim();
    if name.is_empty() {
        problems.push(PackageProblem::NameMissing);
    } else if name.chars().count() > MAX_NAME_CHARS {
        problems.push(PackageProblem::NameTooLong);
    }
    let description = description.trim();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        problems.push(PackageProblem::DescriptionTooLong);
    }
    let credits = Credits::package(credits)
        .map_err(|e| {
            problems.push(match e {
                MoneyError::AboveLimit { .. } => PackageProblem::TooManyCredits,
                _ => PackageProblem::CreditsNotPositive,
            })
        })
        .ok();
    let price = Cents::price(price_cents)
        .map_err(|e| {
            problems.push(match e {
                MoneyError::AboveLimit { .. } => PackageProblem::PriceTooHigh,
                _ => PackageProblem::PriceNotPositive,
            })
        })
        .ok();
    let discount = u8::try_from(discount_percentage)
        .ok()
        .filter(|d| *d <= 100)
        .or_else(|| {
            problems.push(PackageProblem::DiscountOutOfRange);
            None
        });
    if problems.len() > start {
        return None;
    }
    Some(Checked {
        name: name.to_owned(),
        description: description.to_owned(),
        credits: credits?,
        price: price?,
        discount_percentage: discount?,
    })
}

/// Adds a package at the end of the display order. Active packages get
/// their Stripe product and price before the package is committed.
pub async fn create_package(
    pool: &PgPool,
    stripe: &StripeGateway,
    input: &PackageInput,
) -> Result<CreditPackage, CatalogueError> {
    let mut problems = Vec::new();
    let code = PackageCode::parse(input.code.trim())
        .map_err(|e| problems.push(PackageProblem::BadCode(e)))
        .ok();
    let checked = check(
        &input.name,
        &input.description,
        input.credits,
        input.price_cents,
        input.discount_percentage,
        &mut problems,
    );
    let (Some(code), Some(checked)) = (code, checked) else {
        return Err(CatalogueError::Invalid(problems));
    };

    let mut tx = pool.begin().await?;
    let id: Uuid = sqlx::query_scalar(
        "insert into credit_packages
             (package_code, package_name, description, credits, price_cents, discount_percentage,
              is_popular, is_active, display_order)
         values ($1, $2, $3, $4, $5, $6, $7, $8,
                 (select coalesce(max(display_order), 0) + 1 from credit_packages))
         returning id",
    )
    .bind(code.as_str())
    .bind(&checked.name)
    .bind(&checked.description)
    .bind(checked.credits.get())
    .bind(checked.price.get())
    .bind(i32::from(checked.discount_percentage))
    .bind(input.is_popular)
    .bind(input.is_active)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| constraint_error(e, &code))?;
    let mut package = locked(&mut tx, PackageId::from_uuid(id)).await?;
    if package.is_active {
        sync_to_stripe(&mut tx, stripe, &mut package).await?;
    }
    tx.commit().await?;
    tracing::info!(code = %package.code, "package created");
    Ok(package)
}

/// Edits a package. A new price (or name, or reactivation) is synced to
/// Stripe; deactivation archives the Stripe price.
pub async fn update_package(
    pool: &PgPool,
    stripe: &StripeGateway,
    id: PackageId,
    changes: &PackageChanges,
) -> Result<CreditPackage, CatalogueError> {
    let mut tx = pool.begin().await?;
    let before = locked(&mut tx, id).await?;
    let mut problems = Vec::new();
    let checked = check(
        changes.name.as_deref().unwrap_or(&before.name),
        changes
            .description
            .as_deref()
            .unwrap_or(&before.description),
        changes.credits.unwrap_or(before.credits.get()),
        changes.price_cents.unwrap_or(before.price.get()),
        changes
            .discount_percentage
            .unwrap_or(i32::from(before.discount_percentage)),
        &mut problems,
    )
    .ok_or(CatalogueError::Invalid(problems))?;
    let mut after = CreditPackage {
        name: checked.name,
        description: checked.description,
        credits: checked.credits,
        price: checked.price,
        discount_percentage: checked.discount_percentage,
        is_popular: changes.is_popular.unwrap_or(before.is_popular),
        is_active: changes.is_active.unwrap_or(before.is_active),
        ..before.clone()
    };
    sqlx::query(
        "update credit_packages set package_name = $2, description = $3, credits = $4, price_cents = $5,
             discount_percentage = $6, is_popular = $7, is_active = $8, updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(&after.name)
    .bind(&after.description)
    .bind(after.credits.get())
    .bind(after.price.get())
    .bind(i32::from(after.discount_percentage))
    .bind(after.is_popular)
    .bind(after.is_active)
    .execute(&mut *tx)
    .await
    .map_err(|e| constraint_error(e, &after.code))?;

    let stripe_relevant = after.price != before.price
        || after.name != before.name
        || after.is_active != before.is_active
        || after.stripe_price_id.is_none();
    if after.is_active && stripe_relevant {
        sync_to_stripe(&mut tx, stripe, &mut after).await?;
    } else if !after.is_active
        && before.is_active
        && let Some(price_id) = &before.stripe_price_id
    {
        stripe
            .archive_price(price_id)
            .await
            .map_err(CatalogueError::Stripe)?;
    }
    tx.commit().await?;
    tracing::info!(code = %after.code, "package updated");
    Ok(after)
}

/// Takes a package off sale (its Stripe price is archived). Purchases of it
/// are untouched; it can be reactivated with [`update_package`].
pub async fn deactivate_package(
    pool: &PgPool,
    stripe: &StripeGateway,
    id: PackageId,
) -> Result<CreditPackage, CatalogueError> {
    update_package(
        pool,
        stripe,
        id,
        &PackageChanges {
            is_active: Some(false),
            ..PackageChanges::default()
        },
    )
    .await
}

/// Sets the display order: `order` lists every package (active or not)
/// exactly once, first shown first. Returns the catalogue in its new order.
pub async fn reorder_packages(
    pool: &PgPool,
    order: &[PackageId],
) -> Result<Vec<CreditPackage>, CatalogueError> {
    let mut tx = pool.begin().await?;
    let mut existing: Vec<Uuid> =
        sqlx::query_scalar("select id from credit_packages order by id for update")
            .fetch_all(&mut *tx)
            .await?;
    let mut wanted: Vec<Uuid> = order.iter().map(|id| id.as_uuid()).collect();
    existing.sort();
    wanted.sort();
    if existing != wanted {
        return Err(CatalogueError::IncompleteOrder);
    }
    let ids: Vec<Uuid> = order.iter().map(|id| id.as_uuid()).collect();
    sqlx::query(
        "update credit_packages c set display_order = o.position::integer, updated_at = now()
         from unnest($1::uuid[]) with ordinality as o(id, position)
         where c.id = o.id and c.display_order is distinct from o.position::integer",
    )
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(super::list_all(pool).await?)
}

/// One place earlier or later in the display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Up,
    Down,
}

/// Moves the package one place `up` or `down` in the display order (at an
/// end, nothing changes). Returns the catalogue in its new order.
pub async fn move_package(
    pool: &PgPool,
    id: PackageId,
    direction: Move,
) -> Result<Vec<CreditPackage>, CatalogueError> {
    let mut order: Vec<PackageId> = super::list_all(pool)
        .await?
        .into_iter()
        .map(|p| PackageId::from_uuid(p.id))
        .collect();
    let at = order
        .iter()
        .position(|p| *p == id)
        .ok_or(CatalogueError::NotFound(id))?;
    let to = match direction {
        Move::Up => at.checked_sub(1),
        Move::Down => Some(at + 1).filter(|to| *to < order.len()),
    };
    let Some(to) = to else {
        return Ok(super::list_all(pool).await?);
    };
    order.swap(at, to);
    reorder_packages(pool, &order).await
}

/// The package, locked for the rest of the transaction.
async fn locked(
    tx: &mut Transaction<'_, Postgres>,
    id: PackageId,
) -> Result<CreditPackage, CatalogueError> {
    let sql = format!("select {COLUMNS} from credit_packages where id = $1 for update");
    let row = sqlx::query_as::<_, PackageRow>(&sql)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(CatalogueError::NotFound(id))?;
    Ok(CreditPackage::try_from(row)?)
}

async fn sync_to_stripe(
    tx: &mut Transaction<'_, Postgres>,
    stripe: &StripeGateway,
    package: &mut CreditPackage,
) -> Result<(), CatalogueError> {
    let (product_id, price_id) = stripe
        .sync_package(package)
        .await
        .map_err(CatalogueError::Stripe)?;
    sqlx::query(
        "update credit_packages set stripe_product_id = $2, stripe_price_id = $3 where id = $1",
    )
    .bind(package.id)
    .bind(&product_id)
    .bind(&price_id)
    .execute(&mut **tx)
    .await?;
    package.stripe_product_id = Some(product_id);
    package.stripe_price_id = Some(price_id);
    Ok(())
}

/// A duplicate code by its constraint's name; other check constraints as
/// the problem they guard (validation above should have caught them).
fn constraint_error(error: sqlx::Error, code: &PackageCode) -> CatalogueError {
    let problem = match &error {
        sqlx::Error::Database(db) => match db.constraint() {
            Some("credit_packages_package_code_key") => {
                return CatalogueError::DuplicateCode(code.to_string());
            }
            Some("credit_packages_credits_check") => Some(PackageProblem::CreditsNotPositive),
            Some("credit_packages_price_cents_check") => Some(PackageProblem::PriceNotPositive),
            Some("credit_packages_discount_check") => Some(PackageProblem::DiscountOutOfRange),
            Some("credit_packages_package_name_check") => Some(PackageProblem::NameMissing),
            _ => None,
        },
        _ => None,
    };
    match problem {
        Some(problem) => CatalogueError::Invalid(vec![problem]),
        None => CatalogueError::Database(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let mut problems = Vec::new();
        assert!(check(" ", "", 0, 0, 101, &mut problems).is_none());
        let fields: Vec<_> = problems.iter().map(PackageProblem::field).collect();
        assert_eq!(
            fields,
            [
                "package_name",
                "credits",
                "price_cents",
                "discount_percentage"
            ]
        );
        let mut problems = Vec::new();
        assert!(check("Pack", "", 1, MAX_PRICE_CENTS + 1, -1, &mut problems).is_none());
        assert_eq!(
            problems,
            [
                PackageProblem::PriceTooHigh,
                PackageProblem::DiscountOutOfRange
            ]
        );
        let mut problems = Vec::new();
        assert!(check("Pack", "", Credits::MAX_PACKAGE + 1, 100, 0, &mut problems).is_none());
        assert!(check("Pack", "", i64::MAX, i64::MAX, 0, &mut problems).is_none());
        assert_eq!(
            problems,
            [
                PackageProblem::TooManyCredits,
                PackageProblem::TooManyCredits,
                PackageProblem::PriceTooHigh
            ]
        );
        let mut problems = Vec::new();
        assert!(
            check(
                "Pack",
                "",
                Credits::MAX_PACKAGE,
                MAX_PRICE_CENTS,
                0,
                &mut problems
            )
            .is_some()
        );
        let ok = check(" Pack ", "d", 10, 100, 100, &mut problems).unwrap();
        assert_eq!((ok.name.as_str(), ok.discount_percentage), ("Pack", 100));
        assert!(problems.is_empty());
    }
}
