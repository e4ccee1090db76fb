//! Typed ids: ours (UUIDs) and Stripe's (prefixed strings). No bare ids
//! cross a module boundary.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A row of `users`: one person, keyed by their Keycloak subject.
    UserId
);
uuid_id!(
    /// A row of `credit_purchases`.
    PurchaseId
);
uuid_id!(
    /// A row of `credit_packages`.
    PackageId
);

/// A Stripe Checkout Session id (`cs_…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CheckoutSessionId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Stripe checkout session id: {0:?}")]
pub struct BadCheckoutSessionId(pub String);

impl CheckoutSessionId {
    pub fn parse(id: impl Into<String>) -> Result<Self, BadCheckoutSessionId> {
        let id = id.into();
        let valid = id.starts_with("cs_")
            && id.len() <= 255
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(CheckoutSessionId(id))
        } else {
            Err(BadCheckoutSessionId(id))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CheckoutSessionId {
    type Error = BadCheckoutSessionId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        CheckoutSessionId::parse(value)
    }
}

impl From<CheckoutSessionId> for String {
    fn from(id: CheckoutSessionId) -> Self {
        id.0
    }
}

impl fmt::Display for CheckoutSessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
