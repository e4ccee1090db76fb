//! Typed ids live in `domain::ids`; re-exported here for the services.

pub use domain::ids::*;
