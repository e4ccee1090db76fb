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

/// `/billing`.
pub struct BillingRoute;

#[lazy_route]
impl LazyRoute for BillingRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <BillingPage /> }.into_any()
    }
}

/// `/billing/plans`.
pub struct PlansRoute;

#[lazy_route]
impl LazyRoute for PlansRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <PlansPage /> }.into_any()
    }
}

/// `/admin/credits`.
pub struct AdminDashboardRoute;

#[lazy_route]
impl LazyRoute for AdminDashboardRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <AdminDashboardPage /> }.into_any()
    }
}

/// `/admin/credits/purchases/:id`.
pub struct AdminPurchaseRoute;

#[lazy_route]
impl LazyRoute for AdminPurchaseRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <AdminPurchasePage /> }.into_any()
    }
}

/// `/admin/credits/packages`.
pub struct AdminPackagesRoute;

#[lazy_route]
impl LazyRoute for AdminPackagesRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <AdminPackagesPage /> }.into_any()
    }
}

/// `/admin/credits/sync`.
pub struct AdminSyncRoute;

#[lazy_route]
impl LazyRoute for AdminSyncRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <AdminSyncPage /> }.into_any()
    }
}

/// `/admin/credits/wallets`.
pub struct AdminWalletsRoute;

#[lazy_route]
impl LazyRoute for AdminWalletsRoute {
    fn data() -> Self {
        Self
    }

    fn view(_this: Self) -> AnyView {
        view! { <AdminWalletsPage /> }.into_any()
    }
}
