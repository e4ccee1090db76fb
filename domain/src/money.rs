use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An amount of US dollars in integer cents, never negative. Never a float.
/// Deserializes through [`Cents::new`], so a negative amount is refused at
/// the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Cents(i64);

/// A number of credits. Positive for grants, negative for spends and refunds.
/// Deserializes through [`Credits::signed`]: every integer is a ledger
/// amount; the bounds of a package or an adjustment are checked by
/// [`Credits::package`] and [`Credits::adjustment`] where those are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "i64", into = "i64")]
pub struct Credits(i64);

impl TryFrom<i64> for Cents {
    type Error = MoneyError;
    fn try_from(cents: i64) -> Result<Self, Self::Error> {
        Cents::new(cents)
    }
}

impl From<Cents> for i64 {
    fn from(cents: Cents) -> Self {
        cents.0
    }
}

impl From<i64> for Credits {
    fn from(credits: i64) -> Self {
        Credits::signed(credits)
    }
}

impl From<Credits> for i64 {
    fn from(credits: Credits) -> Self {
        credits.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must not be negative")]
    Negative,
    #[error("amount has more than two decimal places")]
    FractionOfCent,
    #[error("amount is too large")]
    Overflow,
    #[error("amount must not be zero")]
    Zero,
    #[error("amount must be at most {max}")]
    AboveLimit { max: i64 },
}

impl Cents {
    pub const ZERO: Cents = Cents(0);
    /// The highest price a package may have: Stripe's largest USD amount
    /// ($999,999.99).
    pub const MAX_PRICE: i64 = 99_999_999;

    /// A package price: more than zero, at most [`Cents::MAX_PRICE`].
    pub fn price(cents: i64) -> Result<Self, MoneyError> {
        match cents {
            ..0 => Err(MoneyError::Negative),
            0 => Err(MoneyError::Zero),
            1..=Self::MAX_PRICE => Ok(Cents(cents)),
            _ => Err(MoneyError::AboveLimit {
                max: Self::MAX_PRICE,
            }),
        }
    }

    /// A non-negative amount of cents.
    pub fn new(cents: i64) -> Result<Self, MoneyError> {
        if cents < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Cents(cents))
    }

    /// Dollars as an exact decimal (`45.00`), refusing fractions of a cent.
    pub fn from_dollars(dollars: Decimal) -> Result<Self, MoneyError> {
        if dollars.is_sign_negative() && !dollars.is_zero() {
            return Err(MoneyError::Negative);
        }
        let cents = dollars
            .checked_mul(Decimal::ONE_HUNDRED)
            .ok_or(MoneyError::Overflow)?;
        if !cents.fract().is_zero() {
            return Err(MoneyError::FractionOfCent);
        }
        i64::try_from(cents)
            .map(Cents)
            .map_err(|_| MoneyError::Overflow)
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// The same amount in dollars, exact to the cent.
    pub fn to_dollars(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    /// Price of 1,000 credits at this price for `credits`, rounded half up to the cent.
    pub fn per_thousand(self, credits: Credits) -> Option<Cents> {
        if credits.0 <= 0 {
            return None;
        }
        let scaled = i128::from(self.0) * 1000;
        let credits = i128::from(credits.0);
        let rounded = (scaled + credits / 2) / credits;
        i64::try_from(rounded).ok().map(Cents)
    }
}

/// `$1,234.50`
impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dollars = self.0 / 100;
        let cents = self.0 % 100;
        write!(f, "${}.{cents:02}", group_thousands(dollars.unsigned_abs()))
    }
}

impl Credits {
    pub const ZERO: Credits = Credits(0);

    /// The part of these credits that `paid_share` cents of an
    /// `amount_paid`-cent payment bought, rounded down; within
    /// `0..=self` for any share of the payment. A refund of a purchase
    /// takes back `share(refunded after) - share(refunded before)`: the
    /// take-backs of refunds that add up to the whole payment add up to the
    /// whole grant, and never to more.
    pub fn share(self, paid_share: i64, amount_paid: i64) -> i64 {
        if amount_paid <= 0 || self.0 <= 0 {
            return 0;
        }
        let paid_share = paid_share.clamp(0, amount_paid);
        let share = i128::from(self.0) * i128::from(paid_share) / i128::from(amount_paid);
        // share <= self.0 because paid_share <= amount_paid.
        i64::try_from(share).unwrap_or(self.0)
    }
    /// The most credits one package may grant.
    pub const MAX_PACKAGE: i64 = 100_000_000;
    /// The largest manual adjustment, either way.
    pub const MAX_ADJUSTMENT: i64 = 10_000_000;
    /// The highest balance an adjustment may leave: far below `i64::MAX`,
    /// so later grants can never overflow the balance.
    pub const MAX_BALANCE: i64 = 1_000_000_000_000;

