//! Integration tests: the emulator runs in-process on port 0, driven by the real async-stripe
//! client and by plain HTTP (the hosted pages); webhooks land on a tiny axum receiver.

mod billing;
mod common;
mod conformance;
mod flows;
mod signatures;
