//! Typed ids: ours (UUIDs) and Stripe's (prefixed strings). No bare id
//! crosses a module boundary, and an id is only made by parsing (or, for our
//! own, from a UUID the database or `Uuid::new_v4` handed out).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

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
uuid_id!(
    /// A row of `credit_grants`: credits granted together, with one kind
    /// and one expiry.
    GrantId
);
uuid_id!(
    /// A row of `credit_holds`: credits reserved for work in progress.
    HoldId
);

/// A Stripe id that is not of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Stripe {kind} id: {id:?}")]
pub struct BadStripeId {
    pub kind: &'static str,
    pub id: String,
}

macro_rules! stripe_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, [$($prefix:literal),+]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The prefixes Stripe gives this kind of object.
            pub const PREFIXES: &'static [&'static str] = &[$($prefix),+];

            /// Accepts `<prefix><letters, digits, _>`, at most 255 bytes:
            /// storable, printable and safe in a URL path.
            pub fn parse(id: impl Into<String>) -> Result<Self, BadStripeId> {
                let id = id.into();
                if is_stripe_id(&id, Self::PREFIXES) {
                    Ok(Self(id))
                } else {
                    Err(BadStripeId { kind: $kind, id })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = BadStripeId;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl FromStr for $name {
            type Err = BadStripeId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn is_stripe_id(id: &str, prefixes: &[&str]) -> bool {
    prefixes
        .iter()
        .any(|prefix| id.len() > prefix.len() && id.starts_with(prefix))
        && id.len() <= 255
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

stripe_id!(
    /// An Event (`evt_…`): what a webhook delivers.
    EventId, "event", ["evt_"]
);
stripe_id!(
    /// A Checkout Session (`cs_…`).
    CheckoutSessionId, "checkout session", ["cs_"]
);
stripe_id!(
    /// A PaymentIntent (`pi_…`).
    PaymentIntentId, "payment intent", ["pi_"]
);
stripe_id!(
    /// A Charge (`ch_…`, or `py_…` for some payment methods).
    ChargeId, "charge", ["ch_", "py_"]
);
stripe_id!(
    /// A Refund (`re_…`, or `pyr_…`).
    RefundId, "refund", ["re_", "pyr_"]
);
stripe_id!(
    /// A Dispute (`dp_…`, or `du_…`).
    DisputeId, "dispute", ["dp_", "du_"]
);
stripe_id!(
    /// A Customer (`cus_…`).
    CustomerId, "customer", ["cus_"]
);
stripe_id!(
    /// A Product (`prod_…`).
    ProductId, "product", ["prod_"]
);
stripe_id!(
    /// A Price (`price_…`).
    PriceId, "price", ["price_"]
);
stripe_id!(
    /// A Subscription (`sub_…`).
    SubscriptionId, "subscription", ["sub_"]
);
stripe_id!(
    /// A Subscription Item (`si_…`): the price line a plan change swaps.
    SubscriptionItemId, "subscription item", ["si_"]
);
stripe_id!(
    /// An Invoice (`in_…`).
    InvoiceId, "invoice", ["in_"]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_ids_need_their_prefix_and_a_body() {
        assert!(CheckoutSessionId::parse("cs_test_a1B2").is_ok());
        assert!(CheckoutSessionId::parse("cs_").is_err());
        assert!(CheckoutSessionId::parse("pi_123").is_err());
        assert!(ChargeId::parse("py_123").is_ok());
        assert!(PriceId::parse("price_1Abc").is_ok());
        assert!(PriceId::parse("prod_1Abc").is_err());
    }

    #[test]
    fn stripe_ids_refuse_what_cannot_be_stored_or_put_in_a_path() {
        for junk in ["pi_a\0b", "pi_a/b", "pi_a b", "pi_é", "pi_a%2f"] {
            assert!(PaymentIntentId::parse(junk).is_err(), "{junk:?}");
        }
        assert!(PaymentIntentId::parse(format!("pi_{}", "a".repeat(252))).is_ok());
        assert!(PaymentIntentId::parse(format!("pi_{}", "a".repeat(253))).is_err());
    }

    #[test]
    fn ids_deserialize_only_through_their_parsers() {
        let ok: Result<RefundId, _> = serde_json::from_str("\"re_1\"");
        assert_eq!(ok.unwrap().as_str(), "re_1");
        let bad: Result<RefundId, _> = serde_json::from_str("\"ch_1\"");
        assert!(bad.is_err());
        let id: PurchaseId =
            serde_json::from_str("\"67e55044-10b1-426f-9247-bb680e5fe0c8\"").unwrap();
        assert_eq!(id.to_string(), "67e55044-10b1-426f-9247-bb680e5fe0c8");
        assert!(serde_json::from_str::<PurchaseId>("\"nope\"").is_err());
    }
}
