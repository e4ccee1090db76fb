use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An amount of US dollars in integer cents. Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cents(i64);

/// A number of credits. Positive for grants, negative for spends and refunds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Credits(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must not be negative")]
    Negative,
    #[error("amount has more than two decimal places")]
    FractionOfCent,
    #[error("amount is too large")]
    Overflow,
}

impl Cents {
    pub const ZERO: Cents = Cents(0);

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
    fn constructors_refuse_out_of_range() {
        assert_eq!(Cents::new(-1), Err(MoneyError::Negative));
        assert_eq!(Credits::positive(0), Err(MoneyError::Negative));
        assert_eq!(Credits::positive(1000).map(Credits::get), Ok(1000));
    }
}
