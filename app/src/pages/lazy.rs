//! The admin and billing pages as lazy routes. Few visitors open them (the
//! admin pages are also most of the app's code), and `/credits` needs none
//! of it: built with `cargo leptos --split`, each page's code is a wasm chunk
//! of its own (code they share, more chunks), fetched the first time the
//! browser navigates to one, or while a page loaded directly hydrates (the
//! server then links its chunks with `<link rel="preload">`). The main wasm,
//! all that `/credits` loads, keeps the rest.
//!
//! A route's data is its page's business (the page creates its resources),
//! so `data()` carries nothing. The server renders these routes as any other.

use leptos::prelude::*;
use leptos_router::{LazyRoute, lazy_route};

use crate::pages::{
    admin::{
        dashboard::AdminDashboardPage, packages::AdminPackagesPage, purchase::AdminPurchasePage,
        sync::AdminSyncPage, wallets::AdminWalletsPage,
    },
    billing::{BillingPage, PlansPage},
};

/// A lazy route for a page: `$route` renders `$page`, with no data of its own.
macro_rules! lazy_page {
    ($(#[$doc:meta])* $route:ident => $page:ident) => {
        $(#[$doc])*
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page /> }.into_any()
            }
        }
    };
}

lazy_page!(
    /// `/billing`.
    BillingRoute => BillingPage
);
lazy_page!(
    /// `/billing/plans`.
    PlansRoute => PlansPage
);
lazy_page!(
    /// `/admin/credits`.
    AdminDashboardRoute => AdminDashboardPage
);
lazy_page!(
    /// `/admin/credits/purchases/:id`.
    AdminPurchaseRoute => AdminPurchasePage
);
lazy_page!(
    /// `/admin/credits/packages`.
    AdminPackagesRoute => AdminPackagesPage
);
lazy_page!(
    /// `/admin/credits/sync`.
    AdminSyncRoute => AdminSyncPage
);
lazy_page!(
    /// `/admin/credits/wallets`.
    AdminWalletsRoute => AdminWalletsPage
);
