//! The one integration-test binary: every test here drives the real app
//! (a fresh database each, real PostgreSQL), so the app is linked once.
//! One module per area; shared harness in `support`.

mod support;

mod admin_api;
mod admin_dashboard;
mod admin_pages;
mod admin_scale;
mod auth;
mod cancellation;
mod credits_api;
mod credits_flows;
mod credits_page;
mod credits_webhook;
mod group_commit;
mod http_client;
mod ledger;
mod migrations;
mod preferences;
mod purchases;
mod rollups;
mod server;
mod subscriptions;
mod sync;
mod users;
mod wallet;
