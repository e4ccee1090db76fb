//! The wallet's rules: grant kinds, the debit order, and the inputs of the
//! spend API, parsed once at the edge.
//!
//! The database applies the debit order (`credit_ledger_fund`, in the same
//! transaction as the ledger row); [`debit_order`] and [`Wallet`] state the
//! same rules in plain Rust, so that property tests can hold the database
//! to them.

use std::{cmp::Ordering, fmt};

use serde::{Deserialize, Serialize};

/// Where a grant's credits came from. Closed; stored as checked text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    /// Bought: a purchase (or credits a won dispute restored).
    Paid,
    /// A paid subscription invoice's allowance.
    Allowance,
    /// Given by an admin, with a reason.
    Promotional,
    /// An admin's correction.
    Adjustment,
}

impl GrantKind {
    pub const ALL: [GrantKind; 4] = [
        GrantKind::Paid,
        GrantKind::Allowance,
        GrantKind::Promotional,
        GrantKind::Adjustment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantKind::Paid => "paid",
            GrantKind::Allowance => "allowance",
            GrantKind::Promotional => "promotional",
            GrantKind::Adjustment => "adjustment",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        GrantKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Granted credits (anything not paid for) go first at the same expiry.
    pub fn is_paid(self) -> bool {
        self == GrantKind::Paid
    }

    /// For people: "Paid", "Plan allowance", …
    pub fn label(self) -> &'static str {
        match self {
            GrantKind::Paid => "Paid",
            GrantKind::Allowance => "Plan allowance",
            GrantKind::Promotional => "Promotional",
            GrantKind::Adjustment => "Adjustment",
        }
    }
}

impl fmt::Display for GrantKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the debit order needs to know of a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantOrder {
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<i64>,
    pub kind: GrantKind,
    /// Creation order (the older first among equals).
    pub sequence: u64,
}

/// The debit order: the soonest-expiring grant first (never-expiring
/// last), granted kinds before paid at the same expiry, then the older.
pub fn debit_order(a: &GrantOrder, b: &GrantOrder) -> Ordering {
    let expiry = |g: &GrantOrder| (g.expires_at.is_none(), g.expires_at.unwrap_or(0));
    expiry(a)
        .cmp(&expiry(b))
        .then(a.kind.is_paid().cmp(&b.kind.is_paid()))
        .then(a.sequence.cmp(&b.sequence))
}

/// A plain-Rust wallet under the same rules as the database: the model the
/// property tests compare the database with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wallet {
    pub grants: Vec<ModelGrant>,
    /// Credits taken back beyond the grants (a refund of spent credits).
    pub debt: i64,
    /// Open holds' amounts.
    pub holds: Vec<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelGrant {
    pub order: GrantOrder,
    pub amount: i64,
    pub remaining: i64,
    pub expired: bool,
}

impl Wallet {
    /// The ledger balance: what the grants hold, less debt.
    pub fn balance(&self) -> i64 {
        self.grants.iter().map(|g| g.remaining).sum::<i64>() - self.debt
    }

    /// What can be spent at `now`: unexpired grants, less holds and debt.
    pub fn available(&self, now: i64) -> i64 {
        let live: i64 = self
            .grants
            .iter()
            .filter(|g| g.order.expires_at.is_none_or(|at| at > now))
            .map(|g| g.remaining)
            .sum();
        live - self.holds.iter().sum::<i64>() - self.debt
    }

    /// A new grant, which first repays debt. Answers the index of the grant.
    pub fn grant(&mut self, order: GrantOrder, amount: i64) -> usize {
        let repaid = amount.min(self.debt);
        self.debt -= repaid;
        self.grants.push(ModelGrant {
            order,
            amount,
            remaining: amount - repaid,
            expired: false,
        });
        self.grants.len() - 1
    }

    /// A spend of `amount` at `now`: refused (`None`) beyond what is
    /// available; else the (grant index, amount) pairs that fund it, in
    /// debit order.
    pub fn spend(&mut self, amount: i64, now: i64) -> Option<Vec<(usize, i64)>> {
        if amount <= 0 || amount > self.available(now) {
            return None;
        }
        Some(self.take(amount, None, |g| {
            g.order.expires_at.is_none_or(|at| at > now)
        }))
    }

    /// A take-back of `amount` (a refund): the grant `first` before the
    /// others, in debit order; what no grant holds becomes debt.
    pub fn take_back(&mut self, amount: i64, first: Option<usize>) -> Vec<(usize, i64)> {
        let funded = self.take(amount, first, |_| true);
        let covered: i64 = funded.iter().map(|(_, a)| a).sum();
        self.debt += amount - covered;
        funded
    }

