//! The Ops-Center Credits server: HTTP routes, the Leptos renderer and
//! startup. The business lives in `backend`; pages live in `app`.

pub mod auth;
pub mod error;
pub mod routes;
pub mod startup;
pub mod telemetry;

pub use startup::Application;
