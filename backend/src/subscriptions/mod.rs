//! Subscription tiers bought through Stripe Checkout and managed in its
//! customer portal.
//!
//! - [`tiers`]: the catalogue, its allowances and its Stripe prices;
//! - [`state`]: each subscription as Stripe last told us, per-subscription lock;
//! - [`webhook`]: the subscription webhook, deciding from Stripe's state;
//! - [`manage`]: what a user does (subscribe, portal, cancel, resume,
//!   change plan, read status, cards and invoices).

pub mod manage;
pub mod state;
pub mod stats;
pub mod tiers;
pub mod webhook;

pub use manage::{ChangePreview, PaymentMethods, SubscriptionView};
pub use state::StoredSubscription;
pub use tiers::Tier;

use crate::stripe::StripeError;

#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error("there is no such plan: {0:?}")]
    UnknownTier(String),
    #[error("the {tier} plan is not sold {cycle}")]
    UnknownCycle { tier: String, cycle: String },
    #[error("the {0} plan is not set up in Stripe yet (run sync-stripe-catalogue)")]
    NotInStripe(String),
    #[error("you already have a plan; change it instead of subscribing again")]
    AlreadySubscribed,
    #[error("you have no active plan")]
    NoSubscription,
    #[error("there is no such subscription for you")]
    UnknownSubscription,
    #[error("this subscription has ended")]
    Ended,
    #[error("this subscription is not set to cancel")]
    NotCanceling,
    #[error("this subscription is already set to cancel at the end of the period")]
    AlreadyCanceling,
    #[error("that is the plan you have")]
    SamePlan,
    #[error("your plan cannot be changed automatically; use Manage billing")]
    NotChangeable,
    #[error("proration_date must be within the last hour")]
    BadProrationDate,
    #[error("the allowance must be between 0 and 100,000,000 credits")]
    InvalidAllowance,
    #[error("stored subscription data is invalid: {0}")]
    Corrupt(String),
    #[error("Stripe sync of tier {tier:?} failed")]
    Sync {
        tier: String,
        #[source]
        source: StripeError,
    },
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Stripe(#[from] StripeError),
    #[error(transparent)]
    Checkout(#[from] crate::checkout::CheckoutError),
    #[error("too many requests; retry in {} s", .0.retry_after_secs())]
    RateLimited(#[from] crate::rate_limit::RateLimited),
}
