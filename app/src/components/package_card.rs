use domain::PackageCode;
use leptos::prelude::*;

use crate::{components::error_notice::ErrorNotice, credits::BuyCredits, packages::PackageView};

/// What the card's button does: start Checkout, or (anonymous) log in first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardAction {
    Buy,
    LogInToBuy,
}

#[component]
pub fn PackageCard(package: PackageView, action: CardAction) -> impl IntoView {
    let per_thousand = package.price_per_thousand();
    let ring = if package.is_popular {
        "ring-2 ring-indigo-600"
    } else {
        "ring-1 ring-slate-200"
    };
    view! {
        <article
            class=format!("relative flex flex-col rounded-2xl bg-surface p-6 shadow-sm {ring}")
            data-package=package.code.to_string()
        >
            <div class="flex h-6 flex-wrap gap-1">
                {package
                    .is_popular
                    .then(|| {
                        view! {
                            <span class="rounded-full bg-indigo-600 px-2.5 py-0.5 text-xs font-semibold text-white">
                                "Popular"
                            </span>
                        }
                    })}
                {(package.discount_percentage > 0)
                    .then(|| {
                        view! {
                            <span class="rounded-full bg-emerald-100 px-2.5 py-0.5 text-xs font-semibold text-emerald-800">
                                {format!("Save {}%", package.discount_percentage)}
                            </span>
                        }
                    })}
            </div>
            <h3 class="mt-2 text-lg font-semibold">{package.name.clone()}</h3>
            <p class="mt-1 text-sm text-slate-500">{package.description.clone()}</p>
            <p class="mt-6 text-4xl font-bold tracking-tight" data-role="price">
                {package.price.to_string()}
            </p>
            <p class="mt-1 text-sm font-medium text-slate-700" data-role="credits">
                {format!("{} credits", package.credits)}
            </p>
            {per_thousand
                .map(|cost| {
                    view! {
                        <p class="mt-1 text-xs text-slate-500">{format!("{cost} per 1,000 credits")}</p>
                    }
                })}
            <div class="mt-auto pt-6">
                {match action {
                    CardAction::Buy => view! { <BuyButton code=package.code.clone() /> }.into_any(),
                    CardAction::LogInToBuy => {
                        view! {
                            <a
                                href="/auth/login?next=/credits"
                                rel="external"
                                class="block w-full rounded-lg border border-indigo-600 px-4 py-2 text-center text-sm font-semibold text-indigo-700 hover:bg-indigo-50"
                            >
                                "Log in to buy"
                            </a>
                        }
                            .into_any()
                    }
                }}
            </div>
        </article>
    }
}

/// Goes straight to Stripe Checkout: pending while the session is created
/// (and while the browser leaves), the error inline if it could not start.
/// A form: before the page is hydrated (or without JavaScript) it posts,
/// and the server answers with a redirect to Checkout.
#[component]
fn BuyButton(code: PackageCode) -> impl IntoView {
    let buy = ServerAction::<BuyCredits>::new();
    let value = buy.value();
    Effect::new(move |_| {
        if let Some(Ok(url)) = value.get() {
            let _ = window().location().set_href(&url);
        }
    });
    let leaving = move || buy.pending().get() || matches!(value.get(), Some(Ok(_)));
    let error = move || match value.get() {
        Some(Err(error)) => Some(error),
        _ => None,
    };
    view! {
        <ActionForm action=buy>
            <input type="hidden" name="package_code" value=code.to_string() />
            <button
                type="submit"
                data-role="buy"
                class="w-full rounded-lg bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 disabled:cursor-wait disabled:opacity-60"
                disabled=leaving
                aria-busy=move || leaving().to_string()
            >
                {move || if leaving() { "Redirecting to Stripe…" } else { "Buy" }}
            </button>
        </ActionForm>
        {move || {
            error()
                .map(|error| {
                    view! {
                        <div data-role="buy-error">
                            <ErrorNotice error inline=true />
                        </div>
                    }
                })
        }}
    }
}
