//! The purchase table across all users: filters, sorting, pages, the count,
//! and one purchase in detail.
//!
//! Pages are either `limit`/`offset` (the docs/API.md contract) or a keyset
//! cursor (`(sort key, id)` after the last row seen), which stays fast at
//! any depth: every sort has an index (migration `…08_admin_dashboard_indexes`).

use std::{fmt, str::FromStr};

use chrono::{DateTime, NaiveDate, Utc};
use domain::{Cents, Credits, PackageCode, PurchaseStatus};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::AdminError;
use crate::{
    ids::{PurchaseId, UserId},
    ledger::LedgerSource,
};

/// Which purchases: every field narrows the set; `Default` is all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurchaseFilter {
    pub status: Option<PurchaseStatus>,
    /// The package code as it was when the checkout started.
    pub package: Option<PackageCode>,
    /// Created on or after this day (UTC).
    pub created_from: Option<NaiveDate>,
    /// Created on or before this day (UTC), inclusive.
    pub created_to: Option<NaiveDate>,
    /// The buyer's e-mail, name or user id contains this (case-insensitive).
    pub user: Option<UserSearch>,
}

/// A user search term: trimmed, 1 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSearch(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the user search must be 1 to 200 characters")]
pub struct BadUserSearch;

impl UserSearch {
    pub fn parse(text: &str) -> Result<Self, BadUserSearch> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 200 {
            return Err(BadUserSearch);
        }
        Ok(UserSearch(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `%term%` with `\`, `%` and `_` escaped for ILIKE.
    fn like_pattern(&self) -> String {
        let mut pattern = String::with_capacity(self.0.len() + 2);
        pattern.push('%');
        for c in self.0.chars() {
            if matches!(c, '\\' | '%' | '_') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        pattern
    }

    /// Whether the term could be part of a UUID's text form.
    fn could_be_id(&self) -> bool {
        self.0.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// When the checkout started.
    #[default]
    CreatedAt,
    /// The amount paid.
    Amount,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SortDirection {
    Asc,
    #[default]
    Desc,
}

/// Rows are ordered by the key, then by id (same direction), so the order is total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PurchaseSort {
    pub key: SortKey,
    pub direction: SortDirection,
}

impl SortKey {
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::CreatedAt => "created_at",
            SortKey::Amount => "amount",
        }
    }

    fn column(self) -> &'static str {
        match self {
            SortKey::CreatedAt => "p.created_at",
            SortKey::Amount => "p.amount_paid_cents",
        }
    }
}

impl FromStr for SortKey {
    type Err = ();
    /// `created_at` (or `date`) and `amount`.
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "created_at" | "date" => Ok(SortKey::CreatedAt),
            "amount" => Ok(SortKey::Amount),
            _ => Err(()),
        }
    }
}

impl SortDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            SortDirection::Asc => "asc",
            SortDirection::Desc => "desc",
        }
    }
}

impl FromStr for SortDirection {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "asc" => Ok(SortDirection::Asc),
            "desc" => Ok(SortDirection::Desc),
            _ => Err(()),
        }
    }
}

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

/// One purchase with its buyer.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminPurchase {
    pub id: PurchaseId,
    pub user_id: UserId,
    pub user_email: Option<String>,
    pub user_name: Option<String>,
    pub package_code: String,
    pub package_name: String,
    pub amount_credits: Credits,
    pub amount_paid: Cents,
    /// Refunded so far (at most `amount_paid`).
    pub refunded: Cents,
    pub status: PurchaseStatus,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub stripe_session_id: Option<String>,
    pub stripe_payment_id: Option<String>,
    /// Why the purchase was held for review (kept once it is settled).
    pub review_reason: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(super) struct AdminPurchaseRow {
    id: PurchaseId,
    user_id: UserId,
    user_email: Option<String>,
    user_name: Option<String>,
    package_code: String,
    package_name: String,
    amount_credits: i64,
    amount_paid_cents: i64,
    refunded_cents: i64,
    status: String,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    stripe_checkout_session_id: Option<String>,
    stripe_payment_intent_id: Option<String>,
    review_reason: Option<String>,
}

/// The columns of [`AdminPurchaseRow`], from `credit_purchases p join users u`.
pub(super) const ROW_COLUMNS: &str = "p.id, p.user_id, u.email as user_email, u.name as user_name, \
     p.package_code, p.package_name, p.amount_credits, p.amount_paid_cents, p.refunded_cents, \
     p.status, p.created_at, p.completed_at, p.stripe_checkout_session_id, p.stripe_payment_intent_id, \
     p.review_reason";

impl TryFrom<AdminPurchaseRow> for AdminPurchase {
    type Error = AdminError;

    fn try_from(row: AdminPurchaseRow) -> Result<Self, AdminError> {
        let corrupt = |problem: String| AdminError::Corrupt {
            id: row.id,
            problem,
        };
        Ok(AdminPurchase {
            amount_credits: Credits::positive(row.amount_credits)
                .map_err(|e| corrupt(format!("credits: {e}")))?,
            amount_paid: Cents::new(row.amount_paid_cents)
                .map_err(|e| corrupt(format!("amount: {e}")))?,
            refunded: Cents::new(row.refunded_cents)
                .map_err(|e| corrupt(format!("refunded: {e}")))?,
            status: row
                .status
                .parse::<PurchaseStatus>()
                .map_err(|e| corrupt(e.to_string()))?,
            id: row.id,
            user_id: row.user_id,
            user_email: row.user_email,
            user_name: row.user_name,
            package_code: row.package_code,
            package_name: row.package_name,
            created_at: row.created_at,
            completed_at: row.completed_at,
            stripe_session_id: row.stripe_checkout_session_id,
            stripe_payment_id: row.stripe_payment_intent_id,
            review_reason: row.review_reason,
        })
    }
}

/// Midnight UTC at the start of `day`.
pub(super) fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Appends ` where …` for `filter` (always a where clause, maybe `true`).
pub(super) fn push_where(sql: &mut QueryBuilder<'_, Postgres>, filter: &PurchaseFilter) {
    sql.push(" where true");
    if let Some(status) = filter.status {
        sql.push(" and p.status = ").push_bind(status.as_str());
    }
    if let Some(code) = &filter.package {
        sql.push(" and p.package_code = ")
            .push_bind(code.as_str().to_owned());
    }
    if let Some(from) = filter.created_from {
        sql.push(" and p.created_at >= ").push_bind(day_start(from));
    }
    if let Some(to) = filter.created_to {
        let end = to
            .succ_opt()
            .map(day_start)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        sql.push(" and p.created_at < ").push_bind(end);
    }
    if let Some(user) = &filter.user {
        // Users first (trigram indexes when pg_trgm is there), then their purchases by index.
        let pattern = user.like_pattern();
        sql.push(" and p.user_id = any(array(select id from users where email ilike ")
            .push_bind(pattern.clone())
            .push(" or name ilike ")
            .push_bind(pattern.clone());
        if user.could_be_id() {
            sql.push(" or id::text like ")
                .push_bind(pattern.to_ascii_lowercase());
        }
        sql.push("))");
    }
}

/// Appends ` order by …` for `sort`.
pub(super) fn push_order(sql: &mut QueryBuilder<'_, Postgres>, sort: PurchaseSort) {
    let direction = sort.direction.as_str();
    sql.push(format_args!(
        " order by {} {direction}, p.id {direction}",
        sort.key.column()
    ));
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
    push_where(&mut sql, &query.filter);
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

/// How many purchases match `filter` (for "page 3 of 40").
pub async fn count_purchases(pool: &PgPool, filter: &PurchaseFilter) -> Result<i64, AdminError> {
    let mut sql = QueryBuilder::new("select count(*) from credit_purchases p");
    push_where(&mut sql, filter);
    Ok(sql.build_query_scalar::<i64>().fetch_one(pool).await?)
}

/// A purchase with everything that happened to it.
#[derive(Debug, Clone, PartialEq)]
pub struct PurchaseDetail {
    pub purchase: AdminPurchase,
    pub discount_percentage: i32,
    pub currency: String,
    pub stripe_customer_id: Option<String>,
    /// Oldest first.
    pub audit: Vec<AuditEntry>,
    /// Oldest first.
    pub ledger: Vec<LedgerEntry>,
}

/// One `audit_log` row.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    /// `stripe_webhook`, `success_return`, `admin:<user id>`, `system`.
    pub actor: String,
    /// `purchase.created`, `purchase.completed`, `purchase.refunded`, …
    pub action: String,
    pub ledger_id: Option<i64>,
    pub stripe_event_id: Option<String>,
    pub stripe_object_id: Option<String>,
    pub details: serde_json::Value,
}

/// One `credit_ledger` row.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub user_id: UserId,
    pub amount: Credits,
    pub source: Option<LedgerSource>,
    pub reference: String,
    pub description: String,
    pub balance_after: Credits,
}

type AuditRow = (
    i64,
    DateTime<Utc>,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    serde_json::Value,
);

type LedgerRow = (i64, DateTime<Utc>, UserId, i64, String, String, String, i64);

/// The purchase, its audit trail and its ledger entries; `None` if there is no such purchase.
pub async fn purchase_detail(
    pool: &PgPool,
    id: PurchaseId,
) -> Result<Option<PurchaseDetail>, AdminError> {
    let sql = format!(
        "select {ROW_COLUMNS} from credit_purchases p join users u on u.id = p.user_id where p.id = $1"
    );
    let Some(row) = sqlx::query_as::<_, AdminPurchaseRow>(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let purchase = AdminPurchase::try_from(row)?;
    let (discount_percentage, currency, stripe_customer_id): (i32, String, Option<String>) =
        sqlx::query_as(
            "select discount_percentage, currency, stripe_customer_id from credit_purchases where id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await?;
    let audit = sqlx::query_as::<_, AuditRow>(
        "select id, occurred_at, actor, action, ledger_id, stripe_event_id, stripe_object_id, details \
         from audit_log where purchase_id = $1 order by id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(
        |(id, occurred_at, actor, action, ledger_id, stripe_event_id, stripe_object_id, details)| {
            AuditEntry {
                id,
                occurred_at,
                actor,
                action,
                ledger_id,
                stripe_event_id,
                stripe_object_id,
                details,
            }
        },
    )
    .collect();
    let ledger = sqlx::query_as::<_, LedgerRow>(
        "select id, created_at, user_id, amount, source, reference, description, balance_after \
         from credit_ledger where purchase_id = $1 order by id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(ledger_entry)
    .collect();
    Ok(Some(PurchaseDetail {
        purchase,
        discount_percentage,
        currency,
        stripe_customer_id,
        audit,
        ledger,
    }))
}

fn ledger_entry(
    (id, created_at, user_id, amount, source, reference, description, balance_after): LedgerRow,
) -> LedgerEntry {
    LedgerEntry {
        id,
        created_at,
        user_id,
        amount: Credits::signed(amount),
        source: LedgerSource::parse(&source),
        reference,
        description,
        balance_after: Credits::signed(balance_after),
    }
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
    fn user_search_escapes_like_wildcards() {
        let search = UserSearch::parse("  a_b%c\\ ").unwrap();
        assert_eq!(search.like_pattern(), "%a\\_b\\%c\\\\%");
        assert!(UserSearch::parse("   ").is_err());
        assert!(UserSearch::parse("4b1e9f62-3a7c").unwrap().could_be_id());
        assert!(!UserSearch::parse("alice").unwrap().could_be_id());
    }
}

/// The first day the admin views (filters, figures, CSV) accept.
pub const FIRST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");
/// The last day the admin views accept. Dates beyond these are typing
/// mistakes or probes; refusing them keeps date arithmetic and Postgres's
/// timestamp range far away.
pub const LAST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2100, 12, 31).expect("a valid date");

/// A `YYYY-MM-DD` day from [`FIRST_DAY`] to [`LAST_DAY`]; the error is a
/// message for the user naming `field`.
pub fn parse_day(field: &str, text: &str) -> Result<NaiveDate, String> {
    let day = text
        .trim()
        .parse::<NaiveDate>()
        .map_err(|_| format!("{field} must be a date as YYYY-MM-DD."))?;
    if !(FIRST_DAY..=LAST_DAY).contains(&day) {
        return Err(format!(
            "{field} must be a date from {FIRST_DAY} to {LAST_DAY}."
        ));
    }
    Ok(day)
}

/// The table's filters and sort as text (a query string, a form), parsed
/// once for the API, the CSV export and the dashboard page alike. Empty
/// values mean "not filtered"; an error is a message for the user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterParams {
    pub status: Option<String>,
    pub package: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub user: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
}

impl FilterParams {
    pub fn parse(self) -> Result<(PurchaseFilter, PurchaseSort), String> {
        let given =
            |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let status = match given(self.status) {
            None => None,
            Some(text) => Some(text.parse::<PurchaseStatus>().map_err(|_| {
                let known: Vec<_> = PurchaseStatus::ALL.iter().map(|s| s.as_str()).collect();
                format!("status must be one of: {}.", known.join(", "))
            })?),
        };
        let package = given(self.package)
            .map(PackageCode::parse)
            .transpose()
            .map_err(|_| "package must be a package code such as starter.".to_owned())?;
        let date = |name: &str, value: Option<String>| {
            given(value).map(|text| parse_day(name, &text)).transpose()
        };
        let created_from = date("from", self.from)?;
        let created_to = date("to", self.to)?;
        if let (Some(from), Some(to)) = (created_from, created_to)
            && to < from
        {
            return Err("to must not be before from.".into());
        }
        let user = given(self.user)
            .map(|text| UserSearch::parse(&text))
            .transpose()
            .map_err(|e| format!("user: {e}."))?;
        let key = match given(self.sort) {
            None => Default::default(),
            Some(text) => text
                .parse()
                .map_err(|_| "sort must be created_at or amount.".to_owned())?,
        };
        let direction = match given(self.order) {
            None => Default::default(),
            Some(text) => text
                .parse()
                .map_err(|_| "order must be asc or desc.".to_owned())?,
        };
        Ok((
            PurchaseFilter {
                status,
                package,
                created_from,
                created_to,
                user,
            },
            PurchaseSort { key, direction },
        ))
    }
}
