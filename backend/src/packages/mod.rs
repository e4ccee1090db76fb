//! The credit package catalogue: reading it here, changing it in [`manage`].

pub mod manage;

pub use manage::{
    CatalogueError, Move, PackageChanges, PackageInput, PackageProblem, create_package,
    deactivate_package, move_package, reorder_packages, update_package,
};

use std::sync::{Arc, RwLock};

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
    Ok(list_active_versioned(pool).await?.1)
}

/// The packages on sale at one version of the catalogue
/// (`catalogue_version`: every change to `credit_packages` moves it in its
/// own transaction).
struct Catalogue {
    version: i64,
    packages: Arc<[CreditPackage]>,
}

/// The packages on sale, kept by the process for pages that already know
/// the catalogue's current version (`backend::account::Glance` reads it
/// with the wallet): they are served from here while that version is the
/// one kept, and read again (with the version they are at) otherwise. No
/// notification to miss and nothing to expire: a change made anywhere,
/// by any instance or by hand in SQL, moves the version the next page
/// reads. Cheap to clone: every clone shares the same packages.
#[derive(Clone, Default)]
pub struct CatalogueCache {
    kept: Arc<RwLock<Option<Catalogue>>>,
}

impl CatalogueCache {
    /// The packages on sale: the ones kept when `current` (the catalogue's
    /// version as the caller read it) is theirs, else read now.
    pub async fn active(
        &self,
        pool: &PgPool,
        current: Option<i64>,
    ) -> Result<Arc<[CreditPackage]>, PackageError> {
        if let Some(version) = current
            && let Some(kept) = self.kept(version)
        {
            return Ok(kept);
        }
        let (version, packages) = list_active_versioned(pool).await?;
        let packages: Arc<[CreditPackage]> = packages.into();
        if let Some(version) = version {
            self.keep(version, packages.clone());
        }
        Ok(packages)
    }

    fn kept(&self, version: i64) -> Option<Arc<[CreditPackage]>> {
        let kept = self
            .kept
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.as_ref()
            .filter(|kept| kept.version == version)
            .map(|kept| kept.packages.clone())
    }

    /// Keeps `packages` unless a later version is kept already (reads
    /// finish in any order).
    fn keep(&self, version: i64, packages: Arc<[CreditPackage]>) {
        let mut kept = self
            .kept
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if kept.as_ref().is_none_or(|kept| kept.version <= version) {
            *kept = Some(Catalogue { version, packages });
        }
    }
}

#[derive(sqlx::FromRow)]
struct VersionedRow {
    version: i64,
    #[sqlx(flatten)]
    package: PackageRow,
}

/// [`list_active`] and the catalogue's version they are at, in one
/// statement (one snapshot). No package on sale: no row to carry the
/// version, so `None`.
async fn list_active_versioned(
    pool: &PgPool,
) -> Result<(Option<i64>, Vec<CreditPackage>), PackageError> {
    let sql = format!(
        "select (select version from catalogue_version) as version, {COLUMNS} \
         from credit_packages where is_active order by display_order, package_code"
    );
    let rows = sqlx::query_as::<_, VersionedRow>(&sql)
        .fetch_all(pool)
        .await?;
    let version = rows.first().map(|row| row.version);
    let packages = rows
        .into_iter()
        .map(|row| CreditPackage::try_from(row.package))
        .collect::<Result<_, _>>()?;
    Ok((version, packages))
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
    let sql = format!("select {COLUMNS} from credit_packages order by display_order, package_code");
    sqlx::query_as::<_, PackageRow>(&sql)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(CreditPackage::try_from)
        .collect()
}