    /// Expires every grant past `now`: answers (grant, remainder taken).
    pub fn expire(&mut self, now: i64) -> Vec<(usize, i64)> {
        let mut taken = Vec::new();
        for (index, grant) in self.grants.iter_mut().enumerate() {
            if !grant.expired && grant.order.expires_at.is_some_and(|at| at <= now) {
                grant.expired = true;
                if grant.remaining > 0 {
                    taken.push((index, grant.remaining));
                    grant.remaining = 0;
                }
            }
        }
        taken
    }

    fn take(
        &mut self,
        amount: i64,
        first: Option<usize>,
        usable: impl Fn(&ModelGrant) -> bool,
    ) -> Vec<(usize, i64)> {
        let mut order: Vec<usize> = (0..self.grants.len())
            .filter(|&i| self.grants[i].remaining > 0 && usable(&self.grants[i]))
            .collect();
        order.sort_by(|&a, &b| {
            (Some(b) == first)
                .cmp(&(Some(a) == first))
                .then_with(|| debit_order(&self.grants[a].order, &self.grants[b].order))
        });
        let mut need = amount;
        let mut funded = Vec::new();
        for index in order {
            if need == 0 {
                break;
            }
            let grant = &mut self.grants[index];
            let take = need.min(grant.remaining);
            grant.remaining -= take;
            need -= take;
            funded.push((index, take));
        }
        funded
    }
}

/// Why a wallet input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletInputError {
    #[error("amount must be a whole number of credits from 1 to {max}")]
    Amount { max: i64 },
    #[error("the Idempotency-Key header must be 1 to 255 visible ASCII characters")]
    IdempotencyKey,
    #[error("ttl_seconds must be from 1 to {max}")]
    Ttl { max: i64 },
    #[error("description must be at most {max} characters")]
    Description { max: usize },
}

/// Credits one spend, hold or capture moves: 1 to [`SpendAmount::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpendAmount(i64);

impl SpendAmount {
    pub const MAX: i64 = 1_000_000_000;

