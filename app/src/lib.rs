//! Leptos components and server functions, compiled twice: for the server
//! (`ssr`, with access to `backend`) and for the browser (`hydrate`).

pub mod admin;
pub mod auth;
pub mod billing;
pub mod components;
pub mod credits;
pub mod error;
pub mod packages;
pub mod pages;
pub mod theme;
pub mod wallet;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    Lazy, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
    path,
};

use crate::{
    components::{footer::Footer, header::Header},
    pages::{
        credits::CreditsPage,
        lazy::{
            AdminDashboardRoute, AdminPackagesRoute, AdminPurchaseRoute, AdminSyncRoute,
            AdminWalletsRoute, BillingRoute, PlansRoute,
        },
    },
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme::current().attribute()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="flex min-h-screen flex-col bg-slate-50 text-slate-900 antialiased">
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, after hydration: browser tests wait for
    // this marker so that their clicks reach live event handlers.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/ops-center-credits.css" />
        <Title text="Ops-Center Credits" />
        <Router>
            <Header />
            <main id="main" tabindex="-1" class="mx-auto w-full max-w-6xl flex-1 px-4 py-8 sm:px-6">
                <Routes fallback=pages::not_found::NotFound>
                    // Async: the whole page is rendered before the response
                    // starts, so `/credits` can still redirect to log in.
                    <Route
                        path=StaticSegment("")
                        view=|| view! { <CreditsPage /> }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=StaticSegment("credits")
                        view=|| view! { <CreditsPage require_login=true /> }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/billing")
                        view={Lazy::<BillingRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/billing/plans")
                        view={Lazy::<PlansRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/admin/credits")
                        view={Lazy::<AdminDashboardRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/admin/credits/purchases/:id")
                        view={Lazy::<AdminPurchaseRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/admin/credits/packages")
                        view={Lazy::<AdminPackagesRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/admin/credits/sync")
                        view={Lazy::<AdminSyncRoute>::new()}
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/admin/credits/wallets")
                        view={Lazy::<AdminWalletsRoute>::new()}
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
            <Footer />
        </Router>
    }
}
