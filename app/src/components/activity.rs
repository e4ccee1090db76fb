//! The wallet's activity: grants, spends (with service and model), holds,
//! expiries and refunds, newest first, a page at a time.

use leptos::prelude::*;

use domain::Credits;

use crate::{
    components::{
        bar_chart::{BarChart, Unit},
        local_time::LocalTime,
    },
    wallet::{ActivityPage, ActivityView, USAGE_DAYS},
};

/// `page_href`: this list's own address without a cursor (`&cursor=` is
/// appended); `export_href`: its CSV.
#[component]
pub fn Activity(
    page: ActivityPage,
    first: bool,
    #[prop(into)] page_href: String,
    #[prop(into)] export_href: String,
) -> impl IntoView {
    let ActivityPage {
        items,
        next_cursor,
        daily_use,
    } = page;
    let used = daily_use.iter().map(|b| b.value).sum::<i64>();
    let usage = first.then(|| {
        view! {
            <section aria-labelledby="usage-heading" class="mt-4 rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200">
                <h3 id="usage-heading" class="text-sm font-semibold">
                    {format!("Credits used in the last {USAGE_DAYS} days")}
                </h3>
                {if used == 0 {
                    view! {
                        <p id="usage-empty" class="mt-2 text-sm text-slate-600">
                            "Nothing spent yet in this period. When Ops-Center services use your credits, each day's total shows here."
                        </p>
                    }
                        .into_any()
                } else {
                    view! {
                        <BarChart
                            bars=daily_use
                            caption=format!("{} credits used, per day (UTC)", Credits::signed(used))
                            unit=Unit::Credits
                            id="usage-chart"
                        />
                    }
                        .into_any()
                }}
            </section>
        }
    });
    view! {
        <section aria-labelledby="activity-heading" class="mt-6">
            <div class="flex flex-wrap items-center justify-between gap-3">
                <h2 id="activity-heading" class="text-xl font-semibold tracking-tight">
                    "Activity"
                </h2>
                <a
                    id="activity-export"
                    href=export_href
                    download
                    class="rounded-lg px-3 py-1.5 text-sm font-medium text-indigo-700 ring-1 ring-indigo-200 hover:bg-indigo-50"
                >
                    "Export CSV"
                </a>
            </div>
            {usage}
            {if items.is_empty() && first {
                view! {
                    <p class="mt-4 rounded-xl border border-dashed border-slate-300 p-6 text-center text-slate-600">
                        "No activity yet. Credits you receive and spend show up here."
                    </p>
                }
                    .into_any()
            } else {
                view! {
                    <ul id="activity" class="mt-4 divide-y divide-slate-100 rounded-xl bg-surface shadow-sm ring-1 ring-slate-200">
                        {items.into_iter().map(|item| view! { <Row item /> }).collect_view()}
                    </ul>
                    <nav aria-label="Activity pages" class="mt-4 flex items-center justify-between text-sm">
                        {(!first)
                            .then(|| {
                                view! {
                                    <a href=page_href.clone() class="font-medium text-link hover:underline">
                                        "← Newest"
                                    </a>
                                }
                            })}
                        <span></span>
                        {next_cursor
                            .map(|cursor| {
                                view! {
                                    <a
                                        data-role="older-activity"
                                        href=format!("{page_href}&cursor={cursor}")
                                        class="font-medium text-link hover:underline"
                                    >
                                        "Older →"
                                    </a>
                                }
                            })}
                    </nav>
                }
                    .into_any()
            }}
        </section>
    }
}

#[component]
fn Row(item: ActivityView) -> impl IntoView {
    let positive = item.amount.get() > 0;
    let amount = if positive {
        format!("+{}", item.amount)
    } else {
        item.amount.to_string()
    };
    let amount_class = if item.kind == "hold" {
        "text-slate-500"
    } else if positive {
        "text-emerald-700"
    } else {
        "text-slate-900"
    };
    let detail = [item.service.clone(), item.model.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <li data-activity=item.id.clone() data-kind=item.kind.clone() class="flex flex-wrap items-start justify-between gap-x-4 gap-y-1 px-4 py-3 text-sm">
            <div class="min-w-0">
                <p class="font-medium text-slate-900">{item.label.clone()}</p>
                <p class="break-words text-slate-600">
                    {item.description.clone()}
                    {(!detail.is_empty()).then(|| view! { <span class="text-slate-500">{format!(" ({detail})")}</span> })}
                </p>
                <p class="text-xs text-slate-500"><LocalTime iso=item.at.clone() /></p>
            </div>
            <div class="text-right">
                <p class=format!("font-semibold tabular-nums {amount_class}")>{amount}</p>
                {item.balance_after.map(|b| view! { <p class="text-xs text-slate-500 tabular-nums">{format!("Balance {b}")}</p> })}
            </div>
        </li>
    }
}
