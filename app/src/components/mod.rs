use leptos::prelude::*;

pub mod activity;
pub mod balance_card;
pub mod bar_chart;
pub mod checkout_banner;
pub mod error_notice;
pub mod footer;
pub mod header;
pub mod local_time;
pub mod package_card;
pub mod purchase_history;
pub mod skeleton;
pub mod status_chip;

/// This page's path and query (`/credits?page=2`), following the router.
pub fn current_path() -> impl Fn() -> String + Copy + Send + Sync + 'static {
    let location = leptos_router::hooks::use_location();
    let (pathname, search) = (location.pathname, location.search);
    move || {
        let search = search.get();
        if search.is_empty() {
            pathname.get()
        } else {
            format!("{}?{search}", pathname.get())
        }
    }
}
