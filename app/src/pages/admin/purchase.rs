use crate::components::skeleton::PageSkeleton;
#[allow(unused_imports)]
use crate::error::{ApiError, ErrorCode};
use domain::ids::PurchaseId;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{AdminNav, refusal};
use crate::{
    admin::{AdjustCredits, PurchaseDetailView, RefundPurchase, ReviewPurchase, admin_purchase},
    components::{
        local_time::{LocalTime, Shown, in_utc},
        status_chip::StatusChip,
    },
    credits::error_message,
};

/// `/admin/credits/purchases/:id`: one purchase, its audit trail and ledger
/// entries, an admin refund and a manual credit adjustment for its buyer.
#[component]
pub fn AdminPurchasePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let refund = ServerAction::<RefundPurchase>::new();
    let adjust = ServerAction::<AdjustCredits>::new();
    let review = ServerAction::<ReviewPurchase>::new();
    let detail = Resource::new(
        move || {
            (
                id(),
                refund.version().get(),
                adjust.version().get(),
                review.version().get(),
            )
        },
        |(id, _, _, _)| async move {
            // Not an id at all: there is no such purchase, without asking.
            match id.parse::<PurchaseId>() {
                Ok(id) => admin_purchase(id).await,
                Err(_) => Err(ApiError::new(
                    ErrorCode::UnknownPurchase,
                    "There is no such purchase.",
                )),
            }
        },
    );
    view! {
        <AdminNav active="dashboard" />
        <a href="/admin/credits" class="text-sm font-medium text-link hover:underline">"← All purchases"</a>
        <Suspense fallback=|| view! { <PageSkeleton /> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(view) => view! { <Detail view refund adjust review /> }.into_any(),
                    Err(error) => refusal(&error, &format!("/admin/credits/purchases/{}", id())),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Detail(
    view: PurchaseDetailView,
    refund: ServerAction<RefundPurchase>,
    adjust: ServerAction<AdjustCredits>,
    review: ServerAction<ReviewPurchase>,
) -> impl IntoView {
    let PurchaseDetailView {
        row,
        discount_percentage,
        stripe_customer_id,
        refundable,
        user_balance,
        user_plan,
        user_sync,
        audit,
        ledger,
        adjustment_request_id,
        refund_request_id,
    } = view;
    let field = |label: &'static str, value: String| {
        view! {
            <div>
                <dt class="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</dt>
                <dd class="mt-0.5 break-all">{value}</dd>
            </div>
        }
    };
    let in_review = row.status == domain::PurchaseStatus::NeedsReview;
    let can_refund = !in_review && refundable.get() > 0 && row.payment_id.is_some();
    let input = "mt-1 block w-full rounded-lg border border-slate-300 px-2 py-1.5 text-sm";
    view! {
        <div class="mt-4 flex flex-wrap items-center gap-3">
            <h1 class="text-2xl font-bold tracking-tight">{format!("{} for {}", row.package_name, row.user_email.clone().unwrap_or_else(|| row.user_id.clone()))}</h1>
            <span id="purchase-status"><StatusChip status=row.status /></span>
        </div>
        <dl id="purchase-detail" class="mt-4 grid gap-4 rounded-xl bg-surface p-4 text-sm shadow-sm ring-1 ring-slate-200 sm:grid-cols-2 lg:grid-cols-4">
            {field("Purchase", row.id.clone())}
            {field("User", format!("{} {}", row.user_name.clone().unwrap_or_default(), row.user_email.clone().unwrap_or_default()))}
            {field("Credits", row.credits.to_string())}
            {field("Amount", format!("{} ({}% discount)", row.amount, discount_percentage))}
            {field("Refunded", row.refunded.to_string())}
            {field("Created", in_utc(&row.created_at, Shown::DateTime))}
            {field("Completed", row.completed_at.as_deref().map(|at| in_utc(at, Shown::DateTime)).unwrap_or_else(|| "–".into()))}
            {field("User's balance", format!("{user_balance} credits"))}
            {field("User's plan", user_plan)}
            {user_sync.iter().map(|sync| view! {
                <div data-sync=sync.system.clone()>
                    <dt class="text-xs font-medium uppercase tracking-wide text-slate-500">{format!("{} sync", sync.system)}</dt>
                    <dd class="mt-0.5 break-words">
                        <a href="/admin/credits/sync" class="hover:underline">{crate::admin::sync_summary(sync)}</a>
                    </dd>
                </div>
            }).collect_view()}
            {field("Checkout session", row.session_id.clone().unwrap_or_else(|| "–".into()))}
            {field("Payment", row.payment_id.clone().unwrap_or_else(|| "–".into()))}
            {field("Stripe customer", stripe_customer_id.unwrap_or_else(|| "–".into()))}
            {row.payment_url.clone().map(|url| view! {
                <div><a href=url rel="external" target="_blank" class="font-medium text-link hover:underline">"Open in Stripe"</a></div>
            })}
        </dl>

        {row.review_reason.clone().map(|reason| view! {
            <p id="review-reason" class="mt-4 rounded-lg bg-orange-50 p-3 text-sm text-orange-900">
                {format!("{}{reason}", if in_review { "Held for review: " } else { "Was held for review: " })}
            </p>
        })}
        {in_review.then(|| {
            let (grant_id, refund_id) = (row.id.clone(), row.id.clone());
            let credits = row.credits;
            view! {
                <section id="review" class="mt-6 rounded-xl bg-surface p-4 shadow-sm ring-1 ring-orange-200">
                    <h2 class="font-semibold">"Needs review"</h2>
                    <p class="mt-1 text-sm text-slate-600">
                        "The buyer paid, but no credits were granted. Grant the purchase's credits, or refund the whole payment through Stripe."
                    </p>
                    <div class="mt-3 flex flex-wrap gap-3">
                        <ActionForm action=review attr:id="review-grant-form">
                            <input type="hidden" name="id" value=grant_id.clone() />
                            <input type="hidden" name="action" value="grant" />
                            <button id="review-grant" type="submit" disabled=move || review.pending().get() aria-busy=move || review.pending().get().to_string() class="disabled:opacity-60 rounded-lg bg-emerald-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-emerald-500">
                                {format!("Grant {credits} credits")}
                            </button>
                        </ActionForm>
                        <ActionForm action=review attr:id="review-refund-form">
                            <input type="hidden" name="id" value=refund_id.clone() />
                            <input type="hidden" name="action" value="refund" />
                            <button id="review-refund" type="submit" disabled=move || review.pending().get() aria-busy=move || review.pending().get().to_string() class="disabled:opacity-60 rounded-lg bg-red-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-red-500">
                                "Refund the payment"
                            </button>
                        </ActionForm>
                    </div>
                </section>
            }
        })}
        <Outcome value=Signal::derive(move || review.value().get()) id="review-result" />

        <div class="mt-6 grid gap-6 lg:grid-cols-2">
            <section class="rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200">
                <h2 class="font-semibold">"Refund"</h2>
                {if can_refund {
                    view! {
                        <ActionForm action=refund attr:id="refund-form" attr:class="mt-3 flex flex-wrap items-end gap-3">
                            <input type="hidden" name="id" value=row.id.clone() />
                            // One id per rendered form: submitting it twice refunds once.
                            <input type="hidden" name="request_id" value=refund_request_id />
                            <label class="text-xs font-medium text-slate-600">
                                {format!("Amount in dollars (blank: all {refundable} left)")}
                                <input name="amount" inputmode="decimal" placeholder=refundable.to_string() class=input />
                            </label>
                            <button type="submit" disabled=move || refund.pending().get() aria-busy=move || refund.pending().get().to_string() class="rounded-lg bg-red-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-red-500 disabled:opacity-60">
                                "Refund through Stripe"
                            </button>
                        </ActionForm>
                    }.into_any()
                } else {
                    view! { <p class="mt-2 text-sm text-slate-600">{if in_review {
                        "Held for review: use Refund above to return the whole payment."
                    } else {
                        "Nothing to refund: the purchase is not paid or is fully refunded."
                    }}</p> }.into_any()
                }}
                <Outcome value=Signal::derive(move || refund.value().get()) id="refund-result" />
            </section>
            <section class="rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200">
                <h2 class="font-semibold">"Adjust this user's credits"</h2>
                <ActionForm action=adjust attr:id="adjust-form" attr:class="mt-3 grid gap-3 sm:grid-cols-3">
                    <input type="hidden" name="user_id" value=row.user_id.clone() />
                    <input type="hidden" name="request_id" value=adjustment_request_id />
                    <label class="text-xs font-medium text-slate-600">"Credits (+/−)"
                        <input name="amount" inputmode="numeric" placeholder="500 or -200" required class=input />
                    </label>
                    <label class="text-xs font-medium text-slate-600 sm:col-span-2">"Reason (required)"
                        <input name="reason" required class=input />
                    </label>
                    <div>
                        <button type="submit" disabled=move || adjust.pending().get() aria-busy=move || adjust.pending().get().to_string() class="rounded-lg bg-ink px-3 py-1.5 text-sm font-semibold text-white hover:bg-ink-hover disabled:opacity-60">
                            "Adjust"
                        </button>
                    </div>
                </ActionForm>
                <Outcome value=Signal::derive(move || adjust.value().get()) id="adjust-result" />
            </section>
        </div>

        <section class="mt-6">
            <h2 class="font-semibold">"Ledger entries"</h2>
            <div class="mt-2 rounded-xl bg-surface shadow-sm ring-1 ring-slate-200 sm:overflow-x-auto" tabindex="0" role="region" aria-label="Ledger entries">
                <table id="ledger" class="cards min-w-full divide-y divide-slate-200 text-sm">
                    <thead class="bg-slate-50 text-left text-xs font-semibold uppercase text-slate-500">
                        <tr>
                            <th class="px-3 py-2">"When"</th>
                            <th class="px-3 py-2 text-right">"Credits"</th>
                            <th class="px-3 py-2">"Reference"</th>
                            <th class="px-3 py-2">"Description"</th>
                            <th class="px-3 py-2 text-right">"Balance after"</th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100">
                        {ledger.into_iter().map(|entry| view! {
                            <tr>
                                <td data-label="When" class="whitespace-nowrap px-3 py-2"><LocalTime iso=entry.at /></td>
                                <td data-label="Credits" class="px-3 py-2 text-right tabular-nums">{entry.amount.to_string()}</td>
                                <td data-label="Reference" class="px-3 py-2 font-mono text-xs">{entry.reference}</td>
                                <td data-label="Description" class="px-3 py-2">{entry.description}</td>
                                <td data-label="Balance after" class="px-3 py-2 text-right tabular-nums">{entry.balance_after.to_string()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>

        <section class="mt-6">
            <h2 class="font-semibold">"Audit trail"</h2>
            <ol id="audit" class="mt-2 space-y-2 text-sm">
                {audit.into_iter().map(|entry| view! {
                    <li class="rounded-lg bg-surface p-3 shadow-sm ring-1 ring-slate-200">
                        <div class="flex flex-wrap justify-between gap-2">
                            <span class="font-medium">{entry.action}</span>
                            <span class="text-slate-500"><LocalTime iso=entry.at />{format!(" · {}", entry.actor)}</span>
                        </div>
                        <pre class="mt-1 overflow-x-auto whitespace-pre-wrap break-all text-xs text-slate-500">{entry.details}</pre>
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
}

/// The last result of an admin action: a confirmation or the error inline.
#[component]
fn Outcome(value: Signal<Option<Result<String, ApiError>>>, id: &'static str) -> impl IntoView {
    move || {
        value.get().map(|result| match result {
            Ok(message) => view! { <p id=id data-ok="true" class="mt-3 text-sm text-emerald-700" role="status">{message}</p> }.into_any(),
            Err(error) => view! { <p id=id data-ok="false" class="mt-3 text-sm text-red-700" role="alert">{error_message(&error)}</p> }.into_any(),
        })
    }
}
