use leptos::prelude::*;

use crate::{
    components::status_chip::StatusChip,
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
                    <div class="mt-4 overflow-x-auto rounded-xl bg-white shadow-sm ring-1 ring-slate-200">
                        <table id="history" class="min-w-full divide-y divide-slate-200 text-sm">
                            <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                                <tr>
                                    <th scope="col" class="px-4 py-3">"Date"</th>
                                    <th scope="col" class="px-4 py-3">"Package"</th>
                                    <th scope="col" class="px-4 py-3 text-right">"Credits"</th>
                                    <th scope="col" class="hidden px-4 py-3 text-right sm:table-cell">
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
                                        class="font-medium text-indigo-600 hover:underline"
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
                                        class="font-medium text-indigo-600 hover:underline"
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
            <td class="whitespace-nowrap px-4 py-3 text-slate-600">{purchase.created_at.clone()}</td>
            <td class="px-4 py-3 font-medium">{purchase.package_name.clone()}</td>
            <td class="whitespace-nowrap px-4 py-3 text-right tabular-nums">
                {purchase.credits.to_string()}
            </td>
            <td class="hidden whitespace-nowrap px-4 py-3 text-right tabular-nums sm:table-cell">
                {purchase.amount_paid.to_string()}
            </td>
            <td class="px-4 py-3">
                <StatusChip status=purchase.status />
            </td>
        </tr>
    }
}
