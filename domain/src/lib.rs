//! The money and credit rules of Ops-Center Credits.
//!
//! Pure types with no I/O: they know nothing of axum, Leptos, SQL or Stripe,
//! and build for the browser as well as the server. Values are parsed once at
//! the edge through fallible constructors and are valid from then on.

pub mod admin;
pub mod ids;
mod money;
mod package;
mod purchase;
pub mod subscription;
pub mod wallet;

pub use money::{Cents, Credits, MoneyError};
pub use package::{PackageCode, PackageCodeError};
pub use purchase::{
    InvalidTransition, Purchase, PurchaseStatus, Refund, RefundReversal, UnknownStatus,
};
pub use subscription::{BillingCycle, PlanChange, PlanRank, SubscriptionStatus};
