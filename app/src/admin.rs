//! The admin dashboard's view types and server functions. Every function
//! here calls `require_admin()` itself: anonymous → 401, others → 403.
//! The services are `backend::admin` and `backend::packages::manage`.

#[allow(unused_imports)]
use crate::error::{ApiError, ErrorCode};
use domain::{Cents, Credits, PurchaseStatus};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::revenue_chart::Bar;

/// Rows per page of the purchase table.
pub const TABLE_PAGE_SIZE: i64 = 25;
/// Rows of the dashboard's "Needs review" list.
pub const REVIEW_LIST_SIZE: i64 = 50;
/// The figure periods offered, in days.
pub const PERIODS: [u32; 3] = [7, 30, 90];

/// The purchase table's filters, sort and page as the URL carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TableParams {
    pub status: Option<String>,
    pub package: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub user: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
    pub cursor: Option<String>,
}

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

/// One row of the purchase table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminRow {
    pub id: String,
    pub user_id: String,
    pub user_email: Option<String>,
    pub user_name: Option<String>,
    pub package_name: String,
    pub credits: Credits,
    pub amount: Cents,
    pub refunded: Cents,
    pub status: PurchaseStatus,
    pub created_at: String,
    pub completed_at: Option<String>,
    pub session_id: Option<String>,
    pub payment_id: Option<String>,
    /// The payment in Stripe's dashboard (real keys only).
    pub payment_url: Option<String>,
    /// Why the purchase was held for review, if it was.
    pub review_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardView {
    pub days: u32,
    pub period: String,
    pub figures: Vec<Figure>,
    pub bars: Vec<Bar>,
    pub by_package: Vec<PackageSalesView>,
    pub params: TableParams,
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

/// Figures, chart, breakdown and a page of the purchase table.
#[server(endpoint = "admin_dashboard", input = leptos::server_fn::codec::Json)]
pub async fn admin_dashboard(
    days: Option<u32>,
    params: TableParams,
) -> Result<DashboardView, ApiError> {
    ssr::require_admin().await?;
    ssr::dashboard(days, params).await
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditView {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub details: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerView {
    pub at: String,
    pub amount: Credits,
    pub reference: String,
    pub description: String,
    pub balance_after: Credits,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurchaseDetailView {
    pub row: AdminRow,
    pub discount_percentage: i32,
    pub stripe_customer_id: Option<String>,
    pub refundable: Cents,
    pub user_balance: Credits,
    pub audit: Vec<AuditView>,
    pub ledger: Vec<LedgerView>,
    /// A fresh id for the adjustment form, so a resubmitted form counts once.
    pub adjustment_request_id: String,
    /// A fresh id for the refund form, so a resubmitted form refunds once.
    pub refund_request_id: String,
}

/// One purchase with its audit trail and ledger entries.
#[server(endpoint = "admin_purchase")]
pub async fn admin_purchase(id: String) -> Result<PurchaseDetailView, ApiError> {
    ssr::require_admin().await?;
    ssr::purchase(&id).await
}

/// Refunds `amount` dollars of the purchase (everything left when blank)
/// through Stripe; the credits come back through the refund path. The form
/// sends the `request_id` it was rendered with, so a resubmission refunds once.
#[server(endpoint = "refund_purchase")]
pub async fn refund_purchase(
    id: String,
    amount: String,
    request_id: String,
) -> Result<String, ApiError> {
    let admin = ssr::require_admin().await?;
    ssr::refund(admin, &id, &amount, &request_id).await
}

/// Settles a purchase held for review: `action` is `grant` (its credits,
/// once) or `refund` (the whole payment through Stripe, no credits).
#[server(endpoint = "review_purchase")]
pub async fn review_purchase(id: String, action: String) -> Result<String, ApiError> {
    let admin = ssr::require_admin().await?;
    ssr::review(admin, &id, &action).await
}

/// Adds (or with a minus sign removes) credits for a user, with a reason.
#[server(endpoint = "adjust_credits")]
pub async fn adjust_credits(
    user_id: String,
    amount: String,
    reason: String,
    request_id: String,
) -> Result<String, ApiError> {
    let admin = ssr::require_admin().await?;
    ssr::adjust(admin, &user_id, &amount, &reason, &request_id).await
}

/// A package as the catalogue editor shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminPackageView {
    pub id: String,
    pub code: String,
    pub name: String,
    pub description: String,
    pub credits: Credits,
    pub price: Cents,
    pub discount_percentage: u8,
    pub is_popular: bool,
    pub is_active: bool,
    pub stripe_price_id: Option<String>,
}

/// Every package, active or not, in display order.
#[server(endpoint = "admin_packages")]
pub async fn admin_packages() -> Result<Vec<AdminPackageView>, ApiError> {
    ssr::require_admin().await?;
    ssr::packages().await
}

/// Creates a package (`id` empty) or saves changes to one. Checkboxes send
/// `on` when ticked and nothing otherwise.
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "save_package")]
pub async fn save_package(
    id: String,
    package_code: String,
    package_name: String,
    description: String,
    credits: String,
    price: String,
    discount_percentage: String,
    is_popular: Option<String>,
    is_active: Option<String>,
) -> Result<String, ApiError> {
    ssr::require_admin().await?;
    ssr::save_package(ssr::PackageForm {
        id,
        code: package_code,
        name: package_name,
        description,
        credits,
        price,
        discount_percentage,
        is_popular: is_popular.is_some(),
        is_active: is_active.is_some(),
    })
    .await
}

/// Moves a package one place `up` or `down` in the display order.
#[server(endpoint = "move_package")]
pub async fn move_package(id: String, direction: String) -> Result<(), ApiError> {
    ssr::require_admin().await?;
    ssr::move_package(&id, &direction).await
}

#[cfg(feature = "ssr")]
mod ssr {
    use backend::{
        AppState,
        admin::{
            self, AdjustmentError, AdjustmentReason, AdminRefund, CreditAdjustment, Cursor,
            FilterParams, Page, PurchaseFilter, PurchaseQuery, PurchaseSort, RefundError,
            ReviewAction, ReviewError, SortDirection, SortKey, StatsPeriod,
        },
        auth::AuthUser,
        ids::{PackageId, PurchaseId, UserId},
        packages::{
            self,
            manage::{self, CatalogueError, PackageChanges, PackageInput},
        },
        rate_limit::Limited,
    };
    use domain::{Cents, Credits};
    use leptos::prelude::*;
    use uuid::Uuid;

    use super::*;
    use crate::credits::ssr::{failed, failed_with, rate_limit};

    pub async fn require_admin() -> Result<AuthUser, ApiError> {
        crate::auth::ssr::require_admin().await
    }

    fn state() -> AppState {
        expect_context::<AppState>()
    }

    fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
        at.format("%Y-%m-%d %H:%M").to_string()
    }

    /// A message the admin can act on; the status says it was their input.
    fn bad_input(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidBody, message)
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

    fn row(purchase: admin::AdminPurchase, dashboard: Option<&str>) -> AdminRow {
        AdminRow {
            payment_url: dashboard
                .zip(purchase.stripe_payment_id.as_deref())
                .map(|(base, id)| format!("{base}/payments/{id}")),
            id: purchase.id.to_string(),
            user_id: purchase.user_id.to_string(),
            user_email: purchase.user_email,
            user_name: purchase.user_name,
            package_name: purchase.package_name,
            credits: purchase.amount_credits,
            amount: purchase.amount_paid,
            refunded: purchase.refunded,
            status: purchase.status,
            created_at: timestamp(purchase.created_at),
            completed_at: purchase.completed_at.map(timestamp),
            session_id: purchase.stripe_session_id,
            payment_id: purchase.stripe_payment_id,
            review_reason: purchase.review_reason,
        }
    }

    pub async fn dashboard(
        days: Option<u32>,
        params: TableParams,
    ) -> Result<DashboardView, ApiError> {
        let state = state();
        let days = days.filter(|d| PERIODS.contains(d)).unwrap_or(30);
        let period = StatsPeriod::last_days(chrono::Utc::now().date_naive(), u64::from(days));
        let stats = admin::stats(&state.pool, period)
            .await
            .map_err(|e| failed("dashboard figures", e))?;

        let (parsed, filter_error) = match (FilterParams {
            status: params.status.clone(),
            package: params.package.clone(),
            from: params.from.clone(),
            to: params.to.clone(),
            user: params.user.clone(),
            sort: params.sort.clone(),
            order: params.order.clone(),
        })
        .parse()
        {
            Ok(parsed) => (parsed, None),
            Err(message) => (Default::default(), Some(message)),
        };
        let (filter, sort) = parsed;
        let after = params
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .and_then(|c| c.parse::<Cursor>().ok());
        let total = admin::count_purchases(&state.pool, &filter)
            .await
            .map_err(|e| failed("counting purchases", e))?;
        let page = admin::list_purchases(
            &state.pool,
            &PurchaseQuery {
                filter: filter.clone(),
                sort,
                page: Page::Keyset {
                    limit: TABLE_PAGE_SIZE,
                    after,
                },
            },
        )
        .await
        .or_else(|error| match error {
            // A cursor from another sort order: start at the first page.
            admin::AdminError::CursorMismatch => Ok(admin::PurchasePage {
                rows: Vec::new(),
                next_cursor: None,
            }),
            other => Err(other),
        })
        .map_err(|e| failed("listing purchases", e))?;
        let packages = packages::list_all(&state.pool)
            .await
            .map_err(|e| failed("listing packages", e))?
            .into_iter()
            .map(|p| (p.code.to_string(), p.name))
            .collect();
        let review_filter = PurchaseFilter {
            status: Some(domain::PurchaseStatus::NeedsReview),
            ..PurchaseFilter::default()
        };
        let needs_review_total = admin::count_purchases(&state.pool, &review_filter)
            .await
            .map_err(|e| failed("counting purchases to review", e))?;
        let needs_review = admin::list_purchases(
            &state.pool,
            &PurchaseQuery {
                filter: review_filter,
                sort: PurchaseSort {
                    key: SortKey::CreatedAt,
                    direction: SortDirection::Asc,
                },
                page: Page::Offset {
                    limit: REVIEW_LIST_SIZE,
                    offset: 0,
                },
            },
        )
        .await
        .map_err(|e| failed("listing purchases to review", e))?;

        let filters = |sort: Option<&str>, order: Option<&str>, cursor: Option<&str>| {
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
        };
        let current_sort = params.sort.as_deref();
        let current_order = params.order.as_deref();
        let toggle = |key: SortKey| {
            let same = sort.key == key;
            let order = if same && sort.direction == SortDirection::Desc {
                "asc"
            } else {
                "desc"
            };
            let mut query = filters(Some(key.as_str()), Some(order), None);
            query = with_days(query, days);
            href("/admin/credits", query)
        };
        let next_cursor = page.next_cursor.as_ref().map(ToString::to_string);
        let dashboard = state.config.stripe.dashboard_base();
        Ok(DashboardView {
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
            rows: page.rows.into_iter().map(|p| row(p, dashboard)).collect(),
            total,
            needs_review: needs_review
                .rows
                .into_iter()
                .map(|p| row(p, dashboard))
                .collect(),
            needs_review_total,
            packages,
            csv_href: href(
                "/api/v1/billing/credits/admin/purchases/export",
                filters(current_sort, current_order, None),
            ),
            next_href: next_cursor.as_deref().map(|cursor| {
                href(
                    "/admin/credits",
                    with_days(filters(current_sort, current_order, Some(cursor)), days),
                )
            }),
            first_href: after.map(|_| {
                href(
                    "/admin/credits",
                    with_days(filters(current_sort, current_order, None), days),
                )
            }),
            sort_created_href: toggle(SortKey::CreatedAt),
            sort_amount_href: toggle(SortKey::Amount),
            params,
        })
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
        vec![
            figure("revenue", "Revenue", now.revenue, before.revenue),
            figure("refunds", "Refunds", now.refunds, before.refunds),
            figure("net", "Net", now.net, before.net),
            Figure {
                key: "purchases".into(),
                label: "Purchases".into(),
                current: now.purchases.to_string(),
                previous: before.purchases.to_string(),
            },
            Figure {
                key: "credits".into(),
                label: "Credits sold".into(),
                current: now.credits_sold.to_string(),
                previous: before.credits_sold.to_string(),
            },
            Figure {
                key: "conversion".into(),
                label: "Conversion".into(),
                current: percent(now),
                previous: percent(before),
            },
        ]
    }

    fn figure(key: &str, label: &str, now: Cents, before: Cents) -> Figure {
        Figure {
            key: key.into(),
            label: label.into(),
            current: now.to_string(),
            previous: before.to_string(),
        }
    }

    fn purchase_id(id: &str) -> Result<PurchaseId, ApiError> {
        id.trim()
            .parse::<Uuid>()
            .map(PurchaseId::from_uuid)
            .map_err(|_| bad_input("That is not a purchase id."))
    }

    pub async fn purchase(id: &str) -> Result<PurchaseDetailView, ApiError> {
        let state = state();
        let id = purchase_id(id)?;
        let Some(detail) = admin::purchase_detail(&state.pool, id)
            .await
            .map_err(|e| failed("loading a purchase", e))?
        else {
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(http::StatusCode::NOT_FOUND);
            }
            return Err(ApiError::new(
                ErrorCode::UnknownPurchase,
                "There is no such purchase.",
            ));
        };
        let user_balance = backend::ledger::balance(&state.pool, detail.purchase.user_id)
            .await
            .map_err(|e| failed("loading a balance", e))?;
        let refundable =
            Cents::new((detail.purchase.amount_paid.get() - detail.purchase.refunded.get()).max(0))
                .unwrap_or(Cents::ZERO);
        let dashboard = state.config.stripe.dashboard_base();
        Ok(PurchaseDetailView {
            discount_percentage: detail.discount_percentage,
            stripe_customer_id: detail.stripe_customer_id,
            refundable,
            user_balance,
            audit: detail
                .audit
                .into_iter()
                .map(|entry| AuditView {
                    at: timestamp(entry.occurred_at),
                    actor: entry.actor,
                    action: entry.action,
                    details: entry.details.to_string(),
                })
                .collect(),
            ledger: detail
                .ledger
                .into_iter()
                .map(|entry| LedgerView {
                    at: timestamp(entry.created_at),
                    amount: entry.amount,
                    reference: entry.reference,
                    description: entry.description,
                    balance_after: entry.balance_after,
                })
                .collect(),
            adjustment_request_id: Uuid::new_v4().to_string(),
            refund_request_id: Uuid::new_v4().to_string(),
            row: row(detail.purchase, dashboard),
        })
    }

    /// `12`, `12.5`, `$12.50` → cents; blank → `None`.
    fn dollars(text: &str, field: &str) -> Result<Option<Cents>, ApiError> {
        let text = text.trim().trim_start_matches('$').replace(',', "");
        if text.is_empty() {
            return Ok(None);
        }
        let amount: rust_decimal::Decimal = text.parse().map_err(|_| {
            bad_input(format!(
                "{field} must be an amount in dollars, such as 12.50."
            ))
        })?;
        Cents::from_dollars(amount)
            .map(Some)
            .map_err(|e| bad_input(format!("{field}: {e}.")))
    }

    pub async fn refund(
        admin: AuthUser,
        id: &str,
        amount: &str,
        request_id: &str,
    ) -> Result<String, ApiError> {
        let state = state();
        let id = purchase_id(id)?;
        let amount = dollars(amount, "The refund amount")?;
        let request_id = request_id
            .trim()
            .parse::<Uuid>()
            .map_err(|_| bad_input("The form is out of date; please reload the page."))?;
        rate_limit(&state, Limited::Refund, admin.id)?;
        let request = AdminRefund {
            purchase: id,
            amount,
            request_id,
        };
        match admin::refund_purchase(&state.pool, &state.stripe, admin.id, &request).await {
            Ok(outcome) if !outcome.applied => Ok(format!(
                "This refund was already made (refund {}). {} refunded in all; the purchase is {}.",
                outcome.refund_id,
                outcome.refunded_total,
                outcome.status.as_str().replace('_', " ")
            )),
            Ok(outcome) => Ok(format!(
                "Refunded {} (refund {}). {} refunded in all; the purchase is now {}.",
                outcome.amount,
                outcome.refund_id,
                outcome.refunded_total,
                outcome.status.as_str().replace('_', " ")
            )),
            Err(
                error @ (RefundError::NotRefundable(_)
                | RefundError::NoPayment
                | RefundError::ZeroAmount
                | RefundError::TooMuch { .. }
                | RefundError::RequestIdReused
                | RefundError::StripeRefused { .. }),
            ) => Err(bad_input(capitalise(&error.to_string()))),
            Err(RefundError::NotFound(_)) => Err(bad_input("There is no such purchase.")),
            Err(error @ RefundError::Stripe(_)) => Err(failed_with(
                "an admin refund",
                error,
                "Stripe could not be reached; nothing was refunded. Please try again.",
            )),
            Err(other) => Err(failed("an admin refund", other)),
        }
    }

    pub async fn review(admin: AuthUser, id: &str, action: &str) -> Result<String, ApiError> {
        let state = state();
        let id = purchase_id(id)?;
        let action = ReviewAction::parse(action)
            .ok_or_else(|| bad_input("The action must be grant or refund."))?;
        match admin::review_purchase(&state.pool, &state.stripe, admin.id, id, action).await {
            Ok(outcome) => Ok(match outcome.refund_id {
                Some(refund) => format!(
                    "Refunded the whole payment (refund {refund}); no credits were granted. The purchase is now {}.",
                    outcome.status.as_str().replace('_', " ")
                ),
                None => format!(
                    "Granted {} credits. The purchase is now {}.",
                    Credits::signed(outcome.credits_granted),
                    outcome.status.as_str().replace('_', " ")
                ),
            }),
            Err(
                error @ (ReviewError::NotInReview(_)
                | ReviewError::NoPayment
                | ReviewError::StripeRefused { .. }),
            ) => Err(bad_input(capitalise(&error.to_string()))),
            Err(ReviewError::NotFound(_)) => Err(bad_input("There is no such purchase.")),
            Err(error @ ReviewError::Stripe(_)) => Err(failed_with(
                "a review refund",
                error,
                "Stripe could not be reached; nothing was refunded. Please try again.",
            )),
            Err(other) => Err(failed("a purchase review", other)),
        }
    }

    pub async fn adjust(
        admin: AuthUser,
        user_id: &str,
        amount: &str,
        reason: &str,
        request_id: &str,
    ) -> Result<String, ApiError> {
        let state = state();
        let user = user_id
            .trim()
            .parse::<Uuid>()
            .map(UserId::from_uuid)
            .map_err(|_| bad_input("That is not a user id."))?;
        let amount: i64 = amount
            .trim()
            .replace(',', "")
            .parse()
            .map_err(|_| bad_input("Credits must be a whole number, such as 500 or -200."))?;
        let reason =
            AdjustmentReason::parse(reason).map_err(|e| bad_input(capitalise(&e.to_string())))?;
        let request_id = request_id
            .trim()
            .parse::<Uuid>()
            .unwrap_or_else(|_| Uuid::new_v4());
        rate_limit(&state, Limited::Adjustment, admin.id)?;
        match admin::adjust_credits(
            &state.pool,
            admin.id,
            &CreditAdjustment {
                user,
                amount: Credits::signed(amount),
                reason,
                request_id,
            },
        )
        .await
        {
            Ok(outcome) if outcome.applied => Ok(format!(
                "Adjusted by {} credits; the balance is now {}.",
                Credits::signed(amount),
                outcome.balance_after
            )),
            Ok(outcome) => Ok(format!(
                "This adjustment was already applied; the balance is {}.",
                outcome.balance_after
            )),
            Err(
                error @ (AdjustmentError::UnknownUser(_)
                | AdjustmentError::ZeroAmount
                | AdjustmentError::TooLarge
                | AdjustmentError::BalanceTooHigh { .. }
                | AdjustmentError::ReasonRequired
                | AdjustmentError::ReasonTooLong
                | AdjustmentError::WouldGoNegative { .. }),
            ) => Err(bad_input(capitalise(&error.to_string()))),
            Err(other) => Err(failed("a credit adjustment", other)),
        }
    }

    fn capitalise(text: &str) -> String {
        let mut chars = text.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
            None => String::new(),
        }
        .replace("..", ".")
    }

    pub async fn packages() -> Result<Vec<AdminPackageView>, ApiError> {
        let state = state();
        Ok(packages::list_all(&state.pool)
            .await
            .map_err(|e| failed("listing packages", e))?
            .into_iter()
            .map(|p| AdminPackageView {
                id: p.id.to_string(),
                code: p.code.to_string(),
                name: p.name,
                description: p.description,
                credits: p.credits,
                price: p.price,
                discount_percentage: p.discount_percentage,
                is_popular: p.is_popular,
                is_active: p.is_active,
                stripe_price_id: p.stripe_price_id.map(String::from),
            })
            .collect())
    }

    pub struct PackageForm {
        pub id: String,
        pub code: String,
        pub name: String,
        pub description: String,
        pub credits: String,
        pub price: String,
        pub discount_percentage: String,
        pub is_popular: bool,
        pub is_active: bool,
    }

    fn whole(text: &str, field: &str) -> Result<i64, ApiError> {
        text.trim()
            .replace(',', "")
            .parse()
            .map_err(|_| bad_input(format!("{field} must be a whole number.")))
    }

    pub async fn save_package(form: PackageForm) -> Result<String, ApiError> {
        let state = state();
        let credits = whole(&form.credits, "Credits")?;
        let price = dollars(&form.price, "The price")?
            .ok_or_else(|| bad_input("The price is required."))?;
        let discount = if form.discount_percentage.trim().is_empty() {
            0
        } else {
            i32::try_from(whole(&form.discount_percentage, "The discount")?)
                .map_err(|_| bad_input("The discount must be between 0 and 100 percent."))?
        };
        let result = if form.id.trim().is_empty() {
            manage::create_package(
                &state.pool,
                &state.stripe,
                &PackageInput {
                    code: form.code.trim().to_owned(),
                    name: form.name,
                    description: form.description,
                    credits,
                    price_cents: price.get(),
                    discount_percentage: discount,
                    is_popular: form.is_popular,
                    is_active: form.is_active,
                },
            )
            .await
        } else {
            let id = form
                .id
                .trim()
                .parse::<Uuid>()
                .map_err(|_| bad_input("That is not a package id."))?;
            manage::update_package(
                &state.pool,
                &state.stripe,
                PackageId::from_uuid(id),
                &PackageChanges {
                    name: Some(form.name),
                    description: Some(form.description),
                    credits: Some(credits),
                    price_cents: Some(price.get()),
                    discount_percentage: Some(discount),
                    is_popular: Some(form.is_popular),
                    is_active: Some(form.is_active),
                },
            )
            .await
        };
        match result {
            Ok(package) => Ok(format!("Saved {}.", package.name)),
            Err(error) => Err(catalogue_error(error)),
        }
    }

    fn catalogue_error(error: CatalogueError) -> ApiError {
        match error {
            CatalogueError::Invalid(_)
            | CatalogueError::DuplicateCode(_)
            | CatalogueError::NotFound(_)
            | CatalogueError::IncompleteOrder => bad_input(error.to_string()),
            CatalogueError::Stripe(_) => failed_with(
                "a catalogue change",
                error,
                "Stripe could not be updated; nothing was changed. Please try again.",
            ),
            other => failed("a catalogue change", other),
        }
    }

    pub async fn move_package(id: &str, direction: &str) -> Result<(), ApiError> {
        let state = state();
        let id = id
            .trim()
            .parse::<Uuid>()
            .map_err(|_| bad_input("That is not a package id."))?;
        let mut order: Vec<PackageId> = packages::list_all(&state.pool)
            .await
            .map_err(|e| failed("listing packages", e))?
            .into_iter()
            .map(|p| PackageId::from_uuid(p.id))
            .collect();
        let Some(at) = order.iter().position(|p| p.as_uuid() == id) else {
            return Err(bad_input("There is no such package."));
        };
        let to = match direction {
            "up" if at > 0 => at - 1,
            "down" if at + 1 < order.len() => at + 1,
            "up" | "down" => return Ok(()),
            _ => return Err(bad_input("direction must be up or down.")),
        };
        order.swap(at, to);
        manage::reorder_packages(&state.pool, &order)
            .await
            .map(|_| ())
            .map_err(catalogue_error)
    }
}
