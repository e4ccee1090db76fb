//! `/admin/credits/wallets`: look up any user's wallet (by e-mail or id),
//! see its breakdown and activity, and grant promotional credits to them or
//! to every subscriber of a tier.

use crate::components::skeleton::PageSkeleton;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{AdminNav, refusal};
use crate::{
    admin::{AdminWalletView, AdminWalletsView, GrantPromotion, admin_wallet},
    components::activity::Activity,
    credits::error_message,
};

const INPUT: &str = "mt-1 block w-full rounded-lg border-slate-300 text-sm shadow-sm focus:border-indigo-500 focus:ring-indigo-500";

#[component]
pub fn AdminWalletsPage() -> impl IntoView {
    let query = use_query_map();
    let user = move || query.with(|q| q.get("user"));
    let cursor = move || query.with(|q| q.get("cursor"));
    let promote = ServerAction::<GrantPromotion>::new();
    let page = Resource::new(
        move || (user(), cursor(), promote.version().get()),
        |(user, cursor, _)| admin_wallet(user, cursor),
    );
    view! {
        <Suspense fallback=|| view! { <PageSkeleton /> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(view) => {
                        view! { <Wallets data=view query=user().unwrap_or_default() first=cursor().is_none() promote /> }
                            .into_any()
                    }
                    Err(error) => refusal(&error, "/admin/credits/wallets"),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Wallets(
    data: AdminWalletsView,
    query: String,
    first: bool,
    promote: ServerAction<GrantPromotion>,
) -> impl IntoView {
    let AdminWalletsView {
        tiers,
        found,
        tier_request_id,
    } = data;
    let found = match found {
        None => None,
        Some(None) => Some(
            view! {
                <p id="wallet-not-found" class="mt-6 rounded-xl border border-dashed border-slate-300 p-6 text-center text-slate-600">
                    "Nobody with that e-mail or id has used Ops-Center Credits yet."
                </p>
            }
            .into_any(),
        ),
        Some(Some(wallet)) => Some(view! { <Found wallet first promote /> }.into_any()),
    };
    let outcome = move || {
        promote.value().get().map(|result| match result {
            Ok(message) => view! { <p id="promotion-result" class="mt-3 text-sm text-emerald-700" role="status">{message}</p> }.into_any(),
            Err(error) => view! { <p id="promotion-result" class="mt-3 text-sm text-red-700" role="alert">{error_message(&error)}</p> }.into_any(),
        })
    };
    view! {
        <AdminNav active="wallets" />
        <h1 class="text-3xl font-bold tracking-tight">"Wallets"</h1>
        <p class="mt-1 text-sm text-slate-600">
            "Any user's balance, where it comes from, and everything that moved it."
        </p>
        <form method="get" action="/admin/credits/wallets" role="search" class="mt-4 flex max-w-xl items-end gap-3">
            <label class="flex-1 text-xs font-medium text-slate-600">
                "E-mail or user id"
                <input id="wallet-search" name="user" type="search" value=query required class=INPUT />
            </label>
            <button type="submit" class="rounded-lg bg-ink px-4 py-2 text-sm font-semibold text-white hover:bg-ink-hover">
                "Look up"
            </button>
        </form>
        {found}
        <section aria-labelledby="tier-promotion-heading" class="mt-10 max-w-xl rounded-2xl bg-surface p-6 shadow-sm ring-1 ring-slate-200">
            <h2 id="tier-promotion-heading" class="text-lg font-semibold">"Promotional credits for a tier"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Every user whose subscription on the tier is live receives the credits once."
            </p>
            <ActionForm action=promote attr:id="tier-promotion-form" attr:class="mt-3 grid gap-3 sm:grid-cols-2">
                <input type="hidden" name="request_id" value=tier_request_id />
                <label class="text-xs font-medium text-slate-600">
                    "Tier"
                    <select name="tier" required class=INPUT>
                        {tiers
                            .into_iter()
                            .map(|(code, name)| view! { <option value=code>{name}</option> })
                            .collect_view()}
                    </select>
                </label>
                <PromotionFields busy=Signal::derive(move || promote.pending().get()) />
            </ActionForm>
            {outcome}
        </section>
    }
}

/// Amount, reason, expiry and the submit button of a promotion form.
#[component]
fn PromotionFields(
    /// Its action is in flight: the button waits.
    busy: Signal<bool>,
) -> impl IntoView {
    view! {
        <label class="text-xs font-medium text-slate-600">
            "Credits each"
            <input name="amount" inputmode="numeric" placeholder="500" required class=INPUT />
        </label>
        <label class="text-xs font-medium text-slate-600">
            "Reason"
            <input name="reason" minlength="3" maxlength="500" placeholder="Launch week" required class=INPUT />
        </label>
        <label class="text-xs font-medium text-slate-600">
            "Expires on (optional)"
            <input name="expires_on" type="date" class=INPUT />
        </label>
        <div class="sm:col-span-2">
            <button
                type="submit"
                disabled=move || busy.get()
                aria-busy=move || busy.get().to_string()
                class="rounded-lg bg-indigo-600 px-4 py-2 text-sm font-semibold text-white hover:bg-indigo-500 disabled:opacity-60"
            >
                "Grant credits"
            </button>
        </div>
    }
}

#[component]
fn Found(
    wallet: AdminWalletView,
    first: bool,
    promote: ServerAction<GrantPromotion>,
) -> impl IntoView {
    let AdminWalletView {
        user_id,
        email,
        name,
        wallet,
        activity,
        promotion_request_id,
    } = wallet;
    let who = match (name, email.clone()) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        (Some(name), None) => name,
        (None, Some(email)) => email,
        (None, None) => user_id.clone(),
    };
    let figure = |id: &'static str, label: &'static str, value: String| {
        view! {
            <div class="rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200">
                <dt class="text-xs font-medium uppercase tracking-wide text-slate-600">{label}</dt>
                <dd id=id class="mt-1 text-xl font-semibold tabular-nums">{value}</dd>
            </div>
        }
    };
    let in_debt = wallet.debt.get() > 0;
    let page_href = format!("/admin/credits/wallets?user={user_id}");
    let export_href = format!("/api/v1/billing/credits/transactions/export?user_id={user_id}");
    let form_user = user_id.clone();
    view! {
        <section aria-labelledby="wallet-heading" class="mt-8" data-user=user_id.clone()>
            <h2 id="wallet-heading" class="text-xl font-semibold">{who}</h2>
            <p class="font-mono text-xs text-slate-500">{user_id.clone()}</p>
            <dl class="mt-4 grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6">
                {figure("wallet-balance", "Balance", wallet.balance.to_string())}
                {figure("wallet-available", "Available", wallet.available.to_string())}
                {figure("wallet-paid", "Paid", wallet.paid.to_string())}
                {figure("wallet-granted", "Granted", wallet.granted.to_string())}
                {figure("wallet-held", "Reserved", wallet.held.to_string())}
                {figure("wallet-debt", "Owed", wallet.debt.to_string())}
            </dl>
            {in_debt.then(|| view! {
                <p class="mt-3 rounded-lg bg-red-50 p-3 text-sm text-red-800" role="status">
                    "This user owes credits after a refund of spent credits: their spending is blocked until new credits repay it."
                </p>
            })}
            {(!wallet.expiring.is_empty()).then(|| view! {
                <p class="mt-3 text-sm text-slate-600">
                    {format!("{} credits expire in the next 30 days.", wallet.expiring_soon)}
                </p>
            })}
            <div class="mt-6 rounded-2xl bg-surface p-6 shadow-sm ring-1 ring-slate-200">
                <h3 class="text-lg font-semibold">"Promotional credits for this user"</h3>
                <ActionForm action=promote attr:id="user-promotion-form" attr:class="mt-3 grid gap-3 sm:grid-cols-2">
                    <input type="hidden" name="user_id" value=form_user />
                    <input type="hidden" name="request_id" value=promotion_request_id />
                    <PromotionFields busy=Signal::derive(move || promote.pending().get()) />
                </ActionForm>
            </div>
            <Activity page=activity first page_href export_href />
        </section>
    }
}
