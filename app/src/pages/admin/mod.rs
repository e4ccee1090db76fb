//! `/admin/credits…`: admins only. Each page's data comes from a server
//! function that checks the admin role itself; these helpers turn its
//! refusal into a login redirect (anonymous) or a 403 page (everyone else).

pub mod dashboard;
pub mod packages;
pub mod purchase;
pub mod sync;
pub mod wallets;

use leptos::prelude::*;

use crate::{
    components::error_notice::ErrorNotice,
    error::{ApiError, ErrorCode},
    pages::not_found::StatusPage,
};

/// What to show when an admin server function refused or failed.
pub fn refusal(error: &ApiError, path: &str) -> AnyView {
    match error.code {
        ErrorCode::NotAuthenticated | ErrorCode::InvalidToken => {
            #[cfg(feature = "ssr")]
            crate::auth::ssr::redirect_to_login(path);
            let _ = path;
            view! { <p class="text-slate-600">"Please log in."</p> }.into_any()
        }
        ErrorCode::Forbidden => view! {
            <StatusPage
                id="forbidden"
                code="403"
                title="Admins only"
                body="This page is for administrators. If you need access, ask one to give you the admin role."
                back=("/credits", "Back to your credits")
            />
        }
        .into_any(),
        _ => view! { <ErrorNotice error=error.clone() /> }.into_any(),
    }
}

/// The admin section's tabs.
#[component]
pub fn AdminNav(active: &'static str) -> impl IntoView {
    let tab = move |href: &'static str, key: &'static str, label: &'static str| {
        let class = if key == active {
            "rounded-lg bg-indigo-600 px-3 py-1.5 text-sm font-semibold text-white"
        } else {
            "rounded-lg px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-100"
        };
        view! { <a href=href class=class>{label}</a> }
    };
    view! {
        <nav aria-label="Admin" class="mb-6 flex flex-wrap gap-2">
            {tab("/admin/credits", "dashboard", "Dashboard")}
            {tab("/admin/credits/packages", "packages", "Packages")}
            {tab("/admin/credits/wallets", "wallets", "Wallets")}
            {tab("/admin/credits/sync", "sync", "Sync")}
        </nav>
    }
}
