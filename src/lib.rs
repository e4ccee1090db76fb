//! The Ops-Center Credits server: HTTP routes, the Leptos renderer and
//! startup. The business lives in `backend`; pages live in `app`.

pub mod auth;
pub mod catch_panic;
pub mod demo;
pub mod detach;
pub mod error;
pub mod extract;
pub mod rate_limit;
pub mod reactive_owner;
pub mod routes;
pub mod startup;
pub mod telemetry;

pub use startup::Application;

pub use error::error_chain;
