//! Server-side services.
