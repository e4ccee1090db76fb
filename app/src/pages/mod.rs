pub mod admin;
pub mod credits;
pub mod not_found;
