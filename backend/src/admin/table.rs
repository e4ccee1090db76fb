//! Pages of the purchase table across all users: the count, offset pages
//! (the docs/API.md contract) or keyset pages (after a [`Cursor`], fast at
//! any depth: every sort has an index, migration
//! `…08_admin_dashboard_indexes`), and [`purchase_table`], the one use case
//! behind the JSON list and the dashboard.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use sqlx::{PgPool, QueryBuilder};
use uuid::Uuid;

pub use domain::admin::PageParams;

use super::{
    AdminError,
    filter::{
        FilterParams, PurchaseFilter, PurchaseSort, SortDirection, SortKey, parse_filter,
        push_order, push_where,
    },
    purchase::{AdminPurchase, AdminPurchaseRow, ROW_COLUMNS},
};
use crate::ids::PurchaseId;

/// Where a keyset page starts: after the row with this sort key and id.
/// Its text form (`Display`/`FromStr`) is opaque and URL-safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cursor {
    CreatedAt { at: DateTime<Utc>, id: PurchaseId },
    Amount { cents: i64, id: PurchaseId },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a page cursor")]
pub struct BadCursor;

impl Cursor {
    fn after(row: &AdminPurchase, key: SortKey) -> Cursor {
        match key {
            SortKey::CreatedAt => Cursor::CreatedAt {
                at: row.created_at,
                id: row.id,
            },
            SortKey::Amount => Cursor::Amount {
                cents: row.amount_paid.get(),
                id: row.id,
            },
        }
    }

    fn key(&self) -> SortKey {
        match self {
            Cursor::CreatedAt { .. } => SortKey::CreatedAt,
            Cursor::Amount { .. } => SortKey::Amount,
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cursor::CreatedAt { at, id } => {
                write!(f, "t{}.{}", at.timestamp_micros(), id.as_uuid().simple())
            }
            Cursor::Amount { cents, id } => write!(f, "a{cents}.{}", id.as_uuid().simple()),
        }
    }
}

impl FromStr for Cursor {
    type Err = BadCursor;
    fn from_str(s: &str) -> Result<Self, BadCursor> {
        let (head, id) = s.split_once('.').ok_or(BadCursor)?;
        let id = PurchaseId::from_uuid(Uuid::parse_str(id).map_err(|_| BadCursor)?);
        let number = |text: &str| text.parse::<i64>().map_err(|_| BadCursor);
        match head.split_at_checked(1) {
            Some(("t", micros)) => Ok(Cursor::CreatedAt {
                at: DateTime::from_timestamp_micros(number(micros)?).ok_or(BadCursor)?,
                id,
            }),
            Some(("a", cents)) => Ok(Cursor::Amount {
                cents: number(cents)?,
                id,
            }),
            _ => Err(BadCursor),
        }
    }
}

/// Which page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `limit` rows after skipping `offset` (cost grows with the offset).
    Offset { limit: i64, offset: i64 },
    /// `limit` rows after `after` (`None`: the first page); constant cost.
    Keyset { limit: i64, after: Option<Cursor> },
}

impl Page {
    fn limit(&self) -> i64 {
        match self {
            Page::Offset { limit, .. } | Page::Keyset { limit, .. } => *limit,
        }
    }
}

/// A filtered, sorted page of the purchase table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseQuery {
    pub filter: PurchaseFilter,
    pub sort: PurchaseSort,
    pub page: Page,
}

/// One page of rows and where the next one starts (`None` on the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct PurchasePage {
    pub rows: Vec<AdminPurchase>,
    pub next_cursor: Option<Cursor>,
}

/// The most rows one page may hold.
pub const MAX_PAGE_SIZE: i64 = 500;

