//! The dashboard: figures beside the previous period, the revenue chart,
//! sales by package, the "Needs review" list and a page of the purchase
//! table, filtered by the one [`FilterParams`] the JSON API takes too.

use domain::{
    Cents, Credits,
    admin::{FilterParams, PageParams},
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::AdminRow;
use crate::{components::bar_chart::Bar, error::ApiError};

/// Rows per page of the purchase table.
pub const TABLE_PAGE_SIZE: i64 = 25;
/// Rows of the dashboard's "Needs review" list.
pub const REVIEW_LIST_SIZE: i64 = 50;
/// The figure periods offered, in days.
pub const PERIODS: [u32; 3] = [7, 30, 90];

/// One headline figure beside the previous period's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub key: String,
    pub label: String,
    pub current: String,
    pub previous: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageSalesView {
    pub name: String,
    pub purchases: i64,
    pub credits: Credits,
    pub revenue: Cents,
}

/// Live plans of one tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierCountView {
    pub tier: String,
    pub name: String,
    pub live: i64,
}

/// A subscriber whose last payment failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastDueView {
    pub email: String,
    pub subscription_id: String,
    pub tier: String,
    pub amount: String,
    pub since: String,
}

/// The dashboard's subscriptions section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionsView {
    pub by_tier: Vec<TierCountView>,
    /// Monthly recurring revenue, yearly plans counted as a twelfth (`$1,234.56`).
    pub mrr: String,
    pub new_current: i64,
    pub new_previous: i64,
    pub churned_current: i64,
    pub churned_previous: i64,
    pub past_due: Vec<PastDueView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardView {
    pub subscriptions: SubscriptionsView,
    pub days: u32,
    pub period: String,
    pub figures: Vec<Figure>,
    pub bars: Vec<Bar>,
    pub by_package: Vec<PackageSalesView>,
    pub params: FilterParams,
    /// Set when the filters could not be read; the table is then unfiltered.
    pub filter_error: Option<String>,
    pub rows: Vec<AdminRow>,
    pub total: i64,
    /// Paid purchases waiting for an admin (`needs_review`), oldest first,
    /// at most [`REVIEW_LIST_SIZE`] of them.
    pub needs_review: Vec<AdminRow>,
    /// How many purchases wait for review in all.
    pub needs_review_total: i64,
    /// `(code, name)` of every package, for the filter.
    pub packages: Vec<(String, String)>,
    /// Links computed on the server (URL-encoded there).
    pub csv_href: String,
    pub next_href: Option<String>,
    pub first_href: Option<String>,
    pub sort_created_href: String,
    pub sort_amount_href: String,
}

/// Figures, chart, breakdown and a page of the purchase table. Filters that
/// do not fit are shown as `filter_error` beside the unfiltered table.
#[server(endpoint = "admin_dashboard", input = leptos::server_fn::codec::Json)]
pub async fn admin_dashboard(
    days: Option<u32>,
    params: FilterParams,
    #[server(default)] page: PageParams,
) -> Result<DashboardView, ApiError> {
    super::ssr::require_admin().await?;
    ssr::dashboard(days, params, page).await
}

#[cfg(feature = "ssr")]
mod ssr {
    use backend::admin::{self, AdminError, PurchaseTable, SortDirection, SortKey, StatsPeriod};

    use super::*;
    use crate::admin::ssr::{row, state};

    pub async fn dashboard(
        days: Option<u32>,
        params: FilterParams,
        page: PageParams,
    ) -> Result<DashboardView, ApiError> {
        let state = state();
        let pool = &state.pool;
        let days = days.filter(|d| PERIODS.contains(d)).unwrap_or(30);
        let period = StatsPeriod::last_days(chrono::Utc::now().date_naive(), u64::from(days));
        let stats = admin::stats(pool, period).await?;
        let (table, filter_error) =
            match admin::purchase_table(pool, &params, &page, TABLE_PAGE_SIZE).await {
                Ok(table) => (table, None),
                // Not an error response: the page shows the message beside
                // the unfiltered table.
                Err(AdminError::InvalidQuery(message)) => (unfiltered(pool).await?, Some(message)),
                Err(AdminError::CursorMismatch) => (
                    unfiltered(pool).await?,
                    Some("That page link belongs to another sort order.".to_owned()),
                ),
                Err(other) => return Err(other.into()),
            };
        let needs_review = admin::needs_review(pool, super::REVIEW_LIST_SIZE).await?;
        let subscriptions =
            subscriptions(backend::subscriptions::stats::stats(pool, period).await?);
        let packages = backend::packages::list_all(pool)
            .await?
            .into_iter()
            .map(|p| (p.code.to_string(), p.name))
            .collect();
        let links = Links {
            params: &params,
            days,
        };
        let PurchaseTable {
            rows,
            total,
            next_cursor,
            sort,
        } = table;
        let dashboard = state.config.stripe.dashboard_base();
        let paged = page.cursor.as_deref().is_some_and(|c| !c.trim().is_empty());
        Ok(DashboardView {
            subscriptions,
            days,
            period: format!("{} – {}", period.from(), period.to()),
            figures: figures(&stats),
            bars: stats
                .daily
                .iter()
                .map(|day| Bar {
                    label: day.day.to_string(),
                    value: day.revenue.get(),
                    title: day.revenue.to_string(),
                })
                .collect(),
            by_package: stats
                .by_package
                .into_iter()
                .map(|p| PackageSalesView {
                    name: p.package_name,
                    purchases: p.purchases,
                    credits: p.credits,
                    revenue: p.revenue,
                })
                .collect(),
            filter_error,
            rows: rows.into_iter().map(|p| row(p, dashboard)).collect(),
            total,
            needs_review: needs_review
                .rows
                .into_iter()
                .map(|p| row(p, dashboard))
                .collect(),
            needs_review_total: needs_review.total,
            packages,
            csv_href: href(
                "/api/v1/billing/credits/admin/purchases/export",
                links.filters(params.sort.as_deref(), params.order.as_deref(), None),
            ),
            next_href: next_cursor.map(|cursor| links.page(Some(&cursor.to_string()))),
            first_href: paged.then(|| links.page(None)),
            sort_created_href: links.toggle(sort, SortKey::CreatedAt),
            sort_amount_href: links.toggle(sort, SortKey::Amount),
            params,
        })
    }

