pub mod admin;
pub mod billing;
pub mod credits;
pub mod not_found;
