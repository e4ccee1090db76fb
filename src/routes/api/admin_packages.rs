//! The package catalogue for admins:
//!
//! - `GET /credits/admin/packages`: every package, active or not, in display order.
//! - `POST /credits/admin/packages`: `{package_code, package_name, description?,
//!   credits, price_cents, discount_percentage?, is_popular?, is_active?}` → 201.
//! - `PATCH /credits/admin/packages/{id}`: any of those but the code.
//! - `POST /credits/admin/packages/{id}/deactivate`
//! - `PUT /credits/admin/packages/order`: `{"ids": [every package id, first shown first]}`.
//!
//! Invalid input → 422 `invalid_package` (every problem in `detail`); a
//! taken code → 409 `duplicate_code`; Stripe down → 502.

use axum::{
    Json,
    extract::{
        Path, State,
        rejection::{JsonRejection, PathRejection},
    },
    http::StatusCode,
};
use backend::{
    AppState,
    ids::PackageId,
    packages::{self, PackageChanges, PackageInput},
};
use serde::Deserialize;

use super::{credits::PackageJson, invalid_body};
use crate::{
    auth::AdminUser,
    error::{AppError, ErrorCode},
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    package_code: String,
    package_name: String,
    #[serde(default)]
    description: String,
    credits: i64,
    price_cents: i64,
    #[serde(default)]
    discount_percentage: i32,
    #[serde(default)]
    is_popular: bool,
    #[serde(default = "yes")]
    is_active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    package_name: Option<String>,
    description: Option<String>,
    credits: Option<i64>,
    price_cents: Option<i64>,
    discount_percentage: Option<i32>,
    is_popular: Option<bool>,
    is_active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    ids: Vec<PackageId>,
}

pub async fn list(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
) -> Result<Json<Vec<PackageJson>>, AppError> {
    let all = packages::list_all(&state.pool).await?;
    Ok(Json(all.into_iter().map(PackageJson::from).collect()))
}

pub async fn create(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    body: Result<Json<CreateRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<PackageJson>), AppError> {
    let Json(request) = body.map_err(invalid_body)?;
    let input = PackageInput {
        code: request.package_code,
        name: request.package_name,
        description: request.description,
        credits: request.credits,
        price_cents: request.price_cents,
        discount_percentage: request.discount_percentage,
        is_popular: request.is_popular,
        is_active: request.is_active,
    };
    let package = packages::create_package(&state.pool, &state.stripe, &input).await?;
    tracing::info!(admin = %admin.id, code = %package.code, "package created by admin");
    Ok((StatusCode::CREATED, Json(package.into())))
}

pub async fn update(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    id: Result<Path<PackageId>, PathRejection>,
    body: Result<Json<UpdateRequest>, JsonRejection>,
) -> Result<Json<PackageJson>, AppError> {
    let id = package_id(id)?;
    let Json(request) = body.map_err(invalid_body)?;
    let changes = PackageChanges {
        name: request.package_name,
        description: request.description,
        credits: request.credits,
        price_cents: request.price_cents,
        discount_percentage: request.discount_percentage,
        is_popular: request.is_popular,
        is_active: request.is_active,
    };
    let package = packages::update_package(&state.pool, &state.stripe, id, &changes).await?;
    tracing::info!(admin = %admin.id, code = %package.code, "package updated by admin");
    Ok(Json(package.into()))
}

pub async fn deactivate(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    id: Result<Path<PackageId>, PathRejection>,
) -> Result<Json<PackageJson>, AppError> {
    let id = package_id(id)?;
    let package = packages::deactivate_package(&state.pool, &state.stripe, id).await?;
    tracing::info!(admin = %admin.id, code = %package.code, "package deactivated by admin");
    Ok(Json(package.into()))
}

pub async fn reorder(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    body: Result<Json<OrderRequest>, JsonRejection>,
) -> Result<Json<Vec<PackageJson>>, AppError> {
    let Json(request) = body.map_err(invalid_body)?;
    let all = packages::reorder_packages(&state.pool, &request.ids).await?;
    Ok(Json(all.into_iter().map(PackageJson::from).collect()))
}

fn package_id(id: Result<Path<PackageId>, PathRejection>) -> Result<PackageId, AppError> {
    id.map(|Path(id)| id)
        .map_err(|_| AppError::new(ErrorCode::UnknownPackage, "There is no such package."))
}
