use leptos::prelude::*;

use crate::{
    components::{local_time::LocalTime, status_chip::StatusChip},
    credits::{CreditsOverview, PurchaseView},
};

/// The user's purchases, newest first, a page at a time.
#[component]
pub fn PurchaseHistory(overview: CreditsOverview) -> impl IntoView {
    let CreditsOverview {
        purchases,
        page,
        has_more,
        ..
    } = overview;
    let empty = purchases.is_empty();
    view! {
        <section aria-labelledby="history-heading" class="mt-12">
            <h2 id="history-heading" class="text-xl font-semibold tracking-tight">
                "Purchase history"
            </h2>
            {if empty && page == 1 {
                view! {
                    <p class="mt-4 rounded-xl border border-dashed border-slate-300 p-6 text-center text-slate-500">
                        "No purchases yet. Your first pack shows up here."
                    </p>
                }
                    .into_any()
            } else {
                view! {
                    <div class="mt-4 rounded-xl bg-surface shadow-sm ring-1 ring-slate-200 sm:overflow-x-auto">
                        <table id="history" class="cards min-w-full divide-y divide-slate-200 text-sm">
                            <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                                <tr>
                                    <th scope="col" class="px-4 py-3">"Date"</th>
                                    <th scope="col" class="px-4 py-3">"Package"</th>
                                    <th scope="col" class="px-4 py-3 text-right">"Credits"</th>
                                    <th scope="col" class="px-4 py-3 text-right">
                                        "Amount"
                                    </th>
                                    <th scope="col" class="px-4 py-3">"Status"</th>
                                </tr>
                            </thead>
                            <tbody class="divide-y divide-slate-100">
                                {purchases
                                    .into_iter()
                                    .map(|purchase| view! { <HistoryRow purchase /> })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                    <nav aria-label="History pages" class="mt-4 flex items-center justify-between text-sm">
                        {(page > 1)
                            .then(|| {
                                view! {
                                    <a
                                        data-role="newer"
                                        href=format!("/credits?page={}", page - 1)
                                        class="font-medium text-link hover:underline"
                                    >
                                        "← Newer"
                                    </a>
                                }
                            })}
                        <span class="text-slate-500">{format!("Page {page}")}</span>
                        {has_more
                            .then(|| {
                                view! {
                                    <a
                                        data-role="older"
                                        href=format!("/credits?page={}", page + 1)
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
fn HistoryRow(purchase: PurchaseView) -> impl IntoView {
    view! {
        <tr data-purchase=purchase.id.clone()>
            <td data-label="Date" class="whitespace-nowrap px-4 py-3 text-slate-600"><LocalTime iso=purchase.created_at.clone() /></td>
            <td data-label="Package" class="px-4 py-3 font-medium">{purchase.package_name.clone()}</td>
            <td data-label="Credits" class="whitespace-nowrap px-4 py-3 text-right tabular-nums">
                {purchase.credits.to_string()}
            </td>
            <td data-label="Amount" class="whitespace-nowrap px-4 py-3 text-right tabular-nums">
                {purchase.amount_paid.to_string()}
            </td>
            <td data-label="Status" class="px-4 py-3">
                <StatusChip status=purchase.status />
            </td>
        </tr>
    }
}
