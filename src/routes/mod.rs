pub mod api;
pub mod auth;
pub mod health;
pub mod preferences;