/// The page `params` ask for: `limit` rows (1 to [`MAX_PAGE_SIZE`],
/// `default_limit` when absent) after `cursor`, or else after `offset`.
/// A value that does not fit is [`AdminError::InvalidQuery`].
pub fn parse_page(params: &PageParams, default_limit: i64) -> Result<Page, AdminError> {
    let invalid = |message: &str| AdminError::InvalidQuery(message.to_owned());
    let limit = match params.limit {
        None => default_limit,
        Some(limit) if (1..=MAX_PAGE_SIZE).contains(&limit) => limit,
        Some(_) => {
            return Err(AdminError::InvalidQuery(format!(
                "limit must be between 1 and {MAX_PAGE_SIZE}."
            )));
        }
    };
    match params.cursor.as_deref().map(str::trim) {
        Some(cursor) if !cursor.is_empty() => {
            if params.offset.is_some_and(|o| o != 0) {
                return Err(invalid("Use either cursor or offset, not both."));
            }
            let after = cursor
                .parse::<Cursor>()
                .map_err(|_| invalid("cursor is not a page cursor from this list."))?;
            Ok(Page::Keyset {
                limit,
                after: Some(after),
            })
        }
        _ => match params.offset.unwrap_or(0) {
            ..0 => Err(invalid("offset must not be negative.")),
            offset => Ok(Page::Offset { limit, offset }),
        },
    }
}

/// A page of the filtered, sorted table with the number of matching rows.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchaseTable {
    pub rows: Vec<AdminPurchase>,
    /// Rows matching the filter, on every page.
    pub total: i64,
    /// Where the next page starts (`None` on the last page).
    pub next_cursor: Option<Cursor>,
    /// The sort the rows are in.
    pub sort: PurchaseSort,
}

/// The purchase table as the JSON list and the dashboard show it: the
/// filter, sort and page parsed from their text (`default_limit` rows when
/// no limit is given), the count and the page.
pub async fn purchase_table(
    pool: &PgPool,
    filter: &FilterParams,
    page: &PageParams,
    default_limit: i64,
) -> Result<PurchaseTable, AdminError> {
    let (filter, sort) = parse_filter(filter)?;
    let page = parse_page(page, default_limit)?;
    let total = count_purchases(pool, &filter).await?;
    let PurchasePage { rows, next_cursor } =
        list_purchases(pool, &PurchaseQuery { filter, sort, page }).await?;
    Ok(PurchaseTable {
        rows,
        total,
        next_cursor,
        sort,
    })
}

/// Paid purchases waiting for an admin (`needs_review`), oldest first, at
/// most `limit` of them, with how many wait in all.
pub async fn needs_review(pool: &PgPool, limit: i64) -> Result<PurchaseTable, AdminError> {
    let filter = PurchaseFilter {
        status: Some(domain::PurchaseStatus::NeedsReview),
        ..PurchaseFilter::default()
    };
    let sort = PurchaseSort {
        key: SortKey::CreatedAt,
        direction: SortDirection::Asc,
    };
    let total = count_purchases(pool, &filter).await?;
    let PurchasePage { rows, next_cursor } = list_purchases(
        pool,
        &PurchaseQuery {
            filter,
            sort,
            page: Page::Offset { limit, offset: 0 },
        },
    )
    .await?;
    Ok(PurchaseTable {
        rows,
        total,
        next_cursor,
        sort,
    })
}

/// A page of purchases across all users, with the cursor of the next page.
pub async fn list_purchases(
    pool: &PgPool,
    query: &PurchaseQuery,
) -> Result<PurchasePage, AdminError> {
    let limit = query.page.limit().max(0);
    let mut sql = QueryBuilder::new(format!(
        "select {ROW_COLUMNS} from credit_purchases p join users u on u.id = p.user_id"
    ));
    push_where(&mut sql, &query.filter, pool).await?;
    if let Page::Keyset {
        after: Some(cursor),
        ..
    } = &query.page
    {
        if cursor.key() != query.sort.key {
            return Err(AdminError::CursorMismatch);
        }
        let comparison = match query.sort.direction {
            SortDirection::Asc => ">",
            SortDirection::Desc => "<",
        };
        sql.push(format_args!(
            " and ({}, p.id) {comparison} (",
            query.sort.key.column()
        ));
        match *cursor {
            Cursor::CreatedAt { at, id } => sql.push_bind(at).push(", ").push_bind(id),
            Cursor::Amount { cents, id } => sql.push_bind(cents).push(", ").push_bind(id),
        };
        sql.push(")");
    }
    push_order(&mut sql, query.sort);
    // One row more than asked says whether there is a next page.
    sql.push(" limit ").push_bind(limit + 1);
    if let Page::Offset { offset, .. } = query.page {
        sql.push(" offset ").push_bind(offset.max(0));
    }
    let mut rows = sql
        .build_query_as::<AdminPurchaseRow>()
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(AdminPurchase::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|row| Cursor::after(row, query.sort.key)))
        .flatten();
    Ok(PurchasePage { rows, next_cursor })
}

