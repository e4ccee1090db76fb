//! The header on every page: the product, the balance and plan at a glance,
//! and the user menu (a `<details>`, so it opens without JavaScript).

use leptos::prelude::*;

use crate::{
    auth::{UserView, current_user},
    billing::{HeaderSummary, account_summary},
};

#[component]
pub fn Header() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let summary = Resource::new(|| (), |_| account_summary());
    view! {
        <a
            href="#main"
            class="sr-only rounded-lg bg-indigo-600 px-4 py-2 font-semibold text-white focus:not-sr-only focus:absolute focus:top-3 focus:left-3 focus:z-50"
        >
            "Skip to content"
        </a>
        <header class="border-b border-slate-200 bg-surface">
            <div class="mx-auto flex max-w-6xl items-center justify-between gap-4 px-4 py-3 sm:px-6">
                <a
                    href="/"
                    class="flex shrink-0 items-center gap-2 text-lg font-semibold text-slate-900"
                >
                    <span aria-hidden="true" class="inline-block h-7 w-7 rounded-lg bg-indigo-600"></span>
                    <span class="hidden sm:inline">"Ops-Center Credits"</span>
                    <span class="sm:hidden">"Credits"</span>
                </a>
                <nav id="account" aria-label="Account" class="flex min-w-0 items-center gap-3 text-sm">
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            match user.await {
                                Ok(Some(user)) => {
                                    let summary = summary.await.ok().flatten();
                                    view! { <Account user summary /> }.into_any()
                                }
                                _ => view! { <LogIn /> }.into_any(),
                            }
                        })}
                    </Suspense>
                </nav>
            </div>
        </header>
    }
}

#[component]
fn Account(user: UserView, summary: Option<HeaderSummary>) -> impl IntoView {
    let tier = summary.as_ref().map(|s| s.tier_name.clone());
    let at_a_glance = summary.map(|summary| {
        view! {
            <a
                id="header-plan"
                href="/billing"
                class="hidden rounded-full bg-indigo-50 px-2.5 py-0.5 text-xs font-semibold text-indigo-700 hover:bg-indigo-100 sm:inline-block"
            >
                {summary.tier_name}
            </a>
            <a
                id="header-balance"
                href="/credits"
                class="whitespace-nowrap font-medium text-slate-700 tabular-nums hover:text-slate-900"
            >
                {summary.balance.to_string()}
                <span class="font-normal text-slate-500">" credits"</span>
            </a>
        }
    });
    let menu = NodeRef::<leptos::html::Details>::new();
    let close = move || {
        if let Some(menu) = menu.get_untracked() {
            menu.set_open(false);
        }
    };
    view! {
        {at_a_glance}
        <details
            id="user-menu"
            node_ref=menu
            class="relative"
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    close();
                }
            }
            on:focusout=move |ev| {
                // Closes when focus moves somewhere outside the menu (a tab
                // past its last item); focus leaving the page keeps it open.
                use leptos::wasm_bindgen::JsCast;
                let Some(target) = ev.related_target() else { return };
                let inside = target
                    .dyn_into::<leptos::web_sys::Node>()
                    .ok()
                    .zip(menu.get_untracked())
                    .is_some_and(|(target, menu)| menu.contains(Some(&target)));
                if !inside {
                    close();
                }
            }
        >
            <summary class="flex cursor-pointer list-none items-center gap-2 rounded-lg px-2 py-1.5 font-medium text-slate-700 hover:bg-slate-100 [&::-webkit-details-marker]:hidden">
                <span
                    aria-hidden="true"
                    class="inline-flex h-7 w-7 items-center justify-center rounded-full bg-indigo-100 text-xs font-semibold text-indigo-700"
                >
                    {initials(&user.name)}
                </span>
                <span id="user-name" class="sr-only sm:not-sr-only">
                    {user.name.clone()}
                </span>
                <svg aria-hidden="true" viewBox="0 0 20 20" class="h-4 w-4 text-slate-500">
                    <path d="M5.5 7.5 10 12l4.5-4.5" stroke="currentColor" stroke-width="1.5" fill="none" />
                </svg>
            </summary>
            <div
                class="absolute right-0 z-20 mt-2 w-60 rounded-xl bg-surface p-1 text-sm shadow-lg ring-1 ring-slate-200"
                on:click=move |_| close()
            >
                <div class="border-b border-slate-100 px-3 py-2">
                    <p class="font-medium text-slate-900">{user.name.clone()}</p>
                    {tier.map(|tier| view! { <p class="text-slate-500">{tier}</p> })}
                </div>
                <ul class="py-1">
                    <li>
                        <a href="/credits" class=MENU_ITEM>"Credits"</a>
                    </li>
                    <li>
                        <a id="billing-menu-link" href="/billing" class=MENU_ITEM>
                            "Billing"
                        </a>
                    </li>
                    {user
                        .is_admin
                        .then(|| {
                            view! {
                                <li>
                                    <a id="admin-link" href="/admin/credits" class=MENU_ITEM>
                                        "Admin"
                                    </a>
                                </li>
                            }
                        })}
                </ul>
                <form method="post" action="/auth/logout" class="border-t border-slate-100 pt-1">
                    <button id="logout" type="submit" class=MENU_ITEM>
                        "Log out"
                    </button>
                </form>
            </div>
        </details>
    }
}

const MENU_ITEM: &str = "block w-full rounded-lg px-3 py-2 text-left text-slate-700 hover:bg-slate-100 hover:text-slate-900";

/// Up to two initials for the avatar: "Ada Admin" → "AA".
fn initials(name: &str) -> String {
    let letters: String = name
        .split_whitespace()
        .filter_map(|word| word.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    if letters.is_empty() {
        "?".into()
    } else {
        letters
    }
}

#[component]
fn LogIn() -> impl IntoView {
    view! {
        <a
            id="login"
            href="/auth/login"
            rel="external"
            class="rounded-lg bg-indigo-600 px-3 py-1.5 font-medium text-white hover:bg-indigo-500"
        >
            "Log in"
        </a>
    }
}

#[cfg(test)]
mod tests {
    use super::initials;

    #[test]
    fn initials_take_the_first_two_words() {
        assert_eq!(initials("Ada Admin"), "AA");
        assert_eq!(initials("bob"), "B");
        assert_eq!(initials("Jean Luc Picard"), "JL");
        assert_eq!(initials("  "), "?");
    }
}
