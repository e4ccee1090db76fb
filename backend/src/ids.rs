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
