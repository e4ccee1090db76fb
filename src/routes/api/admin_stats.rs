//! `GET /credits/admin/stats?from=YYYY-MM-DD&to=YYYY-MM-DD` (admins): the
//! dashboard's figures for the period (default: the last 30 days, UTC) and
//! the previous period of the same length, the daily revenue series (every
//! day, zeros included) and sales by package. Money is in integer cents;
//! how purchases are counted is documented in `backend::admin::stats`.

use axum::{Json, extract::State};
use backend::{
    AppState,
    admin::{self, DailyRevenue, DashboardStats, Figures, PackageSales, StatsPeriod},
};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    auth::AdminUser,
    error::{AppError, ErrorCode},
    extract::Query,
};

#[derive(Deserialize)]
pub struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
}

#[derive(Serialize)]
pub struct StatsView {
    period: PeriodView,
    previous_period: PeriodView,
    current: FiguresView,
    previous: FiguresView,
    daily: Vec<DayView>,
    by_package: Vec<PackageView>,
}

#[derive(Serialize)]
pub struct PeriodView {
    from: NaiveDate,
    to: NaiveDate,
    days: i64,
}

#[derive(Serialize)]
pub struct FiguresView {
    revenue_cents: i64,
    refunds_cents: i64,
    net_cents: i64,
    purchases: i64,
    credits_sold: i64,
    checkouts_started: i64,
    checkouts_paid: i64,
    /// `checkouts_paid ÷ checkouts_started`, 0 to 1; null without checkouts.
    conversion: Option<f64>,
}

#[derive(Serialize)]
pub struct DayView {
    day: NaiveDate,
    revenue_cents: i64,
    refunds_cents: i64,
    net_cents: i64,
    purchases: i64,
}

#[derive(Serialize)]
pub struct PackageView {
    package_code: String,
    package_name: String,
    purchases: i64,
    revenue_cents: i64,
    refunds_cents: i64,
    credits: i64,
}

impl From<StatsPeriod> for PeriodView {
    fn from(p: StatsPeriod) -> Self {
        PeriodView {
            from: p.from(),
            to: p.to(),
            days: p.days(),
        }
    }
}

impl From<Figures> for FiguresView {
    fn from(f: Figures) -> Self {
        FiguresView {
            revenue_cents: f.revenue.get(),
            refunds_cents: f.refunds.get(),
            net_cents: f.net.get(),
            purchases: f.purchases,
            credits_sold: f.credits_sold.get(),
            checkouts_started: f.checkouts_started,
            checkouts_paid: f.checkouts_paid,
            conversion: f.conversion(),
        }
    }
}

impl From<DailyRevenue> for DayView {
    fn from(d: DailyRevenue) -> Self {
        DayView {
            day: d.day,
            revenue_cents: d.revenue.get(),
            refunds_cents: d.refunds.get(),
            net_cents: d.net.get(),
            purchases: d.purchases,
        }
    }
}

impl From<PackageSales> for PackageView {
    fn from(p: PackageSales) -> Self {
        PackageView {
            package_code: p.package_code,
            package_name: p.package_name,
            purchases: p.purchases,
            revenue_cents: p.revenue.get(),
            refunds_cents: p.refunds.get(),
            credits: p.credits.get(),
        }
    }
}

pub async fn stats(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    Query(query): Query<StatsQuery>,
) -> Result<Json<StatsView>, AppError> {
    let period = parse_period(query)?;
    let DashboardStats {
        period,
        current,
        previous,
        daily,
        by_package,
    } = admin::stats(&state.pool, period).await?;
    Ok(Json(StatsView {
        period: period.into(),
        previous_period: period.previous().into(),
        current: current.into(),
        previous: previous.into(),
        daily: daily.into_iter().map(Into::into).collect(),
        by_package: by_package.into_iter().map(Into::into).collect(),
    }))
}

fn parse_period(query: StatsQuery) -> Result<StatsPeriod, AppError> {
    let date = |name: &str, value: Option<String>| {
        value
            .filter(|v| !v.trim().is_empty())
            .map(|v| admin::parse_day(name, &v))
            .transpose()
            .map_err(invalid)
    };
    let default = StatsPeriod::default_for(Utc::now());
    let to = date("to", query.to)?.unwrap_or(default.to());
    let from = match date("from", query.from)? {
        Some(from) => from,
        None => StatsPeriod::last_days(to, StatsPeriod::DEFAULT_DAYS)
            .from()
            .max(admin::FIRST_DAY),
    };
    StatsPeriod::new(from, to).map_err(|e| invalid(format!("{e}.")))
}

fn invalid(detail: String) -> AppError {
    AppError::new(ErrorCode::InvalidQuery, detail)
}
