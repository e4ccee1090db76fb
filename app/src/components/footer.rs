//! The footer on every page: where to go, and the theme switch (a form, so
//! it works before the page is hydrated and without JavaScript).

use leptos::prelude::*;

use crate::theme::{self, Theme};

#[component]
pub fn Footer() -> impl IntoView {
    let chosen = theme::current();
    // Back to this very page after the choice is saved.
    let here = super::current_path();
    let option = move |theme: Theme| {
        let pressed = theme == chosen;
        let class = if pressed {
            "rounded-md bg-indigo-600 px-2.5 py-1 text-xs font-semibold text-white"
        } else {
            "rounded-md px-2.5 py-1 text-xs font-medium text-slate-600 hover:bg-slate-100 hover:text-slate-900"
        };
        view! {
            <button
                type="submit"
                name="theme"
                value=theme.as_str()
                data-theme-option=theme.as_str()
                aria-pressed=if pressed { "true" } else { "false" }
                class=class
            >
                {theme.label()}
            </button>
        }
    };
    view! {
        <footer class="mt-16 border-t border-slate-200 bg-surface">
            <div class="mx-auto flex max-w-6xl flex-col gap-4 px-4 py-6 text-sm text-slate-600 sm:flex-row sm:items-center sm:justify-between sm:px-6">
                <p>"Ops-Center Credits · payments by Stripe"</p>
                <nav aria-label="Footer" class="flex gap-4">
                    <a href="/credits" class="hover:text-slate-900 hover:underline">"Credits"</a>
                    <a href="/billing" class="hover:text-slate-900 hover:underline">"Plans & billing"</a>
                </nav>
                <form id="theme" method="post" action="/preferences/theme" class="flex items-center gap-2">
                    <input type="hidden" name="next" value=here />
                    <span id="theme-label">"Theme"</span>
                    <div
                        role="group"
                        aria-labelledby="theme-label"
                        class="inline-flex gap-0.5 rounded-lg p-0.5 ring-1 ring-slate-300"
                    >
                        {Theme::ALL.into_iter().map(option).collect_view()}
                    </div>
                </form>
            </div>
        </footer>
    }
}
