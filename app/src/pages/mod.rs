pub mod credits;
pub mod not_found;
