//! `/billing` (the plan, card, actions and invoices) and `/billing/plans`
//! (the plan picker). Anonymous visitors are sent to log in.

use crate::components::skeleton::PageSkeleton;
#[allow(unused_imports)]
use crate::error::{ApiError, ErrorCode};
use domain::BillingCycle;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::{
    billing::{
        BillingOverview, CancelPlan, ChangePlan, ChangePreviewView, OpenPortal, PlanStatus,
        PreviewPlanChange, ResumePlan, Subscribe, TierView, day, load_billing_page,
        load_plans_page, money,
    },
    components::{
        error_notice::ErrorNotice,
        local_time::{LocalTime, Shown},
    },
};

#[component]
pub fn BillingPage() -> impl IntoView {
    let query = use_query_map();
    let session_id = move || query.with(|q| q.get("session_id"));
    let cancel = ServerAction::<CancelPlan>::new();
    let resume = ServerAction::<ResumePlan>::new();
    let overview = Resource::new(
        move || (session_id(), cancel.version().get(), resume.version().get()),
        |(session_id, _, _)| load_billing_page(session_id),
    );
    view! {
        <Suspense fallback=|| view! { <PageSkeleton /> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(Some(overview)) => view! { <Billing overview cancel resume /> }.into_any(),
                    Ok(None) => {
                        #[cfg(feature = "ssr")]
                        crate::auth::ssr::redirect_to_login("/billing");
                        view! { <p>"Please log in."</p> }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Billing(
    overview: BillingOverview,
    cancel: ServerAction<CancelPlan>,
    resume: ServerAction<ResumePlan>,
) -> impl IntoView {
    let plan = overview.plan.clone();
    let welcome = overview.just_subscribed.then(|| {
        let text = if plan.has_active_plan {
            format!(
                "Welcome to {}! Your plan is active and its credits are on their way to your balance.",
                plan.tier_name
            )
        } else {
            "Thank you! Stripe is confirming your subscription; this page shows it in a moment."
                .to_owned()
        };
        view! {
            <p id="subscribe-banner" role="status" class="mb-6 rounded-lg bg-emerald-50 p-4 text-emerald-800">
                {text}
            </p>
        }
    });
    let stripe_error = overview.stripe_error.clone().map(|message| {
        view! { <Problem message /> }
    });
    let action_error = move || {
        let failed = |value: Option<Result<PlanStatus, ApiError>>| value.and_then(Result::err);
        failed(cancel.value().get()).or_else(|| failed(resume.value().get()))
    };
    view! {
        {welcome}
        <div class="flex flex-wrap items-end justify-between gap-4">
            <div>
                <h1 class="text-3xl font-bold tracking-tight">"Plan & billing"</h1>
                <p class="mt-1 text-slate-600">
                    "Your subscription, the card it is paid with, and your invoices."
                </p>
            </div>
            <a href="/credits" class="text-sm font-medium text-link hover:underline">
                "← Credits"
            </a>
        </div>
        {stripe_error}
        {move || action_error().map(|error| view! { <ErrorNotice error /> })}
        {if plan.has_active_plan {
            view! { <CurrentPlan overview=overview.clone() cancel resume /> }.into_any()
        } else {
            view! { <NoPlan plan=plan.clone() /> }.into_any()
        }}
        <Invoices overview />
    }
}

/// The plan's status as a pill; `data-status` carries Stripe's value.
#[component]
fn PlanChip(status: String) -> impl IntoView {
    let (label, colours) = match status.as_str() {
        "active" => ("Active", "bg-emerald-100 text-emerald-800"),
        "trialing" => ("Trial", "bg-sky-100 text-sky-800"),
        "past_due" => ("Payment due", "bg-red-100 text-red-800"),
        "unpaid" => ("Unpaid", "bg-red-100 text-red-800"),
        "paused" => ("Paused", "bg-slate-200 text-slate-700"),
        "canceled" => ("Canceled", "bg-slate-200 text-slate-700"),
        _ => ("No active plan", "bg-slate-200 text-slate-700"),
    };
    view! {
        <span
            id="plan-status"
            data-status=status.clone()
            class=format!("inline-flex items-center rounded-full px-2.5 py-0.5 text-xs font-semibold {colours}")
        >
            {label}
        </span>
    }
}

#[component]
fn CurrentPlan(
    overview: BillingOverview,
    cancel: ServerAction<CancelPlan>,
    resume: ServerAction<ResumePlan>,
) -> impl IntoView {
    let plan = overview.plan;
    let cycle = plan.billing_cycle.map_or("", |c| match c {
        BillingCycle::Monthly => "Monthly",
        BillingCycle::Yearly => "Yearly",
    });
    let per = plan.billing_cycle.map_or("", |c| match c {
        BillingCycle::Monthly => " / month",
        BillingCycle::Yearly => " / year",
    });
    let amount = plan
        .amount_cents
        .map(|cents| format!("{}{per}", money(cents)))
        .unwrap_or_default();
    let period_end = plan.current_period_end.clone().unwrap_or_default();
    let renewal = if plan.cancel_at_period_end {
        view! {
            <p id="plan-ends" class="text-sm text-amber-800">
                "Ends on "
                <LocalTime iso=period_end shown=Shown::Date />
                ". You keep the plan until then."
            </p>
        }
        .into_any()
    } else {
        view! {
            <p id="plan-renews" class="text-sm text-slate-600">
                "Renews on "
                <LocalTime iso=period_end shown=Shown::Date />
                "."
            </p>
        }
        .into_any()
    };
    let card = match overview.card {
        Some(card) => format!(
            "{} •••• {}, expires {:02}/{}",
            capitalise(&card.brand),
            card.last4,
            card.exp_month,
            card.exp_year % 100
        ),
        None => "No card on file".to_owned(),
    };
    let subscription_id = plan.subscription_id.clone().unwrap_or_default();
    let busy = move || cancel.pending().get() || resume.pending().get();
    let cancel_id = subscription_id.clone();
    let cancel_details = NodeRef::<leptos::html::Details>::new();
    let resume_id = subscription_id;
    let end_text = plan.current_period_end.clone().unwrap_or_default();
    view! {
        <section
            id="current-plan"
            aria-labelledby="plan-heading"
            class="mt-8 grid gap-6 rounded-2xl bg-surface p-6 shadow-sm ring-1 ring-slate-200 md:grid-cols-3"
        >
            <div class="md:col-span-2">
                <div class="flex items-center gap-3">
                    <h2 id="plan-heading" class="text-2xl font-semibold">
                        <span id="plan-tier">{plan.tier_name.clone()}</span>
                    </h2>
                    <PlanChip status=plan.status.clone() />
                </div>
                <p class="mt-2 text-slate-700">
                    <span id="plan-cycle">{cycle}</span>
                    " · "
                    <span id="plan-amount">{amount}</span>
                </p>
                {renewal}
                <p id="plan-allowance" class="mt-2 text-sm text-slate-600">
                    {format!(
                        "{} credits each month with this plan.",
                        domain::Credits::signed(plan.monthly_allowance),
                    )}
                </p>
                <p class="mt-2 text-sm text-slate-600">
                    "Balance: "
                    <span id="plan-balance" class="font-semibold">
                        {format!("{} credits", overview.balance)}
                    </span>
                </p>
                {(plan.status == "past_due")
                    .then(|| {
                        view! {
                            <p id="past-due" role="alert" class="mt-3 rounded-lg bg-red-50 p-3 text-sm text-red-800">
                                "Your last payment failed. Update your card in Manage billing to keep your plan."
                            </p>
                        }
                    })}
            </div>
            <div class="space-y-3">
                <p class="text-sm text-slate-500">"Card on file"</p>
                <p id="card-on-file" class="font-medium">{card}</p>
                <PortalButton />
                <a
                    id="change-plan"
                    href="/billing/plans"
                    class="block rounded-lg border border-slate-300 px-4 py-2 text-center text-sm font-semibold text-slate-700 hover:bg-slate-50"
                >
                    "Change plan"
                </a>
                // Forms, and a <details> for the confirm step: they work before
                // the page is hydrated and without JavaScript.
                {if plan.cancel_at_period_end {
                    view! {
                        <ActionForm action=resume>
                            <input type="hidden" name="subscription_id" value=resume_id.clone() />
                            <button
                                id="resume-plan"
                                type="submit"
                                disabled=busy
                                aria-busy=move || busy().to_string()
                                class="w-full rounded-lg bg-indigo-600 px-4 py-2 text-sm font-semibold text-white hover:bg-indigo-500 disabled:opacity-60"
                            >
                                "Resume plan"
                            </button>
                        </ActionForm>
                    }
                        .into_any()
                } else {
                    view! {
                        <details id="cancel-details" node_ref=cancel_details>
                            <summary
                                id="cancel-plan"
                                class="block w-full cursor-pointer list-none rounded-lg px-4 py-2 text-center text-sm font-semibold text-red-700 ring-1 ring-red-200 hover:bg-red-50 [&::-webkit-details-marker]:hidden"
                            >
                                "Cancel plan"
                            </summary>
                            <div id="cancel-confirm" role="alertdialog" aria-labelledby="cancel-confirm-text" class="mt-3 rounded-lg bg-amber-50 p-3 text-sm text-amber-900">
                                <p id="cancel-confirm-text">
                                    "Your plan stays active until "
                                    <LocalTime iso=end_text.clone() shown=Shown::Date />
                                    ". After that you move to the free trial tier and no more monthly credits are granted. Credits you have stay yours."
                                </p>
                                <div class="mt-3 flex flex-wrap gap-2">
                                    <ActionForm action=cancel>
                                        <input type="hidden" name="subscription_id" value=cancel_id.clone() />
                                        <button
                                            id="cancel-confirm-yes"
                                            type="submit"
                                            disabled=busy
                                            aria-busy=move || busy().to_string()
                                            class="rounded-lg bg-red-600 px-3 py-1.5 font-semibold text-white hover:bg-red-500 disabled:opacity-60"
                                        >
                                            "Cancel at period end"
                                        </button>
                                    </ActionForm>
                                    <a
                                        id="cancel-confirm-no"
                                        href="/billing"
                                        class="rounded-lg px-3 py-1.5 font-semibold text-slate-700 ring-1 ring-slate-300"
                                        on:click=move |ev| {
                                            ev.prevent_default();
                                            if let Some(details) = cancel_details.get_untracked() {
                                                details.set_open(false);
                                            }
                                        }
                                    >
                                        "Keep my plan"
                                    </a>
                                </div>
                            </div>
                        </details>
                    }
                        .into_any()
                }}
            </div>
        </section>
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Opens Stripe's customer portal.
#[component]
fn PortalButton() -> impl IntoView {
    let portal = ServerAction::<OpenPortal>::new();
    let value = portal.value();
    Effect::new(move |_| {
        if let Some(Ok(url)) = value.get() {
            let _ = window().location().set_href(&url);
        }
    });
    let leaving = move || portal.pending().get() || matches!(value.get(), Some(Ok(_)));
    view! {
        <ActionForm action=portal>
            <button
                id="manage-billing"
                type="submit"
                disabled=leaving
                aria-busy=move || leaving().to_string()
                class="w-full rounded-lg bg-ink px-4 py-2 text-sm font-semibold text-white hover:bg-ink-hover disabled:opacity-60"
            >
                {move || if leaving() { "Opening Stripe…" } else { "Manage billing" }}
            </button>
        </ActionForm>
        {move || match value.get() {
            Some(Err(error)) => Some(view! { <ErrorNotice error inline=true /> }),
            _ => None,
        }}
    }
}

#[component]
fn NoPlan(plan: PlanStatus) -> impl IntoView {
    let ended = plan.status == "canceled";
    view! {
        <section id="no-plan" class="mt-8 rounded-2xl bg-surface p-6 shadow-sm ring-1 ring-slate-200">
            <div class="flex items-center gap-3">
                <h2 class="text-2xl font-semibold">"No active plan"</h2>
                <PlanChip status=plan.status.clone() />
            </div>
            <p class="mt-2 max-w-2xl text-slate-600">
                {if ended {
                    "Your subscription has ended. Subscribe again to get monthly credits and the features of your tier."
                } else {
                    "Subscribe to a plan for a monthly credit allowance and more of Ops-Center. Change or cancel at any time."
                }}
            </p>
            <a
                id="choose-plan"
                href="/billing/plans"
                class="mt-4 inline-block rounded-lg bg-indigo-600 px-4 py-2 text-sm font-semibold text-white hover:bg-indigo-500"
            >
                "See plans"
            </a>
        </section>
    }
}

#[component]
fn Invoices(overview: BillingOverview) -> impl IntoView {
    let rows = overview.invoices;
    view! {
        <section aria-labelledby="invoices-heading" class="mt-10">
            <h2 id="invoices-heading" class="text-xl font-semibold tracking-tight">"Invoices"</h2>
            {if rows.is_empty() {
                view! { <p id="no-invoices" class="mt-2 text-sm text-slate-600">"No invoices yet."</p> }.into_any()
            } else {
                view! {
                    <ul id="invoices" class="mt-4 divide-y divide-slate-200 rounded-2xl bg-surface shadow-sm ring-1 ring-slate-200">
                        {rows
                            .into_iter()
                            .map(|invoice| {
                                let link = invoice.hosted_invoice_url.clone().map(|url| {
                                    view! {
                                        <a data-role="invoice-link" href=url rel="external" class="text-link hover:underline">
                                            "View"
                                        </a>
                                    }
                                });
                                view! {
                                    <li class="invoice flex flex-wrap items-center justify-between gap-2 px-4 py-3 text-sm" data-invoice=invoice.id.clone()>
                                        <span class="font-medium">{invoice.number.clone().unwrap_or_else(|| invoice.id.clone())}</span>
                                        <span class="text-slate-600"><LocalTime iso=invoice.created_at.clone() shown=Shown::Date /></span>
                                        <span data-role="amount">{money(invoice.total_cents)}</span>
                                        <span data-role="status" class="text-slate-600">{invoice.status.clone()}</span>
                                        {link}
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }}
        </section>
    }
}

#[component]
pub fn PlansPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| load_plans_page());
    let query = use_query_map();
    let cancelled = move || query.with(|q| q.get("checkout").as_deref() == Some("cancelled"));
    view! {
        <Suspense fallback=|| view! { <PageSkeleton /> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(Some(overview)) => {
                        view! {
                            {cancelled()
                                .then(|| {
                                    view! {
                                        <p id="checkout-cancelled" role="status" class="mb-6 rounded-lg bg-slate-100 p-4 text-slate-700">
                                            "Checkout was cancelled. Nothing was charged."
                                        </p>
                                    }
                                })}
                            <PlanPicker tiers=overview.tiers plan=overview.plan />
                        }
                            .into_any()
                    }
                    Ok(None) => {
                        #[cfg(feature = "ssr")]
                        crate::auth::ssr::redirect_to_login("/billing/plans");
                        view! { <p>"Please log in."</p> }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

const CHOOSE: &str = "w-full rounded-lg bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 disabled:cursor-not-allowed disabled:opacity-50";

/// The tiers side by side with a monthly/yearly toggle; choosing one goes
/// to Checkout (no plan yet) or to a confirm step with Stripe's prorated
/// amount (a plan change).
#[component]
fn PlanPicker(tiers: Vec<TierView>, plan: PlanStatus) -> impl IntoView {
    let initial = plan.billing_cycle.unwrap_or(BillingCycle::Monthly);
    let (cycle, set_cycle) = signal(initial);
    let subscribe = ServerAction::<Subscribe>::new();
    let preview = ServerAction::<PreviewPlanChange>::new();
    let change = ServerAction::<ChangePlan>::new();
    Effect::new(move |_| {
        if let Some(Ok(url)) = subscribe.value().get() {
            let _ = window().location().set_href(&url);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = change.value().get() {
            let _ = window().location().set_href("/billing?changed=1");
        }
    });
    let busy = move || {
        subscribe.pending().get()
            || preview.pending().get()
            || change.pending().get()
            || matches!(subscribe.value().get(), Some(Ok(_)))
            || matches!(change.value().get(), Some(Ok(_)))
    };
    // Whichever step failed, with what to do (an expired session: log in again).
    let error = move || {
        subscribe
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| preview.value().get().and_then(Result::err))
            .or_else(|| change.value().get().and_then(Result::err))
    };
    let has_plan = plan.has_active_plan;
    let current_tier = plan.tier.clone();
    let current_cycle = plan.billing_cycle;
    let toggle_class = move |mine: BillingCycle| {
        if cycle.get() == mine {
            "rounded-md bg-surface px-3 py-1.5 text-sm font-semibold text-slate-900 shadow-sm"
        } else {
            "rounded-md px-3 py-1.5 text-sm font-semibold text-slate-600"
        }
    };
    view! {
        <div class="flex flex-wrap items-end justify-between gap-4">
            <div>
                <h1 class="text-3xl font-bold tracking-tight">"Plans"</h1>
                <p class="mt-1 text-slate-600">
                    "Every plan grants credits each month. Yearly plans cost less."
                </p>
            </div>
            <div role="group" aria-label="Billing cycle" class="inline-flex rounded-lg bg-slate-100 p-1">
                <button
                    id="cycle-monthly"
                    type="button"
                    aria-pressed=move || (cycle.get() == BillingCycle::Monthly).to_string()
                    class=move || toggle_class(BillingCycle::Monthly)
                    on:click=move |_| set_cycle.set(BillingCycle::Monthly)
                >
                    "Monthly"
                </button>
                <button
                    id="cycle-yearly"
                    type="button"
                    aria-pressed=move || (cycle.get() == BillingCycle::Yearly).to_string()
                    class=move || toggle_class(BillingCycle::Yearly)
                    on:click=move |_| set_cycle.set(BillingCycle::Yearly)
                >
                    "Yearly"
                </button>
            </div>
        </div>
        {move || error().map(|error| view! { <ErrorNotice error /> })}
        <ChangeConfirm preview change busy />
        <div id="plans" class="mt-8 grid gap-6 sm:grid-cols-2 lg:grid-cols-4">
            {tiers
                .into_iter()
                .map(|tier| {
                    let code = tier.tier.clone();
                    let current_tier = current_tier.clone();
                    let is_current = move |c: BillingCycle| {
                        has_plan && current_tier == code && current_cycle == Some(c)
                    };
                    let tier_for_click = tier.tier.clone();
                    let yearly = tier.price_yearly_cents;
                    let monthly = tier.price_monthly_cents;
                    let saving = tier.yearly_saving_cents;
                    let is_current_now = {
                        let is_current = is_current.clone();
                        move || is_current(cycle.get())
                    };
                    let is_current_label = is_current_now.clone();
                    view! {
                        <article
                            data-tier=tier.tier.clone()
                            class="flex flex-col rounded-2xl bg-surface p-6 shadow-sm ring-1 ring-slate-200"
                        >
                            <div class="flex h-6 items-center gap-2">
                                {move || is_current_label().then(|| view! {
                                    <span data-role="current" class="rounded-full bg-indigo-600 px-2.5 py-0.5 text-xs font-semibold text-white">
                                        "Current plan"
                                    </span>
                                })}
                            </div>
                            <h2 class="mt-2 text-lg font-semibold">{tier.name.clone()}</h2>
                            <p class="mt-1 text-sm text-slate-500">{tier.description.clone()}</p>
                            <p class="mt-6 text-4xl font-bold tracking-tight" data-role="price">
                                {move || match (cycle.get(), yearly) {
                                    (BillingCycle::Yearly, Some(y)) => format!("{} / year", money(y)),
                                    (BillingCycle::Yearly, None) => "Monthly only".to_owned(),
                                    (BillingCycle::Monthly, _) => format!("{} / month", money(monthly)),
                                }}
                            </p>
                            <p class="mt-1 h-5 text-sm font-medium text-emerald-700" data-role="saving">
                                {move || match (cycle.get(), saving) {
                                    (BillingCycle::Yearly, Some(s)) if s > 0 => format!("Save {} a year", money(s)),
                                    _ => String::new(),
                                }}
                            </p>
                            <p class="mt-2 text-sm text-slate-700" data-role="allowance">
                                {format!("{} credits / month", domain::Credits::signed(tier.monthly_allowance))}
                            </p>
                            <div class="mt-auto pt-6">
                                {if has_plan {
                                    view! {
                                        <button
                                            type="button"
                                            data-role="choose"
                                            class=CHOOSE
                                            disabled=move || busy() || is_current_now() || (cycle.get() == BillingCycle::Yearly && yearly.is_none())
                                            on:click=move |_| {
                                                preview.dispatch(PreviewPlanChange {
                                                    tier: tier_for_click.clone(),
                                                    billing_cycle: cycle.get_untracked(),
                                                });
                                            }
                                        >
                                            "Switch to this plan"
                                        </button>
                                    }
                                        .into_any()
                                } else {
                                    // A form: before hydration (or without JavaScript)
                                    // it posts (monthly) and is redirected to Checkout.
                                    view! {
                                        <ActionForm action=subscribe>
                                            <input type="hidden" name="tier" value=tier_for_click.clone() />
                                            <input
                                                type="hidden"
                                                name="billing_cycle"
                                                value=initial.as_str()
                                                prop:value=move || cycle.get().as_str()
                                            />
                                            <button
                                                type="submit"
                                                data-role="choose"
                                                class=CHOOSE
                                                disabled=move || busy() || (cycle.get() == BillingCycle::Yearly && yearly.is_none())
                                            >
                                                "Subscribe"
                                            </button>
                                        </ActionForm>
                                    }
                                        .into_any()
                                }}
                            </div>
                        </article>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// The confirm step of a plan change: what Stripe will charge now.
#[component]
fn ChangeConfirm(
    preview: ServerAction<PreviewPlanChange>,
    change: ServerAction<ChangePlan>,
    busy: impl Fn() -> bool + Send + Sync + Copy + 'static,
) -> impl IntoView {
    let (dismissed, set_dismissed) = signal(0usize);
    let shown = move || {
        let version = preview.version().get();
        match preview.value().get() {
            Some(Ok(p)) if dismissed.get() != version => Some(p),
            _ => None,
        }
    };
    view! {
        {move || {
            shown()
                .map(|p: ChangePreviewView| {
                    let upgrade = p.change == "upgrade";
                    let text = if upgrade {
                        format!(
                            "Upgrade to {} ({}). You pay {} now for the rest of this period (prorated); then {} credits a month.",
                            p.tier_name,
                            p.billing_cycle,
                            money(p.amount_due_cents),
                            domain::Credits::signed(p.monthly_allowance),
                        )
                    } else {
                        format!(
                            "Switch to {} ({}). Nothing is charged now: the unused part of your current plan is credited on your next invoice{}.",
                            p.tier_name,
                            p.billing_cycle,
                            p.next_payment_at.as_deref().map(|d| format!(" on {}", day(d))).unwrap_or_default(),
                        )
                    };
                    let request = ChangePlan {
                        tier: p.tier.clone(),
                        billing_cycle: p.billing_cycle,
                        proration_date: Some(p.proration_date),
                    };
                    view! {
                        <div id="change-confirm" role="alertdialog" aria-labelledby="change-text" class="mt-6 rounded-2xl bg-indigo-50 p-5 ring-1 ring-indigo-200">
                            <p id="change-text" class="text-slate-800">{text}</p>
                            <p class="mt-1 text-sm text-slate-600">
                                "Due now: "
                                <span id="change-amount" class="font-semibold">{money(p.amount_due_cents)}</span>
                            </p>
                            <div class="mt-4 flex gap-2">
                                <button
                                    id="change-confirm-yes"
                                    type="button"
                                    disabled=busy
                                    class="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-semibold text-white hover:bg-indigo-500 disabled:opacity-60"
                                    on:click=move |_| {
                                        change.dispatch(request.clone());
                                    }
                                >
                                    {if upgrade { "Confirm and pay" } else { "Confirm change" }}
                                </button>
                                <button
                                    id="change-cancel"
                                    type="button"
                                    class="rounded-lg px-4 py-2 text-sm font-semibold text-slate-700 ring-1 ring-slate-300"
                                    on:click=move |_| set_dismissed.set(preview.version().get_untracked())
                                >
                                    "Keep my plan"
                                </button>
                            </div>
                        </div>
                    }
                })
        }}
    }
}

#[component]
fn Problem(message: String) -> impl IntoView {
    view! {
        <p class="mt-6 rounded-lg bg-red-50 p-4 text-red-700" role="alert">
            {message}
        </p>
    }
}
