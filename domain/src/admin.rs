//! The admin purchase table's parameters as text, the way a query string
//! (`?status=completed&sort=amount`) or the dashboard's URL carries them.
//!
//! One struct for the JSON API's list, its CSV export and the dashboard's
//! server function; `backend::admin` parses it into a typed filter, sort
//! and page once, with a message for the user when something does not fit.
//! It lives here, not in `backend`, because the dashboard page (compiled to
//! wasm too) builds it from the browser's URL.

use serde::{Deserialize, Serialize};

/// Which purchases and in what order. Empty values mean "not filtered".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FilterParams {
    /// A purchase status (`completed`, `needs_review`, …).
    pub status: Option<String>,
    /// A package code.
    pub package: Option<String>,
    /// Created on or after this day, `YYYY-MM-DD` (UTC).
    pub from: Option<String>,
    /// Created on or before this day, `YYYY-MM-DD` (UTC), inclusive.
    pub to: Option<String>,
    /// Part of the buyer's e-mail, name or user id.
    pub user: Option<String>,
    /// `created_at` (default) or `amount`.
    pub sort: Option<String>,
    /// `desc` (default) or `asc`.
    pub order: Option<String>,
}

/// Which page: `limit` rows after `offset`, or after `cursor` (a previous
/// page's next cursor). Kept apart from [`FilterParams`] because the CSV
/// export has no pages, and because a query string's numbers do not
/// survive `#[serde(flatten)]`: a route takes both as two `Query`s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PageParams {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub cursor: Option<String>,
}