    pub fn parse(credits: i64) -> Result<Self, WalletInputError> {
        if (1..=Self::MAX).contains(&credits) {
            Ok(SpendAmount(credits))
        } else {
            Err(WalletInputError::Amount { max: Self::MAX })
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters (Stripe's
/// limit), unique per calling service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(key: &str) -> Result<Self, WalletInputError> {
        if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(IdempotencyKey(key.to_owned()))
        } else {
            Err(WalletInputError::IdempotencyKey)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How long a hold lasts before it releases itself: 1 s to 7 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldTtl(i32);

impl HoldTtl {
    pub const MAX_SECONDS: i64 = 7 * 24 * 3600;
    pub const DEFAULT_SECONDS: i32 = 15 * 60;

    pub fn parse(seconds: i64) -> Result<Self, WalletInputError> {
        if (1..=Self::MAX_SECONDS).contains(&seconds) {
            Ok(HoldTtl(seconds as i32))
        } else {
            Err(WalletInputError::Ttl {
                max: Self::MAX_SECONDS,
            })
        }
    }

    pub fn seconds(self) -> i32 {
        self.0
    }
}

impl Default for HoldTtl {
    fn default() -> Self {
        HoldTtl(Self::DEFAULT_SECONDS)
    }
}

/// A debit's description for people: at most 500 characters.
pub fn description(text: &str) -> Result<String, WalletInputError> {
    const MAX: usize = 500;
    let text = text.trim();
    if text.chars().count() > MAX {
        return Err(WalletInputError::Description { max: MAX });
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn order(expires_at: Option<i64>, kind: GrantKind, sequence: u64) -> GrantOrder {
        GrantOrder {
            expires_at,
            kind,
            sequence,
        }
    }

    #[test]
    fn soonest_expiry_first_then_granted_before_paid_then_older() {
        let mut grants = [
            order(None, GrantKind::Promotional, 0),
            order(Some(20), GrantKind::Paid, 1),
            order(Some(20), GrantKind::Allowance, 2),
            order(Some(10), GrantKind::Paid, 3),
            order(None, GrantKind::Paid, 4),
            order(None, GrantKind::Adjustment, 5),
        ];
        grants.sort_by(debit_order);
        let sequences: Vec<u64> = grants.iter().map(|g| g.sequence).collect();
        assert_eq!(sequences, [3, 2, 1, 0, 5, 4]);
    }

    #[test]
    fn a_refund_takes_its_own_grant_first_then_leaves_debt_that_the_next_grant_repays() {
        let mut wallet = Wallet::default();
        let promo = wallet.grant(order(Some(100), GrantKind::Promotional, 0), 50);
        let bought = wallet.grant(order(None, GrantKind::Paid, 1), 100);
        assert_eq!(wallet.spend(120, 0), Some(vec![(promo, 50), (bought, 70)]));
        assert_eq!(wallet.take_back(100, Some(bought)), vec![(bought, 30)]);
        assert_eq!((wallet.balance(), wallet.debt), (-70, 70));
        assert_eq!(wallet.spend(1, 0), None);
        wallet.grant(order(None, GrantKind::Paid, 2), 100);
        assert_eq!(
            (wallet.balance(), wallet.debt, wallet.available(0)),
            (30, 0, 30)
        );
    }

    #[test]
    fn inputs_are_parsed_at_the_edge() {
        assert!(SpendAmount::parse(0).is_err());
        assert!(SpendAmount::parse(SpendAmount::MAX + 1).is_err());
        assert_eq!(SpendAmount::parse(5).unwrap().get(), 5);
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("req_01J9-abc").is_ok());
        assert!(HoldTtl::parse(0).is_err());
        assert_eq!(HoldTtl::parse(60).unwrap().seconds(), 60);
        assert!(description(&"x".repeat(501)).is_err());
    }

    #[derive(Debug, Clone)]
    enum Step {
        Grant {
            amount: i64,
            expires_in: Option<i64>,
            kind: GrantKind,
        },
        Spend(i64),
        Refund {
            amount: i64,
            grant: usize,
        },
        Hold(i64),
        Release,
        Wait(i64),
    }

    fn step() -> impl Strategy<Value = Step> {
        let kind = prop::sample::select(GrantKind::ALL.to_vec());
        prop_oneof![
            (1..500i64, prop::option::of(1..50i64), kind).prop_map(|(amount, expires_in, kind)| {
                Step::Grant {
                    amount,
                    expires_in,
                    kind,
                }
            }),
            (1..400i64).prop_map(Step::Spend),
            (1..300i64, 0..8usize).prop_map(|(amount, grant)| Step::Refund { amount, grant }),
            (1..200i64).prop_map(Step::Hold),
            Just(Step::Release),
            (1..30i64).prop_map(Step::Wait),
        ]
    }

    proptest! {
        /// Whatever happens, the balance is the grants less debt, no grant
        /// goes below zero or above its amount, debt exists only when every
        /// grant is empty, a spend never exceeds what is available, and
        /// each debit is funded in debit order.
        #[test]
        fn the_wallet_rules_hold_after_every_step(steps in prop::collection::vec(step(), 1..60)) {
            let mut wallet = Wallet::default();
            let mut now = 0;
            let mut ledger = 0i64;
            for step in steps {
                match step {
                    Step::Grant { amount, expires_in, kind } => {
                        let sequence = wallet.grants.len() as u64;
                        wallet.grant(order(expires_in.map(|e| now + e), kind, sequence), amount);
                        ledger += amount;
                    }
                    Step::Spend(amount) => {
                        let available = wallet.available(now);
                        match wallet.spend(amount, now) {
                            Some(funded) => {
                                prop_assert!(amount <= available);
                                prop_assert_eq!(funded.iter().map(|(_, a)| a).sum::<i64>(), amount);
                                for pair in funded.windows(2) {
                                    let (a, b) = (&wallet.grants[pair[0].0], &wallet.grants[pair[1].0]);
                                    prop_assert_ne!(debit_order(&a.order, &b.order), Ordering::Greater);
                                }
                                ledger -= amount;
                            }
                            None => prop_assert!(amount > available),
                        }
                    }
                    Step::Refund { amount, grant } => {
                        let first = (grant < wallet.grants.len()).then_some(grant);
                        wallet.take_back(amount, first);
                        ledger -= amount;
                    }
                    Step::Hold(amount) => {
                        if amount <= wallet.available(now) {
                            wallet.holds.push(amount);
                        }
                    }
                    Step::Release => {
                        wallet.holds.pop();
                    }
                    Step::Wait(seconds) => {
                        now += seconds;
                        let taken: i64 = wallet.expire(now).iter().map(|(_, a)| a).sum();
                        ledger -= taken;
                    }
                }
                prop_assert_eq!(wallet.balance(), ledger);
                prop_assert!(wallet.grants.iter().all(|g| (0..=g.amount).contains(&g.remaining)));
                prop_assert!(wallet.debt >= 0);
                prop_assert!(wallet.debt == 0 || wallet.grants.iter().all(|g| g.remaining == 0));
                prop_assert!(wallet.balance() >= 0 || wallet.debt > 0);
            }
        }
    }
}
