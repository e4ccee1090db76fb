//! The credit package catalogue: reading it here, changing it in [`manage`].

pub mod manage;

pub use manage::{
    CatalogueError, Move, PackageChanges, PackageInput, PackageProblem, create_package,
    deactivate_package, move_package, reorder_packages, update_package,
};

use domain::{
    Cents, Credits, PackageCode,
    ids::{PriceId, ProductId},
};
use sqlx::PgPool;
use uuid::Uuid;

/// A package as the business sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CreditPackage {
    pub id: Uuid,
    pub code: PackageCode,
    pub name: String,
    pub description: String,
    pub credits: Credits,
    pub price: Cents,
    pub discount_percentage: u8,
    pub is_active: bool,
    pub is_popular: bool,
    pub display_order: i32,
    pub stripe_product_id: Option<ProductId>,
    pub stripe_price_id: Option<PriceId>,
}

#[derive(sqlx::FromRow)]
struct PackageRow {
    id: Uuid,
    package_code: String,
    package_name: String,
    description: String,
    credits: i64,
    price_cents: i64,
    discount_percentage: i32,
    is_active: bool,
    is_popular: bool,
    display_order: i32,
    stripe_product_id: Option<ProductId>,
    stripe_price_id: Option<PriceId>,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("stored package {code:?} is invalid: {problem}")]
    Corrupt { code: String, problem: String },
}

impl TryFrom<PackageRow> for CreditPackage {
    type Error = PackageError;

    fn try_from(row: PackageRow) -> Result<Self, Self::Error> {
        let corrupt = |problem: String| PackageError::Corrupt {
            code: row.package_code.clone(),
            problem,
        };
        Ok(CreditPackage {
            id: row.id,
            code: PackageCode::parse(row.package_code.clone())
                .map_err(|e| corrupt(e.to_string()))?,
            credits: Credits::positive(row.credits).map_err(|e| corrupt(e.to_string()))?,
            price: Cents::new(row.price_cents).map_err(|e| corrupt(e.to_string()))?,
            discount_percentage: u8::try_from(row.discount_percentage)
                .map_err(|_| corrupt(format!("discount {}", row.discount_percentage)))?,
            name: row.package_name,
            description: row.description,
            is_active: row.is_active,
            is_popular: row.is_popular,
            display_order: row.display_order,
            stripe_product_id: row.stripe_product_id,
            stripe_price_id: row.stripe_price_id,
        })
    }
}

const COLUMNS: &str = "id, package_code, package_name, description, credits, price_cents, discount_percentage, \
                       is_active, is_popular, display_order, stripe_product_id, stripe_price_id";

/// Packages on sale, in display order.
pub async fn list_active(pool: &PgPool) -> Result<Vec<CreditPackage>, PackageError> {
    list(pool, false).await
}

/// The active package with this code, if any.
pub async fn find_active(
    pool: &PgPool,
    code: &PackageCode,
) -> Result<Option<CreditPackage>, PackageError> {
    let sql =
        format!("select {COLUMNS} from credit_packages where package_code = $1 and is_active");
    sqlx::query_as::<_, PackageRow>(&sql)
        .bind(code.as_str())
        .fetch_optional(pool)
        .await?
        .map(CreditPackage::try_from)
        .transpose()
}

/// Any package (active or not) by id.
pub async fn find(
    pool: &PgPool,
    id: crate::ids::PackageId,
) -> Result<Option<CreditPackage>, PackageError> {
    let sql = format!("select {COLUMNS} from credit_packages where id = $1");
    sqlx::query_as::<_, PackageRow>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(CreditPackage::try_from)
        .transpose()
}

/// The package `id`, locked until `tx` ends: a catalogue change or a Stripe
/// sync holding it sees no price change before it stores what it did.
pub(crate) async fn lock(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: Uuid,
) -> Result<Option<CreditPackage>, PackageError> {
    let sql = format!("select {COLUMNS} from credit_packages where id = $1 for update");
    sqlx::query_as::<_, PackageRow>(&sql)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(CreditPackage::try_from)
        .transpose()
}

/// Records where the package `id` lives in Stripe, inside `tx`.
pub(crate) async fn store_stripe_ids(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: Uuid,
    product_id: &ProductId,
    price_id: &PriceId,
) -> Result<(), PackageError> {
    sqlx::query(
        "update credit_packages set stripe_product_id = $2, stripe_price_id = $3, updated_at = now() \
         where id = $1",
    )
    .bind(id)
    .bind(product_id)
    .bind(price_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Every package, active or not, in display order.
pub async fn list_all(pool: &PgPool) -> Result<Vec<CreditPackage>, PackageError> {
    list(pool, true).await
}

async fn list(pool: &PgPool, include_inactive: bool) -> Result<Vec<CreditPackage>, PackageError> {
    let sql = format!(
        "select {COLUMNS} from credit_packages where is_active or $1 order by display_order, package_code"
    );
    sqlx::query_as::<_, PackageRow>(&sql)
        .bind(include_inactive)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(CreditPackage::try_from)
        .collect()
}
