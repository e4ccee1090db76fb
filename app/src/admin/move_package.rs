//! Moving a package one place up or down in the display order.

use domain::ids::PackageId;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Which way a package moves; anything else does not decode (422
/// `invalid_body`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MoveDirection {
    Up,
    Down,
}

/// Moves a package one place `up` or `down` (at an end, nothing changes);
/// 404 `unknown_package` when there is no such package.
#[server(endpoint = "move_package")]
pub async fn move_package(id: PackageId, direction: MoveDirection) -> Result<(), ApiError> {
    use backend::packages::{self, Move};

    use super::ssr::{require_admin, state};

    require_admin().await?;
    let direction = match direction {
        MoveDirection::Up => Move::Up,
        MoveDirection::Down => Move::Down,
    };
    packages::move_package(&state().pool, id, direction).await?;
    Ok(())
}
