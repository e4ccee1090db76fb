//! The test cards: which number succeeds, is declined, asks for a confirmation step, or settles
//! later (the table in the README), and what the pay page collects about a card.

/// What the hosted page collected.
#[derive(Clone, Debug, Default)]
pub struct CardInput {
    pub email: String,
    pub name: String,
    pub number: String,
    pub exp_month: i64,
    pub exp_year: i64,
}

/// How a test card behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardBehavior {
    Succeeds,
    Declined,
    InsufficientFunds,
    RequiresAuthentication,
    /// Checkout completes with `payment_status=unpaid`; the payment settles later.
    AsyncSucceeds,
    AsyncFails,
    /// Attaches to a customer, but every charge on it is declined (`4000 0000 0000 0341`).
    ChargeFails,
}

pub const CARD_SUCCEEDS: &str = "4242424242424242";
pub const CARD_DECLINED: &str = "4000000000000002";
pub const CARD_INSUFFICIENT_FUNDS: &str = "4000000000009995";
pub const CARD_REQUIRES_AUTH: &str = "4000002500003155";
pub const CARD_ASYNC_SUCCEEDS: &str = "4000000000000077";
pub const CARD_ASYNC_FAILS: &str = "4000000000000085";
pub const CARD_CHARGE_FAILS: &str = "4000000000000341";

pub fn card_behavior(number: &str) -> Result<CardBehavior, &'static str> {
    match number {
        CARD_DECLINED => Ok(CardBehavior::Declined),
        CARD_INSUFFICIENT_FUNDS => Ok(CardBehavior::InsufficientFunds),
        CARD_REQUIRES_AUTH => Ok(CardBehavior::RequiresAuthentication),
        CARD_ASYNC_SUCCEEDS => Ok(CardBehavior::AsyncSucceeds),
        CARD_ASYNC_FAILS => Ok(CardBehavior::AsyncFails),
        CARD_CHARGE_FAILS => Ok(CardBehavior::ChargeFails),
        n if n.len() >= 12 && n.len() <= 19 && n.bytes().all(|b| b.is_ascii_digit()) && luhn(n) => {
            Ok(CardBehavior::Succeeds)
        }
        _ => Err("Your card number is invalid."),
    }
}

fn luhn(number: &str) -> bool {
    let sum: u32 = number
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

pub(crate) fn brand(number: &str) -> &'static str {
    match number.as_bytes().first() {
        Some(b'4') => "visa",
        Some(b'5') | Some(b'2') => "mastercard",
        Some(b'3') => "amex",
        _ => "unknown",
    }
}

pub(crate) fn decline_reason(behavior: CardBehavior) -> (&'static str, &'static str) {
    match behavior {
        CardBehavior::InsufficientFunds => {
            ("insufficient_funds", "Your card has insufficient funds.")
        }
        _ => ("generic_decline", "Your card was declined."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cards_pass_luhn_or_are_special() {
        for n in [
            CARD_SUCCEEDS,
            CARD_DECLINED,
            CARD_INSUFFICIENT_FUNDS,
            CARD_REQUIRES_AUTH,
            CARD_CHARGE_FAILS,
            "5555555555554444",
        ] {
            assert!(luhn(n), "{n}");
        }
        assert_eq!(card_behavior(CARD_SUCCEEDS), Ok(CardBehavior::Succeeds));
        assert_eq!(
            card_behavior("4242424242424241"),
            Err("Your card number is invalid.")
        );
    }
}