    /// What one package grants: 1 to [`Credits::MAX_PACKAGE`].
    pub fn package(credits: i64) -> Result<Self, MoneyError> {
        let credits = Self::positive(credits)?;
        if credits.0 > Self::MAX_PACKAGE {
            return Err(MoneyError::AboveLimit {
                max: Self::MAX_PACKAGE,
            });
        }
        Ok(credits)
    }

    /// A manual adjustment: not zero, at most [`Credits::MAX_ADJUSTMENT`]
    /// either way.
    pub fn adjustment(credits: i64) -> Result<Self, MoneyError> {
        if credits == 0 {
            return Err(MoneyError::Zero);
        }
        if credits.unsigned_abs() > Self::MAX_ADJUSTMENT.unsigned_abs() {
            return Err(MoneyError::AboveLimit {
                max: Self::MAX_ADJUSTMENT,
            });
        }
        Ok(Credits(credits))
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Credits) -> Option<Credits> {
        self.0.checked_add(other.0).map(Credits)
    }

    /// A strictly positive number of credits, as a package grants.
    pub fn positive(credits: i64) -> Result<Self, MoneyError> {
        if credits <= 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Credits(credits))
    }

    /// Any signed amount, as a ledger entry holds.
    pub fn signed(credits: i64) -> Self {
        Credits(credits)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// `50,000`
impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "-")?;
        }
        write!(f, "{}", group_thousands(self.0.unsigned_abs()))
    }
}

