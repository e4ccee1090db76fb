//! The rules of subscription tiers: billing cycles, which Stripe statuses
//! count as a live plan, what a paid invoice grants, how a plan change is
//! billed, and a subscription's monthly recurring revenue.

use std::{fmt, str::FromStr};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Cents, Credits};

/// How often a subscription is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BillingCycle {
    Monthly,
    Yearly,
}

impl BillingCycle {
    pub const ALL: [BillingCycle; 2] = [BillingCycle::Monthly, BillingCycle::Yearly];

    pub fn as_str(self) -> &'static str {
        match self {
            BillingCycle::Monthly => "monthly",
            BillingCycle::Yearly => "yearly",
        }
    }

    /// Months one period of this cycle covers.
    pub fn months(self) -> i64 {
        match self {
            BillingCycle::Monthly => 1,
            BillingCycle::Yearly => 12,
        }
    }

    /// Stripe's `recurring.interval` for this cycle.
    pub fn stripe_interval(self) -> &'static str {
        match self {
            BillingCycle::Monthly => "month",
            BillingCycle::Yearly => "year",
        }
    }
}

impl fmt::Display for BillingCycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("billing_cycle must be \"monthly\" or \"yearly\", not {0:?}")]
pub struct UnknownCycle(pub String);

impl FromStr for BillingCycle {
    type Err = UnknownCycle;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "monthly" | "month" => Ok(BillingCycle::Monthly),
            "yearly" | "year" | "annual" => Ok(BillingCycle::Yearly),
            other => Err(UnknownCycle(other.to_owned())),
        }
    }
}

/// A Stripe subscription status (the API's spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown subscription status {0:?}")]
pub struct UnknownSubscriptionStatus(pub String);

impl SubscriptionStatus {
    pub const ALL: [SubscriptionStatus; 8] = [
        SubscriptionStatus::Incomplete,
        SubscriptionStatus::IncompleteExpired,
        SubscriptionStatus::Trialing,
        SubscriptionStatus::Active,
        SubscriptionStatus::PastDue,
        SubscriptionStatus::Canceled,
        SubscriptionStatus::Unpaid,
        SubscriptionStatus::Paused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Incomplete => "incomplete",
            SubscriptionStatus::IncompleteExpired => "incomplete_expired",
            SubscriptionStatus::Trialing => "trialing",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Canceled => "canceled",
            SubscriptionStatus::Unpaid => "unpaid",
            SubscriptionStatus::Paused => "paused",
        }
    }

    /// A plan the user has (and pays for, or owes): a second one may not be
    /// bought, and the tier applies. `incomplete` is not one: since Stripe
    /// API 2025-03-31 Checkout creates the subscription only once paid.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Trialing
                | SubscriptionStatus::Active
                | SubscriptionStatus::PastDue
                | SubscriptionStatus::Unpaid
                | SubscriptionStatus::Paused
        )
    }

    /// A state Stripe never leaves: the subscription is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
        )
    }
}

impl FromStr for SubscriptionStatus {
    type Err = UnknownSubscriptionStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SubscriptionStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownSubscriptionStatus(s.to_owned()))
    }
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why Stripe made an invoice (`billing_reason`), as far as allowances care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceReason {
    /// The first invoice of a new subscription.
    SubscriptionCreate,
    /// A renewal at the start of a period.
    SubscriptionCycle,
    /// A plan change billed at once (prorations).
    SubscriptionUpdate,
    /// Anything else (manual, threshold, upcoming…).
    Other,
}

impl InvoiceReason {
    pub fn parse(billing_reason: Option<&str>) -> Self {
        match billing_reason {
            Some("subscription_create") => InvoiceReason::SubscriptionCreate,
            Some("subscription_cycle") => InvoiceReason::SubscriptionCycle,
            Some("subscription_update") => InvoiceReason::SubscriptionUpdate,
            _ => InvoiceReason::Other,
        }
    }

    /// Whether a paid invoice of this kind starts a period of the plan and so
    /// grants the tier's allowance. A proration invoice does not: it pays for
    /// the rest of a period whose allowance was already granted, and granting
    /// on it would let a user collect allowances by switching plans back and
    /// forth.
    pub fn grants_allowance(self) -> bool {
        matches!(
            self,
            InvoiceReason::SubscriptionCreate | InvoiceReason::SubscriptionCycle
        )
    }
}

/// The credits one paid period grants: the monthly allowance times the
/// months the period covers (a yearly invoice grants twelve months' worth),
/// or `None` when that would overflow.
pub fn period_allowance(monthly: Credits, cycle: BillingCycle) -> Option<Credits> {
    monthly
        .get()
        .checked_mul(cycle.months())
        .map(Credits::signed)
}

/// Monthly recurring revenue of one subscription: a monthly price as it is,
/// a yearly one as a twelfth (exact, in dollars with cents' fractions kept).
pub fn monthly_recurring(amount: Cents, cycle: BillingCycle) -> Decimal {
    amount.to_dollars() / Decimal::from(cycle.months())
}

