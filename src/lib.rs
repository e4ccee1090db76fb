//! The Ops-Center Credits server: HTTP routes, the Leptos renderer and
//! startup. The business lives in `backend`; pages live in `app`.

pub mod auth;
pub mod catch_panic;
pub mod detach;
pub mod error;
pub mod rate_limit;
pub mod routes;
pub mod startup;
pub mod telemetry;

pub use startup::Application;

/// An error and its causes on one line, for command-line output.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
