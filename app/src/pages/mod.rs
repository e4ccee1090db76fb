pub mod admin;
pub mod billing;
pub mod credits;
pub mod lazy;
pub mod not_found;
