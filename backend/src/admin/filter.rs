//! Which purchases and in what order: [`PurchaseFilter`] and
//! [`PurchaseSort`], parsed once from the text of [`FilterParams`] (the JSON
//! API's query string, the CSV export's, the dashboard's URL), and the SQL
//! they become.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use domain::{PackageCode, PurchaseStatus};
use sqlx::{PgPool, Postgres, QueryBuilder};

pub use domain::admin::FilterParams;

use super::AdminError;

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

    pub(super) fn column(self) -> &'static str {
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

/// The filters and sort of `params`; empty values mean "not filtered".
/// A value that does not fit is [`AdminError::InvalidQuery`] with a message
/// for the user naming the parameter.
pub fn parse_filter(params: &FilterParams) -> Result<(PurchaseFilter, PurchaseSort), AdminError> {
    parse(params).map_err(AdminError::InvalidQuery)
}

fn parse(params: &FilterParams) -> Result<(PurchaseFilter, PurchaseSort), String> {
    fn given(value: &Option<String>) -> Option<&str> {
        value.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
    let status = match given(&params.status) {
        None => None,
        Some(text) => Some(text.parse::<PurchaseStatus>().map_err(|_| {
            let known: Vec<_> = PurchaseStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!("status must be one of: {}.", known.join(", "))
        })?),
    };
    let package = given(&params.package)
        .map(PackageCode::parse)
        .transpose()
        .map_err(|_| "package must be a package code such as starter.".to_owned())?;
    let date = |name: &str, value: &Option<String>| {
        given(value).map(|text| parse_day(name, text)).transpose()
    };
    let created_from = date("from", &params.from)?;
    let created_to = date("to", &params.to)?;
    if let (Some(from), Some(to)) = (created_from, created_to)
        && to < from
    {
        return Err("to must not be before from.".into());
    }
    let user = given(&params.user)
        .map(UserSearch::parse)
        .transpose()
        .map_err(|e| format!("user: {e}."))?;
    let key = match given(&params.sort) {
        None => Default::default(),
        Some(text) => text
            .parse()
            .map_err(|_| "sort must be created_at or amount.".to_owned())?,
    };
    let direction = match given(&params.order) {
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

/// Midnight UTC at the start of `day`.
pub(super) fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// At most this many users found by a search are named in the query itself.
const NAMED_USERS: i64 = 500;

/// Appends ` where …` for `filter` (always a where clause, maybe `true`).
///
/// A user search is resolved first, by its own query (trigram indexes when
/// pg_trgm is there): the users it finds are written into the statement as
/// literals, so the planner knows how few they are and reads their
/// purchases through `(user_id, created_at)` instead of walking every
/// purchase by date and filtering (75 ms at a million purchases). A search
/// matching more than [`NAMED_USERS`] users stays a subquery.
pub(super) async fn push_where(
    sql: &mut QueryBuilder<'_, Postgres>,
    filter: &PurchaseFilter,
    pool: &PgPool,
) -> Result<(), sqlx::Error> {
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
        let mut users = QueryBuilder::new("select id from users where ");
        push_user_match(&mut users, user);
        users.push(" limit ").push_bind(NAMED_USERS + 1);
        let found: Vec<uuid::Uuid> = users.build_query_scalar().fetch_all(pool).await?;
        if found.len() as i64 <= NAMED_USERS {
            // Uuids print as hex digits and dashes only: safe as literals.
            let list: Vec<String> = found.iter().map(uuid::Uuid::to_string).collect();
            sql.push(format_args!(
                " and p.user_id = any('{{{}}}'::uuid[])",
                list.join(",")
            ));
        } else {
            sql.push(" and p.user_id = any(array(select id from users where ");
            push_user_match(sql, user);
            sql.push("))");
        }
    }
    Ok(())
}

/// `email ilike … or name ilike …` (or the id's text, if it could be one).
fn push_user_match(sql: &mut QueryBuilder<'_, Postgres>, user: &UserSearch) {
    let pattern = user.like_pattern();
    sql.push("(email ilike ")
        .push_bind(pattern.clone())
        .push(" or name ilike ")
        .push_bind(pattern.clone());
    if user.could_be_id() {
        sql.push(" or id::text like ")
            .push_bind(pattern.to_ascii_lowercase());
    }
    sql.push(")");
}

/// Appends ` order by …` for `sort`.
pub(super) fn push_order(sql: &mut QueryBuilder<'_, Postgres>, sort: PurchaseSort) {
    let direction = sort.direction.as_str();
    sql.push(format_args!(
        " order by {} {direction}, p.id {direction}",
        sort.key.column()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_search_escapes_like_wildcards() {
        let search = UserSearch::parse("  a_b%c\\ ").unwrap();
        assert_eq!(search.like_pattern(), "%a\\_b\\%c\\\\%");
        assert!(UserSearch::parse("   ").is_err());
        assert!(UserSearch::parse("4b1e9f62-3a7c").unwrap().could_be_id());
        assert!(!UserSearch::parse("alice").unwrap().could_be_id());
    }

    #[test]
    fn filter_params_name_the_parameter_that_does_not_fit() {
        let params = |f: fn(&mut FilterParams)| {
            let mut params = FilterParams::default();
            f(&mut params);
            parse(&params)
        };
        assert_eq!(params(|_| {}), Ok(Default::default()));
        assert_eq!(
            params(|p| p.from = Some("yesterday".into())),
            Err("from must be a date as YYYY-MM-DD.".into())
        );
        assert_eq!(
            params(|p| p.from = Some("+262142-12-01".into())),
            Err("from must be a date from 2000-01-01 to 2100-12-31.".into())
        );
        assert_eq!(
            params(|p| p.to = Some("1999-12-31".into())),
            Err("to must be a date from 2000-01-01 to 2100-12-31.".into())
        );
        assert_eq!(
            params(|p| p.sort = Some("price".into())),
            Err("sort must be created_at or amount.".into())
        );
        assert_eq!(
            params(|p| p.status = Some("  ".into())),
            Ok(Default::default())
        );
    }
}