/// How many purchases match `filter` (for "page 3 of 40"), exactly. Without
/// a user search every filter is by status, package and whole UTC days of
/// creation, which the daily rollups count (`purchase_rollup_parts`, a few
/// thousand rows) instead of every purchase; a user search counts that
/// user's purchases by index.
pub async fn count_purchases(pool: &PgPool, filter: &PurchaseFilter) -> Result<i64, AdminError> {
    if filter.user.is_some() {
        let mut sql = QueryBuilder::new("select count(*) from credit_purchases p");
        push_where(&mut sql, filter, pool).await?;
        return Ok(sql.build_query_scalar::<i64>().fetch_one(pool).await?);
    }
    let mut sql = QueryBuilder::new(
        "select coalesce(sum(started), 0)::bigint from purchase_rollup_parts where true",
    );
    if let Some(status) = filter.status {
        sql.push(" and status = ").push_bind(status.as_str());
    }
    if let Some(code) = &filter.package {
        sql.push(" and package_code = ")
            .push_bind(code.as_str().to_owned());
    }
    if let Some(from) = filter.created_from {
        sql.push(" and day >= ").push_bind(from);
    }
    if let Some(to) = filter.created_to {
        sql.push(" and day <= ").push_bind(to);
    }
    Ok(sql.build_query_scalar::<i64>().fetch_one(pool).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_through_text() {
        let id = PurchaseId::from_uuid(Uuid::new_v4());
        let at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        for cursor in [
            Cursor::CreatedAt { at, id },
            Cursor::Amount { cents: 4500, id },
        ] {
            assert_eq!(cursor.to_string().parse(), Ok(cursor));
        }
        for junk in ["", "x1.abc", "t1", "a12.not-a-uuid", "tnope.0"] {
            assert!(junk.parse::<Cursor>().is_err(), "{junk}");
        }
    }

    #[test]
    fn pages_are_bounded_and_take_a_cursor_or_an_offset() {
        let page = |limit, offset, cursor: Option<&str>| {
            parse_page(
                &PageParams {
                    limit,
                    offset,
                    cursor: cursor.map(str::to_owned),
                },
                25,
            )
            .map_err(|e| e.to_string())
        };
        assert_eq!(
            page(None, None, None),
            Ok(Page::Offset {
                limit: 25,
                offset: 0
            })
        );
        assert_eq!(
            page(None, None, Some(" ")),
            Ok(Page::Offset {
                limit: 25,
                offset: 0
            })
        );
        for bad in [
            page(Some(0), None, None),
            page(Some(501), None, None),
            page(None, Some(-1), None),
            page(None, None, Some("nope")),
        ] {
            assert!(bad.is_err(), "{bad:?}");
        }
        let cursor = Cursor::Amount {
            cents: 10,
            id: PurchaseId::from_uuid(Uuid::nil()),
        };
        assert_eq!(
            page(Some(2), Some(0), Some(&cursor.to_string())),
            Ok(Page::Keyset {
                limit: 2,
                after: Some(cursor)
            })
        );
        assert!(page(Some(2), Some(2), Some(&cursor.to_string())).is_err());
    }
}
