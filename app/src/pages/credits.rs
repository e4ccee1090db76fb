//! `/credits` (and `/` for logged-in users): balance, the packs with a Buy
//! button, the banner after Checkout, and the purchase history. Anonymous
//! visitors see the packs on `/` and are sent to log in from `/credits`.

use crate::components::skeleton::PageSkeleton;
#[allow(unused_imports)]
use crate::error::{ApiError, ErrorCode};
use domain::ids::PurchaseId;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::{
    components::{
        activity::Activity,
        balance_card::BalanceCard,
        checkout_banner::{CancelledBanner, CheckoutBanner},
        error_notice::ErrorNotice,
        package_card::{CardAction, PackageCard},
        purchase_history::PurchaseHistory,
    },
    credits::{AbandonCheckout, CreditsOverview, load_credits_page},
    packages::{PackageView, list_packages},
    wallet::{ActivityPage, load_activity},
};

#[component]
pub fn CreditsPage(
    /// Send anonymous visitors to log in (on `/credits`; `/` shows them the packs).
    #[prop(optional)]
    require_login: bool,
) -> impl IntoView {
    let query = use_query_map();
    let session_id = move || query.with(|q| q.get("session_id"));
    let cancelled = move || query.with(|q| q.get("checkout").as_deref() == Some("cancelled"));
    let page = move || {
        query.with(|q| {
            q.get("page")
                .and_then(|p| p.parse::<u32>().ok())
                .unwrap_or(1)
        })
    };
    let cancelled_purchase = Memo::new(move |_| {
        query.with(|q| {
            (q.get("checkout").as_deref() == Some("cancelled"))
                .then(|| q.get("purchase"))
                .flatten()
                // Not a purchase id: nothing to close.
                .and_then(|p| p.parse::<PurchaseId>().ok())
        })
    });
    // Checkout's cancel URL names the purchase left behind. Rendering the
    // page changes nothing; once it is live (effects run only in the
    // browser) it asks, by POST, to close that checkout, then reloads the
    // overview so the history shows the purchase expired.
    let abandon = ServerAction::<AbandonCheckout>::new();
    Effect::new(move |_| {
        if let Some(purchase) = cancelled_purchase.get() {
            abandon.dispatch(AbandonCheckout { purchase });
        }
    });
    let overview = Resource::new(
        move || (session_id(), page(), abandon.version().get()),
        |(session_id, page, _)| load_credits_page(session_id, page),
    );
    let packages = Resource::new(|| (), |_| list_packages());
    // `?tab=activity` (with `&cursor=` for older pages): plain links, so the
    // tab works before hydration too.
    let activity_tab = move || query.with(|q| q.get("tab").as_deref() == Some("activity"));
    let cursor = move || query.with(|q| q.get("cursor"));
    let activity = Resource::new(
        move || (activity_tab(), cursor()),
        |(shown, cursor)| async move {
            if shown {
                load_activity(cursor).await
            } else {
                Ok(None)
            }
        },
    );

    view! {
        <Suspense fallback=|| view! { <PageSkeleton /> }>
            {move || Suspend::new(async move {
                let packages = packages.await;
                let activity = activity.await;
                let first_page = cursor().is_none();
                match overview.await {
                    Ok(Some(overview)) => {
                        view! { <Signed overview packages activity first_page cancelled=cancelled() /> }
                            .into_any()
                    }
                    Ok(None) => {
                        if require_login {
                            #[cfg(feature = "ssr")]
                            crate::auth::ssr::redirect_to_login("/credits");
                        }
                        view! { <Anonymous packages /> }.into_any()
                    }
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Signed(
    overview: CreditsOverview,
    packages: Result<Vec<PackageView>, ApiError>,
    activity: Result<Option<ActivityPage>, ApiError>,
    first_page: bool,
    cancelled: bool,
) -> impl IntoView {
    let banner = overview
        .checkout
        .clone()
        .map(|outcome| view! { <CheckoutBanner outcome /> });
    let top = view! {
        {banner}
        {cancelled.then(|| view! { <CancelledBanner /> })}
        <div class="grid gap-6 lg:grid-cols-3">
            <div class="lg:col-span-2">
                <BalanceCard wallet=overview.wallet.clone() />
            </div>
            <HowCreditsWork />
        </div>
    };
    match activity {
        Ok(Some(page)) => view! {
            {top}
            <Tabs activity=true />
            <Activity
                page
                first=first_page
                page_href="/credits?tab=activity"
                export_href="/api/v1/billing/credits/transactions/export"
            />
        }
        .into_any(),
        Err(error) => view! {
            {top}
            <Tabs activity=true />
            <ErrorNotice error />
        }
        .into_any(),
        Ok(None) => view! {
            {top}
            <Tabs activity=false />
            <Overview overview packages />
        }
        .into_any(),
    }
}

/// "Buy & history" and "Activity": links, so they work without JavaScript.
#[component]
fn Tabs(activity: bool) -> impl IntoView {
    let tab = |href: &'static str, id: &'static str, label: &'static str, current: bool| {
        let class = if current {
            "border-b-2 border-indigo-600 px-1 pb-2 text-sm font-semibold text-indigo-700"
        } else {
            "border-b-2 border-transparent px-1 pb-2 text-sm font-medium text-slate-600 hover:text-slate-900"
        };
        view! {
            <a id=id href=href class=class aria-current=current.then_some("page")>
                {label}
            </a>
        }
    };
    view! {
        <nav aria-label="Credits" class="mt-8 flex gap-6 border-b border-slate-200">
            {tab("/credits", "tab-overview", "Buy & history", !activity)}
            {tab("/credits?tab=activity", "tab-activity", "Activity", activity)}
        </nav>
    }
}

#[component]
fn Overview(
    overview: CreditsOverview,
    packages: Result<Vec<PackageView>, ApiError>,
) -> impl IntoView {
    view! {
        <p class="mt-4 text-sm">
            <a id="billing-link" href="/billing" class="font-medium text-link hover:underline">
                "Plans & billing →"
            </a>
            <span class="text-slate-600">" Subscribe for a monthly credit allowance."</span>
        </p>
        <section aria-labelledby="packs-heading" class="mt-12">
            <h2 id="packs-heading" class="text-xl font-semibold tracking-tight">
                "Buy credits"
            </h2>
            <p class="mt-1 text-sm text-slate-600">
                "Pay securely with Stripe. Bigger packs cost less per credit."
            </p>
            <Packages packages action=CardAction::Buy />
        </section>
        <PurchaseHistory overview />
    }
}

#[component]
fn Anonymous(packages: Result<Vec<PackageView>, ApiError>) -> impl IntoView {
    view! {
        <section>
            <h1 class="text-3xl font-bold tracking-tight">"Credit packs"</h1>
            <p class="mt-2 text-slate-600">
                "Credits pay for AI models and services across Ops-Center. Bigger packs cost less per credit."
            </p>
            <Packages packages action=CardAction::LogInToBuy />
        </section>
        <div class="mt-12 max-w-xl">
            <HowCreditsWork />
        </div>
    }
}

#[component]
fn Packages(packages: Result<Vec<PackageView>, ApiError>, action: CardAction) -> impl IntoView {
    match packages {
        Ok(list) => view! {
            <div id="packages" class="mt-6 grid gap-6 sm:grid-cols-2 lg:grid-cols-4">
                {list
                    .into_iter()
                    .map(|package| view! { <PackageCard package action /> })
                    .collect_view()}
            </div>
        }
        .into_any(),
        Err(error) => view! { <ErrorNotice error /> }.into_any(),
    }
}

#[component]
fn HowCreditsWork() -> impl IntoView {
    view! {
        <aside
            aria-labelledby="how-heading"
            class="rounded-2xl bg-surface p-6 text-sm text-slate-600 shadow-sm ring-1 ring-slate-200"
        >
            <h2 id="how-heading" class="text-base font-semibold text-slate-900">
                "How credits work"
            </h2>
            <ul class="mt-3 list-disc space-y-1.5 pl-5">
                <li>"Each AI request or service call spends credits from your balance."</li>
                <li>"Packs are one-time purchases, and their credits never expire."</li>
                <li>"Plan and promotional credits may expire; they are spent first."</li>
                <li>"Credits are added the moment Stripe confirms your payment."</li>
                <li>"Refunded payments take the matching credits back."</li>
            </ul>
        </aside>
    }
}