    fn subscriptions(stats: backend::subscriptions::stats::SubscriptionStats) -> SubscriptionsView {
        // To the cent, half away from zero, then shown as money.
        let rounded = stats
            .mrr
            .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        let mrr =
            Cents::from_dollars(rounded).map_or_else(|_| format!("${rounded}"), |c| c.to_string());
        SubscriptionsView {
            by_tier: stats
                .by_tier
                .into_iter()
                .map(|t| TierCountView {
                    tier: t.tier_code,
                    name: t.tier_name,
                    live: t.live,
                })
                .collect(),
            mrr,
            new_current: stats.new_current,
            new_previous: stats.new_previous,
            churned_current: stats.churned_current,
            churned_previous: stats.churned_previous,
            past_due: stats
                .past_due
                .into_iter()
                .map(|p| PastDueView {
                    email: p.email.unwrap_or_else(|| p.user_id.to_string()),
                    subscription_id: p.subscription_id,
                    tier: p.tier_name.unwrap_or_default(),
                    amount: p.amount.map(|a| a.to_string()).unwrap_or_default(),
                    since: p
                        .since
                        .map(|s| s.format("%Y-%m-%d").to_string())
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }

    async fn unfiltered(pool: &sqlx::PgPool) -> Result<PurchaseTable, AdminError> {
        admin::purchase_table(
            pool,
            &FilterParams::default(),
            &PageParams::default(),
            TABLE_PAGE_SIZE,
        )
        .await
    }

    /// The dashboard's own links, keeping its filters and period.
    struct Links<'a> {
        params: &'a FilterParams,
        days: u32,
    }

    impl Links<'_> {
        fn filters(&self, sort: Option<&str>, order: Option<&str>, cursor: Option<&str>) -> String {
            let params = self.params;
            query_string(&[
                ("status", params.status.as_deref()),
                ("package", params.package.as_deref()),
                ("from", params.from.as_deref()),
                ("to", params.to.as_deref()),
                ("user", params.user.as_deref()),
                ("sort", sort),
                ("order", order),
                ("cursor", cursor),
            ])
        }

        /// The page after `cursor` (`None`: the first page) in the current sort.
        fn page(&self, cursor: Option<&str>) -> String {
            let query = self.filters(
                self.params.sort.as_deref(),
                self.params.order.as_deref(),
                cursor,
            );
            href("/admin/credits", with_days(query, self.days))
        }

        /// Sorted by `key`: descending first, ascending when already so.
        fn toggle(&self, current: backend::admin::PurchaseSort, key: SortKey) -> String {
            let order = if current.key == key && current.direction == SortDirection::Desc {
                "asc"
            } else {
                "desc"
            };
            let query = self.filters(Some(key.as_str()), Some(order), None);
            href("/admin/credits", with_days(query, self.days))
        }
    }

    fn query_string(pairs: &[(&str, Option<&str>)]) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in pairs {
            if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
                query.append_pair(key, value);
            }
        }
        query.finish()
    }

    fn href(path: &str, query: String) -> String {
        if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        }
    }

    fn with_days(query: String, days: u32) -> String {
        if days == 30 {
            query
        } else if query.is_empty() {
            format!("days={days}")
        } else {
            format!("days={days}&{query}")
        }
    }

    fn figures(stats: &admin::DashboardStats) -> Vec<Figure> {
        let (now, before) = (&stats.current, &stats.previous);
        let percent = |f: &admin::Figures| {
            f.conversion()
                .map(|c| format!("{:.1}%", c * 100.0))
                .unwrap_or_else(|| "–".into())
        };
        let count = |key: &str, label: &str, now: String, before: String| Figure {
            key: key.into(),
            label: label.into(),
            current: now,
            previous: before,
        };
        let money = |key: &str, label: &str, now: Cents, before: Cents| {
            count(key, label, now.to_string(), before.to_string())
        };
        vec![
            money("revenue", "Revenue", now.revenue, before.revenue),
            money("refunds", "Refunds", now.refunds, before.refunds),
            money("net", "Net", now.net, before.net),
            count(
                "purchases",
                "Purchases",
                now.purchases.to_string(),
                before.purchases.to_string(),
            ),
            count(
                "credits",
                "Credits sold",
                now.credits_sold.to_string(),
                before.credits_sold.to_string(),
            ),
            count("conversion", "Conversion", percent(now), percent(before)),
        ]
    }
}
