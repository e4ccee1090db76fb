//! What a page shows while its data loads (after a client-side navigation;
//! the server sends pages whole): grey blocks in the page's shape, announced
//! once to screen readers.

use leptos::prelude::*;

#[component]
pub fn PageSkeleton() -> impl IntoView {
    view! {
        <div data-role="loading" role="status" aria-live="polite" class="animate-pulse">
            <span class="sr-only">"Loading…"</span>
            <div aria-hidden="true" class="h-8 w-1/3 rounded-lg bg-slate-200"></div>
            <div aria-hidden="true" class="mt-6 grid gap-6 lg:grid-cols-3">
                <div class="h-36 rounded-2xl bg-slate-200 lg:col-span-2"></div>
                <div class="h-36 rounded-2xl bg-slate-200"></div>
            </div>
            <div aria-hidden="true" class="mt-8 space-y-3">
                <div class="h-4 w-full rounded bg-slate-200"></div>
                <div class="h-4 w-5/6 rounded bg-slate-200"></div>
                <div class="h-4 w-2/3 rounded bg-slate-200"></div>
            </div>
        </div>
    }
}
