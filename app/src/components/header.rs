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
        <header class="border-b border-slate-200 bg-white">
            <div class="mx-auto flex max-w-6xl items-center justify-between px-4 py-4 sm:px-6">
                <a href="/" class="flex items-center gap-2 text-lg font-semibold text-slate-900">
                    <span class="inline-block h-7 w-7 rounded-lg bg-indigo-600"></span>
                    "Ops-Center Credits"
                </a>
                <nav id="account" class="flex items-center gap-4 text-sm">
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
    view! {
        {summary
            .map(|summary| {
                view! {
                    <a
                        id="header-plan"
                        href="/billing"
                        class="rounded-full bg-indigo-50 px-2.5 py-0.5 text-xs font-semibold text-indigo-700 hover:bg-indigo-100"
                    >
                        {summary.tier_name}
                    </a>
                    <span id="header-balance" class="text-slate-600">
                        {format!("{} credits", summary.balance)}
                    </span>
                }
            })}
        {user
            .is_admin
            .then(|| {
                view! {
                    <a
                        id="admin-link"
                        href="/admin/credits"
                        class="font-medium text-indigo-600 hover:underline"
                    >
                        "Admin"
                    </a>
                }
            })}
        <span id="user-name" class="font-medium text-slate-700">
            {user.name}
        </span>
        <form method="post" action="/auth/logout">
            <button
                id="logout"
                type="submit"
                class="rounded-lg border border-slate-300 px-3 py-1.5 font-medium text-slate-700 hover:bg-slate-50"
            >
                "Log out"
            </button>
        </form>
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