fn group_thousands(n: impl Into<u128>) -> String {
    let digits = n.into().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn money_deserializes_through_its_constructors() {
        assert_eq!(serde_json::from_str::<Cents>("4500").unwrap(), Cents(4500));
        assert!(serde_json::from_str::<Cents>("-1").is_err());
        assert!(serde_json::from_str::<Cents>("1.5").is_err());
        assert!(serde_json::from_str::<Cents>("\"4500\"").is_err());
        assert_eq!(
            serde_json::from_str::<Credits>("-20").unwrap(),
            Credits(-20)
        );
        assert_eq!(serde_json::to_string(&Cents(4500)).unwrap(), "4500");
        assert_eq!(serde_json::to_string(&Credits(-20)).unwrap(), "-20");
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn dollars_convert_exactly() {
        assert_eq!(Cents::from_dollars(dec("45.00")), Ok(Cents(4500)));
        assert_eq!(Cents::from_dollars(dec("0.1")), Ok(Cents(10)));
        assert_eq!(
            Cents::from_dollars(dec("10.005")),
            Err(MoneyError::FractionOfCent)
        );
        assert_eq!(Cents::from_dollars(dec("-1")), Err(MoneyError::Negative));
        assert_eq!(Cents(35000).to_dollars(), dec("350.00"));
    }

    #[test]
    fn round_trip_through_dollars_is_identity() {
        for cents in [0, 1, 99, 100, 4500, 123_456_789] {
            assert_eq!(
                Cents::from_dollars(Cents(cents).to_dollars()),
                Ok(Cents(cents))
            );
        }
    }

    #[test]
    fn display_groups_thousands() {
        assert_eq!(Cents(123_450).to_string(), "$1,234.50");
        assert_eq!(Cents(5).to_string(), "$0.05");
        assert_eq!(Credits(50_000).to_string(), "50,000");
        assert_eq!(Credits(-1_000).to_string(), "-1,000");
        assert_eq!(Credits(999).to_string(), "999");
    }

    #[test]
    fn per_thousand_rounds_half_up() {
        assert_eq!(Cents(1000).per_thousand(Credits(1000)), Some(Cents(1000)));
        assert_eq!(Cents(4500).per_thousand(Credits(5000)), Some(Cents(900)));
        assert_eq!(Cents(35000).per_thousand(Credits(50_000)), Some(Cents(700)));
        assert_eq!(Cents(100).per_thousand(Credits(3000)), Some(Cents(33)));
        assert_eq!(Cents(100).per_thousand(Credits(0)), None);
    }

    #[test]
    fn capped_constructors_accept_exactly_their_range() {
        for (value, expected) in [
            (i64::MIN, Err(MoneyError::Negative)),
            (-1, Err(MoneyError::Negative)),
            (0, Err(MoneyError::Zero)),
            (1, Ok(Cents(1))),
            (Cents::MAX_PRICE, Ok(Cents(Cents::MAX_PRICE))),
            (
                Cents::MAX_PRICE + 1,
                Err(MoneyError::AboveLimit {
                    max: Cents::MAX_PRICE,
                }),
            ),
            (
                i64::MAX,
                Err(MoneyError::AboveLimit {
                    max: Cents::MAX_PRICE,
                }),
            ),
        ] {
            assert_eq!(Cents::price(value), expected, "price {value}");
        }
        let too_many = Err(MoneyError::AboveLimit {
            max: Credits::MAX_PACKAGE,
        });
        assert_eq!(Credits::package(0), Err(MoneyError::Negative));
        assert_eq!(Credits::package(1), Ok(Credits(1)));
        assert_eq!(
            Credits::package(Credits::MAX_PACKAGE),
            Ok(Credits(Credits::MAX_PACKAGE))
        );
        assert_eq!(Credits::package(Credits::MAX_PACKAGE + 1), too_many);
        assert_eq!(Credits::package(i64::MAX), too_many);

        let too_large = Err(MoneyError::AboveLimit {
            max: Credits::MAX_ADJUSTMENT,
        });
        assert_eq!(Credits::adjustment(0), Err(MoneyError::Zero));
        for ok in [-Credits::MAX_ADJUSTMENT, -1, 1, Credits::MAX_ADJUSTMENT] {
            assert_eq!(Credits::adjustment(ok), Ok(Credits(ok)));
        }
        for bad in [
            i64::MIN,
            -Credits::MAX_ADJUSTMENT - 1,
            Credits::MAX_ADJUSTMENT + 1,
            i64::MAX,
        ] {
            assert_eq!(Credits::adjustment(bad), too_large, "{bad}");
        }
    }

    #[test]
    fn every_value_in_range_is_accepted_and_every_other_refused() {
        // A sweep around each boundary and across the whole i64 range.
        let mut values: Vec<i64> = vec![i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX];
        for edge in [
            0,
            Cents::MAX_PRICE,
            Credits::MAX_PACKAGE,
            Credits::MAX_ADJUSTMENT,
            -Credits::MAX_ADJUSTMENT,
        ] {
            values.extend((-3..=3).map(|d| edge + d));
        }
        values.extend((0..64).map(|bit| 1_i64 << bit));
        values.extend((0..63).map(|bit| -(1_i64 << bit)));
        for v in values {
            assert_eq!(
                Cents::price(v).is_ok(),
                (1..=Cents::MAX_PRICE).contains(&v),
                "price {v}"
            );
            assert_eq!(
                Credits::package(v).is_ok(),
                (1..=Credits::MAX_PACKAGE).contains(&v),
                "package {v}"
            );
            assert_eq!(
                Credits::adjustment(v).is_ok(),
                v != 0 && (-Credits::MAX_ADJUSTMENT..=Credits::MAX_ADJUSTMENT).contains(&v),
                "adjustment {v}"
            );
        }
        assert_eq!(Credits(i64::MAX).checked_add(Credits(1)), None);
        assert_eq!(Credits(i64::MIN).checked_add(Credits(-1)), None);
        assert_eq!(Credits(5).checked_add(Credits(-7)), Some(Credits(-2)));
    }

    #[test]
    fn constructors_refuse_out_of_range() {
        assert_eq!(Cents::new(-1), Err(MoneyError::Negative));
        assert_eq!(Credits::positive(0), Err(MoneyError::Negative));
        assert_eq!(Credits::positive(1000).map(Credits::get), Ok(1000));
    }
}

#[cfg(test)]
mod share_properties {
    use proptest::prelude::*;

    use super::Credits;

    proptest! {
        #[test]
        fn a_share_is_never_more_than_the_grant_and_grows_with_the_refund(
            credits in 0i64..=Credits::MAX_PACKAGE,
            paid in 1i64..=100_000_000,
            a in 0i64..=100_000_000,
            b in 0i64..=100_000_000,
        ) {
            let credits = Credits::signed(credits);
            let (low, high) = (a.min(b).min(paid), a.max(b).min(paid));
            let (s_low, s_high) = (credits.share(low, paid), credits.share(high, paid));
            prop_assert!((0..=credits.get()).contains(&s_low));
            prop_assert!(s_low <= s_high && s_high <= credits.get());
            prop_assert_eq!(credits.share(paid, paid), credits.get());
            prop_assert_eq!(credits.share(0, paid), 0);
        }

        #[test]
        fn refunds_that_add_up_to_the_payment_take_back_exactly_the_grant(
            credits in 0i64..=Credits::MAX_PACKAGE,
            paid in 1i64..=10_000_000,
            cuts in proptest::collection::vec(0.0f64..1.0, 0..12),
        ) {
            let credits = Credits::signed(credits);
            // Cumulative refunded totals, as Stripe reports them, ending at all of it.
            let mut totals: Vec<i64> = cuts.iter().map(|c| (c * paid as f64) as i64).collect();
            totals.push(0);
            totals.push(paid);
            totals.sort_unstable();
            let mut taken = 0;
            for step in totals.windows(2) {
                let take_back = credits.share(step[1], paid) - credits.share(step[0], paid);
                prop_assert!(take_back >= 0);
                taken += take_back;
                prop_assert!(taken <= credits.get());
            }
            prop_assert_eq!(taken, credits.get());
        }
    }
}
