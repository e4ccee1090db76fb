use crate::components::skeleton::PageSkeleton;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{AdminNav, refusal};
use crate::{
    admin::{AdminRow, DashboardView, FilterParams, PERIODS, PageParams, admin_dashboard},
    components::{bar_chart::BarChart, local_time::LocalTime, status_chip::StatusChip},
};

#[component]
pub fn AdminDashboardPage() -> impl IntoView {
    let query = use_query_map();
    let request = move || {
        query.with(|q| {
            let get = |key: &str| q.get(key).filter(|v| !v.is_empty());
            (
                get("days").and_then(|d| d.parse::<u32>().ok()),
                FilterParams {
                    status: get("status"),
                    package: get("package"),
                    from: get("from"),
                    to: get("to"),
                    user: get("user"),
                    sort: get("sort"),
                    order: get("order"),
                },
                PageParams {
                    cursor: get("cursor"),
                    ..PageParams::default()
                },
            )
        })
    };
    let dashboard = Resource::new(request, |(days, params, page)| {
        admin_dashboard(days, params, page)
    });
    view! {
        <Suspense fallback=|| view! { <PageSkeleton /> }>
            {move || Suspend::new(async move {
                match dashboard.await {
                    Ok(view) => view! { <Dashboard view /> }.into_any(),
                    Err(error) => refusal(&error, "/admin/credits"),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Dashboard(view: DashboardView) -> impl IntoView {
    let DashboardView {
        subscriptions,
        days,
        period,
        figures,
        bars,
        by_package,
        params,
        filter_error,
        rows,
        total,
        needs_review,
        needs_review_total,
        packages,
        csv_href,
        next_href,
        first_href,
        sort_created_href,
        sort_amount_href,
    } = view;
    let max_revenue = by_package
        .iter()
        .map(|p| p.revenue.get())
        .max()
        .unwrap_or(0)
        .max(1);
    view! {
        <AdminNav active="dashboard" />
        <div class="flex flex-wrap items-end justify-between gap-4">
            <div>
                <h1 class="text-3xl font-bold tracking-tight">"Credits dashboard"</h1>
                <p class="mt-1 text-sm text-slate-600">{format!("Figures for {period} (UTC), beside the {days} days before.")}</p>
            </div>
            <nav aria-label="Period" class="flex gap-1 rounded-lg bg-surface p-1 shadow-sm ring-1 ring-slate-200">
                {PERIODS
                    .iter()
                    .map(|&d| {
                        let class = if d == days {
                            "rounded-md bg-ink px-3 py-1 text-sm font-semibold text-white"
                        } else {
                            "rounded-md px-3 py-1 text-sm text-slate-700 hover:bg-slate-100"
                        };
                        view! { <a href=format!("/admin/credits?days={d}") class=class>{format!("{d} days")}</a> }
                    })
                    .collect_view()}
            </nav>
        </div>

        <NeedsReview rows=needs_review total=needs_review_total />

        <dl id="figures" class="mt-6 grid grid-cols-2 gap-4 md:grid-cols-3 lg:grid-cols-6">
            {figures
                .into_iter()
                .map(|figure| {
                    view! {
                        <div data-figure=figure.key class="rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200">
                            <dt class="text-xs font-medium uppercase tracking-wide text-slate-500">{figure.label}</dt>
                            <dd class="mt-1 text-2xl font-bold tabular-nums" data-role="current">{figure.current}</dd>
                            <dd class="text-xs text-slate-500" data-role="previous">{format!("previous: {}", figure.previous)}</dd>
                        </div>
                    }
                })
                .collect_view()}
        </dl>

        <div class="mt-6 grid gap-6 lg:grid-cols-3">
            <section class="rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200 lg:col-span-2">
                <h2 class="text-sm font-semibold">"Revenue per day"</h2>
                <BarChart bars caption="Revenue from completed purchases" />
            </section>
            <section class="rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200">
                <h2 class="text-sm font-semibold">"Purchases by package"</h2>
                <ul id="by-package" class="mt-3 space-y-3 text-sm">
                    {by_package
                        .into_iter()
                        .map(|p| {
                            let width = p.revenue.get() * 100 / max_revenue;
                            view! {
                                <li>
                                    <div class="flex justify-between">
                                        <span class="font-medium">{p.name}</span>
                                        <span class="tabular-nums text-slate-600">
                                            {format!("{} · {} · {}", p.purchases, p.credits, p.revenue)}
                                        </span>
                                    </div>
                                    <div class="mt-1 h-2 rounded-full bg-slate-100">
                                        <div class="h-2 rounded-full bg-indigo-500" style=format!("width: {width}%")></div>
                                    </div>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </section>
        </div>

        <Subscriptions view=subscriptions />

        <section class="mt-10">
            <div class="flex flex-wrap items-end justify-between gap-2">
                <h2 class="text-xl font-semibold tracking-tight">"All purchases"</h2>
                <a id="export-csv" href=csv_href rel="external" download class="rounded-lg border border-slate-300 bg-surface px-3 py-1.5 text-sm font-medium hover:bg-slate-50">
                    "Export CSV"
                </a>
            </div>
            <Filters params=params.clone() packages />
            {filter_error.map(|message| view! {
                <p class="mt-3 rounded-lg bg-amber-50 p-3 text-sm text-amber-900" role="alert">{message}</p>
            })}
            <p id="purchase-count" class="mt-3 text-sm text-slate-600">{if total == 1 { "1 purchase matches".to_owned() } else { format!("{total} purchases match") }}</p>
            {if rows.is_empty() {
                view! {
                    <p id="purchases-empty" class="mt-2 rounded-xl border border-dashed border-slate-300 p-6 text-center text-slate-600">
                        "No purchase matches these filters. "
                        <a href="/admin/credits" class="font-medium text-link hover:underline">"Clear the filters"</a>
                    </p>
                }
                    .into_any()
            } else {
                view! {
            <div class="mt-2 rounded-xl bg-surface shadow-sm ring-1 ring-slate-200 sm:overflow-x-auto" tabindex="0" role="region" aria-label="All purchases">
                <table id="purchases" class="cards min-w-full divide-y divide-slate-200 text-sm">
                    <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                        <tr>
                            <th scope="col" class="px-3 py-2">"User"</th>
                            <th scope="col" class="px-3 py-2">"Package"</th>
                            <th scope="col" class="px-3 py-2 text-right">"Credits"</th>
                            <th scope="col" class="px-3 py-2 text-right">
                                <a id="sort-amount" href=sort_amount_href class="hover:underline">"Amount ↕"</a>
                            </th>
                            <th scope="col" class="px-3 py-2">"Status"</th>
                            <th scope="col" class="px-3 py-2">
                                <a id="sort-created" href=sort_created_href class="hover:underline">"Created ↕"</a>
                            </th>
                            <th scope="col" class="px-3 py-2">"Completed"</th>
                            <th scope="col" class="px-3 py-2">"Stripe"</th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100">
                        {rows.into_iter().map(|row| view! { <Row row /> }).collect_view()}
                    </tbody>
                </table>
            </div>
                }
                    .into_any()
            }}
            <nav aria-label="Pages" class="mt-3 flex justify-between text-sm">
                {first_href.map(|href| view! { <a data-role="first" href=href class="font-medium text-link hover:underline">"← First page"</a> })}
                <span></span>
                {next_href.map(|href| view! { <a data-role="next" href=href class="font-medium text-link hover:underline">"Next page →"</a> })}
            </nav>
        </section>
    }
}

/// Paid purchases that granted nothing and wait for an admin: each links to
/// its detail page, where Grant and Refund settle it.
#[component]
fn NeedsReview(rows: Vec<AdminRow>, total: i64) -> impl IntoView {
    let heading = match total {
        0 => "Needs review".to_owned(),
        n => format!("Needs review ({n})"),
    };
    let shown = rows.len() as i64;
    view! {
        <section id="needs-review" data-count=total.to_string() class="mt-6 rounded-xl bg-surface p-4 shadow-sm ring-1 ring-orange-200">
            <div class="flex flex-wrap items-end justify-between gap-2">
                <h2 class="text-sm font-semibold">{heading}</h2>
                {(total > shown).then(|| view! {
                    <a href="/admin/credits?status=needs_review" class="text-sm font-medium text-link hover:underline">"All of them →"</a>
                })}
            </div>
            {if rows.is_empty() {
                view! { <p class="mt-2 text-sm text-slate-600">"Nothing to review: every paid checkout matched its purchase."</p> }.into_any()
            } else {
                view! {
                    <p class="mt-1 text-sm text-slate-600">"These buyers paid but got no credits yet. Open one to grant its credits or refund the payment."</p>
                    <ul class="mt-3 divide-y divide-slate-100 text-sm">
                        {rows.into_iter().map(|row| {
                            let detail = format!("/admin/credits/purchases/{}", row.id);
                            view! {
                                <li data-purchase=row.id.clone() class="flex flex-wrap items-baseline justify-between gap-2 py-2">
                                    <span>
                                        <a data-role="open" href=detail class="font-medium text-link hover:underline">{row.package_name.clone()}</a>
                                        {format!(" · {} · {}", row.user_email.clone().unwrap_or_else(|| row.user_id.clone()), row.amount)}
                                    </span>
                                    <span data-role="reason" class="text-slate-600">{row.review_reason.clone().unwrap_or_default()}</span>
                                    <span class="text-xs text-slate-500"><LocalTime iso=row.created_at.clone() /></span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn Filters(params: FilterParams, packages: Vec<(String, String)>) -> impl IntoView {
    let status = params.status.clone().unwrap_or_default();
    let package = params.package.clone().unwrap_or_default();
    let input = "mt-1 block w-full rounded-lg border border-slate-300 px-2 py-1.5 text-sm";
    view! {
        <form id="filters" method="get" action="/admin/credits" class="mt-4 grid gap-3 rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200 sm:grid-cols-3 lg:grid-cols-6">
            <label class="text-xs font-medium text-slate-600">"Status"
                <select name="status" class=input>
                    <option value="" selected=status.is_empty()>"Any"</option>
                    {domain::PurchaseStatus::ALL
                        .iter()
                        .map(|s| {
                            let value = s.as_str();
                            view! { <option value=value selected=status == value>{value.replace('_', " ")}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
            <label class="text-xs font-medium text-slate-600">"Package"
                <select name="package" class=input>
                    <option value="" selected=package.is_empty()>"Any"</option>
                    {packages
                        .into_iter()
                        .map(|(code, name)| {
                            let selected = package == code;
                            view! { <option value=code selected=selected>{name}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
            <label class="text-xs font-medium text-slate-600">"From"
                <input type="date" name="from" value=params.from.clone().unwrap_or_default() class=input />
            </label>
            <label class="text-xs font-medium text-slate-600">"To"
                <input type="date" name="to" value=params.to.clone().unwrap_or_default() class=input />
            </label>
            <label class="text-xs font-medium text-slate-600">"User (e-mail or id)"
                <input type="search" name="user" value=params.user.clone().unwrap_or_default() class=input />
            </label>
            <input type="hidden" name="sort" value=params.sort.clone().unwrap_or_default() />
            <input type="hidden" name="order" value=params.order.clone().unwrap_or_default() />
            <div class="flex items-end gap-2">
                <button id="apply-filters" type="submit" class="rounded-lg bg-indigo-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-indigo-500">
                    "Filter"
                </button>
                <a href="/admin/credits" class="px-2 py-1.5 text-sm text-slate-600 hover:underline">"Reset"</a>
            </div>
        </form>
    }
}

#[component]
fn Row(row: AdminRow) -> impl IntoView {
    let detail = format!("/admin/credits/purchases/{}", row.id);
    view! {
        <tr data-purchase=row.id.clone()>
            <td data-label="User" class="px-3 py-2">
                <div class="font-medium">{row.user_email.clone().unwrap_or_else(|| row.user_id.clone())}</div>
                <div class="text-xs text-slate-500">{row.user_name.clone().unwrap_or_default()}</div>
            </td>
            <td data-label="Package" class="px-3 py-2">
                <a data-role="open" href=detail class="font-medium text-link hover:underline">{row.package_name.clone()}</a>
            </td>
            <td data-label="Credits" class="whitespace-nowrap px-3 py-2 text-right tabular-nums">{row.credits.to_string()}</td>
            <td data-label="Amount" class="whitespace-nowrap px-3 py-2 text-right tabular-nums">{row.amount.to_string()}</td>
            <td data-label="Status" class="px-3 py-2"><StatusChip status=row.status /></td>
            <td data-label="Created" class="whitespace-nowrap px-3 py-2 text-slate-600"><LocalTime iso=row.created_at.clone() /></td>
            <td data-label="Completed" class="whitespace-nowrap px-3 py-2 text-slate-600">{row.completed_at.clone().map(|iso| view! { <LocalTime iso /> })}</td>
            <td data-label="Stripe" class="px-3 py-2 font-mono text-xs text-slate-500">
                <div>{row.session_id.clone().unwrap_or_default()}</div>
                <div>
                    {match (row.payment_url.clone(), row.payment_id.clone()) {
                        (Some(url), Some(id)) => view! { <a href=url rel="external" target="_blank" class="text-link hover:underline">{id}</a> }.into_any(),
                        (_, id) => view! { <span>{id.unwrap_or_default()}</span> }.into_any(),
                    }}
                </div>
            </td>
        </tr>
    }
}

#[component]
fn Subscriptions(view: crate::admin::SubscriptionsView) -> impl IntoView {
    let past_due = view.past_due;
    let past_due_count = past_due.len();
    view! {
        <section id="subscriptions" aria-labelledby="subscriptions-heading" class="mt-10">
            <h2 id="subscriptions-heading" class="text-xl font-semibold tracking-tight">"Subscriptions"</h2>
            <dl class="mt-4 grid grid-cols-2 gap-4 md:grid-cols-4">
                <div data-figure="mrr" class="rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200">
                    <dt class="text-xs font-medium uppercase tracking-wide text-slate-500">"MRR"</dt>
                    <dd class="mt-1 text-2xl font-bold tabular-nums" data-role="current">{view.mrr}</dd>
                    <dd class="text-xs text-slate-500">"yearly plans as a twelfth"</dd>
                </div>
                <div data-figure="new-subscriptions" class="rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200">
                    <dt class="text-xs font-medium uppercase tracking-wide text-slate-500">"New"</dt>
                    <dd class="mt-1 text-2xl font-bold tabular-nums" data-role="current">{view.new_current}</dd>
                    <dd class="text-xs text-slate-500" data-role="previous">{format!("previous: {}", view.new_previous)}</dd>
                </div>
                <div data-figure="churned-subscriptions" class="rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200">
                    <dt class="text-xs font-medium uppercase tracking-wide text-slate-500">"Churned"</dt>
                    <dd class="mt-1 text-2xl font-bold tabular-nums" data-role="current">{view.churned_current}</dd>
                    <dd class="text-xs text-slate-500" data-role="previous">{format!("previous: {}", view.churned_previous)}</dd>
                </div>
                <div class="rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200">
                    <dt class="text-xs font-medium uppercase tracking-wide text-slate-500">"Active by tier"</dt>
                    <dd>
                        <ul id="active-by-tier" class="mt-1 space-y-0.5 text-sm">
                            {view
                                .by_tier
                                .into_iter()
                                .map(|t| view! {
                                    <li data-tier=t.tier class="flex justify-between">
                                        <span>{t.name}</span>
                                        <span class="tabular-nums font-semibold" data-role="live">{t.live}</span>
                                    </li>
                                })
                                .collect_view()}
                        </ul>
                    </dd>
                </div>
            </dl>
            <div id="past-due-list" data-count=past_due_count.to_string() class="mt-4 rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200">
                <h3 class="text-sm font-semibold">{format!("Past due ({past_due_count})")}</h3>
                {if past_due.is_empty() {
                    view! { <p class="mt-1 text-sm text-slate-600">"Every subscriber is paid up."</p> }.into_any()
                } else {
                    view! {
                        <ul class="mt-2 divide-y divide-slate-100 text-sm">
                            {past_due
                                .into_iter()
                                .map(|p| view! {
                                    <li class="flex flex-wrap justify-between gap-2 py-1.5" data-subscription=p.subscription_id>
                                        <span class="font-medium">{p.email}</span>
                                        <span>{p.tier}</span>
                                        <span class="tabular-nums">{p.amount}</span>
                                        <span class="text-slate-600">{format!("since {}", p.since)}</span>
                                    </li>
                                })
                                .collect_view()}
                        </ul>
                    }
                        .into_any()
                }}
            </div>
        </section>
    }
}
