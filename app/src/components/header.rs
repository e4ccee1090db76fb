use leptos::prelude::*;

#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="border-b border-slate-200 bg-white">
            <div class="mx-auto flex max-w-6xl items-center justify-between px-4 py-4 sm:px-6">
                <a href="/" class="flex items-center gap-2 text-lg font-semibold text-slate-900">
                    <span class="inline-block h-7 w-7 rounded-lg bg-indigo-600"></span>
                    "Ops-Center Credits"
                </a>
            </div>
        </header>
    }
}