/// A tier and cycle as a position on the price ladder: higher tiers rank
/// higher; within a tier, yearly ranks above monthly (it bills more now).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PlanRank {
    pub tier_order: i32,
    pub cycle: BillingCycle,
}

/// What a plan change is, which decides how Stripe bills it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanChange {
    /// A higher plan: prorated and invoiced now (`always_invoice`).
    Upgrade,
    /// A lower plan: prorated onto the next invoice (`create_prorations`).
    Downgrade,
    /// The plan the subscription has: nothing to do.
    Same,
}

impl PlanChange {
    pub fn between(from: PlanRank, to: PlanRank) -> Self {
        match to.cmp(&from) {
            std::cmp::Ordering::Greater => PlanChange::Upgrade,
            std::cmp::Ordering::Less => PlanChange::Downgrade,
            std::cmp::Ordering::Equal => PlanChange::Same,
        }
    }

    /// Stripe's `proration_behavior` for the change.
    pub fn proration_behavior(self) -> &'static str {
        match self {
            PlanChange::Upgrade => "always_invoice",
            PlanChange::Downgrade | PlanChange::Same => "create_prorations",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cycles_and_statuses_read_as_stripe_writes_them() {
        assert_eq!("monthly".parse(), Ok(BillingCycle::Monthly));
        assert_eq!("year".parse(), Ok(BillingCycle::Yearly));
        assert!("weekly".parse::<BillingCycle>().is_err());
        for status in SubscriptionStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
        }
        assert!("gone".parse::<SubscriptionStatus>().is_err());
        assert!(SubscriptionStatus::PastDue.is_live());
        assert!(!SubscriptionStatus::Incomplete.is_live());
        assert!(!SubscriptionStatus::Canceled.is_live());
    }

    #[test]
    fn only_period_invoices_grant() {
        assert!(InvoiceReason::parse(Some("subscription_create")).grants_allowance());
        assert!(InvoiceReason::parse(Some("subscription_cycle")).grants_allowance());
        assert!(!InvoiceReason::parse(Some("subscription_update")).grants_allowance());
        assert!(!InvoiceReason::parse(Some("manual")).grants_allowance());
        assert!(!InvoiceReason::parse(None).grants_allowance());
    }

    #[test]
    fn yearly_is_a_twelfth_of_revenue_and_twelve_allowances() {
        let yearly = Cents::new(49_000).unwrap();
        assert_eq!(
            monthly_recurring(yearly, BillingCycle::Yearly).round_dp(2),
            Decimal::new(40_83, 2)
        );
        assert_eq!(
            period_allowance(Credits::signed(6_000), BillingCycle::Yearly),
            Some(Credits::signed(72_000))
        );
    }

    fn rank() -> impl Strategy<Value = PlanRank> {
        (
            0..6i32,
            prop_oneof![Just(BillingCycle::Monthly), Just(BillingCycle::Yearly)],
        )
            .prop_map(|(tier_order, cycle)| PlanRank { tier_order, cycle })
    }

    proptest! {
        /// Changing plans is antisymmetric: from a to b is an upgrade exactly
        /// when b to a is a downgrade, and only a plan itself is the same.
        #[test]
        fn plan_changes_are_antisymmetric(a in rank(), b in rank()) {
            let there = PlanChange::between(a, b);
            let back = PlanChange::between(b, a);
            match there {
                PlanChange::Upgrade => prop_assert_eq!(back, PlanChange::Downgrade),
                PlanChange::Downgrade => prop_assert_eq!(back, PlanChange::Upgrade),
                PlanChange::Same => prop_assert_eq!(a, b),
            }
            if a.tier_order < b.tier_order {
                prop_assert_eq!(there, PlanChange::Upgrade);
            }
        }

        /// A period's allowance is exact: months × monthly, never negative
        /// for a non-negative allowance, and twelve monthly periods grant
        /// what one yearly period does.
        #[test]
        fn allowances_are_exact(monthly in 0i64..=1_000_000_000) {
            let m = Credits::signed(monthly);
            let month = period_allowance(m, BillingCycle::Monthly).unwrap();
            let year = period_allowance(m, BillingCycle::Yearly).unwrap();
            prop_assert_eq!(month.get(), monthly);
            prop_assert_eq!(year.get(), monthly * 12);
            prop_assert!(year.get() >= 0);
        }

        /// A yearly price's revenue times twelve rounds back to the price, to the cent.
        #[test]
        fn mrr_of_yearly_prices_sums_back(cents in 0i64..=99_999_999) {
            let amount = Cents::new(cents).unwrap();
            let mrr = monthly_recurring(amount, BillingCycle::Yearly);
            prop_assert_eq!((mrr * Decimal::from(12)).round_dp(2), amount.to_dollars());
        }
    }
}
