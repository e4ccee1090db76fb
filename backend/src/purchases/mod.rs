//! Credit purchases: from the pending record made when a checkout starts to
//! completion, failure, expiry, refunds and disputes.
//!
//! - `settle`: every state change, in one transaction under the row lock,
//!   through a `PurchaseStatus` transition, with its ledger and audit rows
//!   (`fulfil`, `mark_failed`, `record_refund`, disputes, reviews).
//! - `repo`: the SQL of `credit_purchases`, one `FromRow` row type.
//! - `read`: purchases as their owner sees them (history, look-ups).
//!
//! What is left to refund, and which share of the credits a refund moves,
//! is `domain::Purchase`'s to say.

mod read;
pub(crate) mod repo;
mod settle;

use domain::{Cents, PurchaseStatus};

pub use read::{PurchaseRecord, awaits_completion, find_by_id_for_user, find_for_user, history};
pub use settle::{
    Held, HeldPurchase, attach_checkout_session, close_dispute_on, create_pending, fulfil,
    fulfil_on, lock_held, mark_expired, mark_expired_on, mark_failed, mark_failed_on,
    open_dispute_on, record_refund, record_refund_on, reverse_refund_on,
};

use crate::ids::{CheckoutSessionId, PaymentIntentId, PurchaseId, UserId};

#[derive(Debug, thiserror::Error)]
pub enum PurchaseError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("stored purchase {0} has an unknown status")]
    CorruptStatus(PurchaseId, #[source] domain::UnknownStatus),
    #[error("checkout session {0} is already attached to a purchase")]
    SessionTaken(CheckoutSessionId),
    #[error("purchase {0}: {1}")]
    Transition(PurchaseId, #[source] domain::InvalidTransition),
}

/// What Stripe says of a checkout session's payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Paid,
    NoPaymentRequired,
    Unpaid,
}

impl PaymentStatus {
    pub fn grants_credits(self) -> bool {
        matches!(self, PaymentStatus::Paid | PaymentStatus::NoPaymentRequired)
    }
}

/// What Stripe reports a checkout session collected. Nothing is granted
/// unless it matches our purchase (docs/API.md: amount, currency and mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPayment<'a> {
    pub status: PaymentStatus,
    pub payment_intent_id: Option<&'a PaymentIntentId>,
    /// `amount_total`, in the smallest unit of `currency`.
    pub amount_total: Option<Cents>,
    pub currency: Option<&'a str>,
    /// Whether the session was paid in live mode.
    pub livemode: bool,
}

/// Why a paid checkout waits for an admin instead of granting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewReason {
    /// Stripe collected another amount than the purchase's price.
    AmountMismatch {
        expected: Cents,
        paid: Option<Cents>,
    },
    /// Stripe collected another currency than the purchase's.
    CurrencyMismatch {
        expected: String,
        paid: Option<String>,
    },
    /// The session was paid in live mode while our key is a test key, or
    /// the other way round.
    ModeMismatch { expected_live: bool },
    /// The payment arrived after we had marked the purchase expired or failed.
    PaidAfter(PurchaseStatus),
}

impl ReviewReason {
    /// A short machine name, for logs and audit details.
    pub fn code(&self) -> &'static str {
        match self {
            ReviewReason::AmountMismatch { .. } => "amount_mismatch",
            ReviewReason::CurrencyMismatch { .. } => "currency_mismatch",
            ReviewReason::ModeMismatch { .. } => "mode_mismatch",
            ReviewReason::PaidAfter(_) => "paid_after_close",
        }
    }
}

impl std::fmt::Display for ReviewReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReviewReason::AmountMismatch { expected, paid } => match paid {
                Some(paid) => write!(
                    f,
                    "Stripe collected {paid}, but the purchase costs {expected}"
                ),
                None => write!(
                    f,
                    "Stripe did not say what it collected; the purchase costs {expected}"
                ),
            },
            ReviewReason::CurrencyMismatch { expected, paid } => write!(
                f,
                "Stripe collected {}, but the purchase is in {}",
                paid.as_deref()
                    .unwrap_or("an unknown currency")
                    .to_uppercase(),
                expected.to_uppercase()
            ),
            ReviewReason::ModeMismatch { expected_live } => {
                if *expected_live {
                    f.write_str("the session was paid in test mode, but this is the live account")
                } else {
                    f.write_str("the session was paid in live mode, but this is a test account")
                }
            }
            ReviewReason::PaidAfter(status) => {
                write!(
                    f,
                    "the payment arrived after the purchase was marked {status}"
                )
            }
        }
    }
}

/// Holds Stripe's payment against the purchase: `None` when amount,
/// currency and mode all match (the credits may be granted).
pub fn payment_mismatch(
    expected_amount: Cents,
    expected_currency: &str,
    our_livemode: bool,
    payment: &SessionPayment<'_>,
) -> Option<ReviewReason> {
    if payment.livemode != our_livemode {
        return Some(ReviewReason::ModeMismatch {
            expected_live: our_livemode,
        });
    }
    if !payment
        .currency
        .is_some_and(|c| c.eq_ignore_ascii_case(expected_currency))
    {
        return Some(ReviewReason::CurrencyMismatch {
            expected: expected_currency.to_owned(),
            paid: payment.currency.map(str::to_owned),
        });
    }
    if payment.amount_total != Some(expected_amount) {
        return Some(ReviewReason::AmountMismatch {
            expected: expected_amount,
            paid: payment.amount_total,
        });
    }
    None
}

/// The result of trying to settle a purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// This call made the change (and, for completion, granted the credits).
    Applied {
        purchase_id: PurchaseId,
        user_id: UserId,
        status: PurchaseStatus,
    },
    /// Nothing to do: the purchase had already left `pending`.
    AlreadySettled {
        purchase_id: PurchaseId,
        status: PurchaseStatus,
    },
    /// Paid, but nothing granted: the purchase now waits for an admin
    /// (`needs_review`), for `reason`.
    HeldForReview {
        purchase_id: PurchaseId,
        reason: ReviewReason,
    },
    /// The session is not paid (yet): nothing changes.
    NotPaid,
    /// No purchase of ours has this session.
    UnknownSession,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_grants_only_when_amount_currency_and_mode_match() {
        let price = Cents::new(4_500).unwrap();
        let intent: PaymentIntentId = "pi_1".parse().unwrap();
        let paid = SessionPayment {
            status: PaymentStatus::Paid,
            payment_intent_id: Some(&intent),
            amount_total: Some(price),
            currency: Some("usd"),
            livemode: false,
        };
        assert_eq!(payment_mismatch(price, "usd", false, &paid), None);
        assert_eq!(
            payment_mismatch(
                price,
                "usd",
                false,
                &SessionPayment {
                    currency: Some("USD"),
                    ..paid
                }
            ),
            None
        );
        let short = SessionPayment {
            amount_total: Some(Cents::new(4_499).unwrap()),
            ..paid
        };
        assert_eq!(
            payment_mismatch(price, "usd", false, &short),
            Some(ReviewReason::AmountMismatch {
                expected: price,
                paid: Some(Cents::new(4_499).unwrap())
            })
        );
        let unknown = SessionPayment {
            amount_total: None,
            ..paid
        };
        assert!(matches!(
            payment_mismatch(price, "usd", false, &unknown),
            Some(ReviewReason::AmountMismatch { paid: None, .. })
        ));
        let euros = SessionPayment {
            currency: Some("eur"),
            ..paid
        };
        assert_eq!(
            payment_mismatch(price, "usd", false, &euros)
                .unwrap()
                .to_string(),
            "Stripe collected EUR, but the purchase is in USD"
        );
        assert!(
            payment_mismatch(
                price,
                "usd",
                false,
                &SessionPayment {
                    currency: None,
                    ..paid
                }
            )
            .is_some()
        );
        // Live money for a test key, or test money for a live key.
        let live = SessionPayment {
            livemode: true,
            ..paid
        };
        assert_eq!(
            payment_mismatch(price, "usd", false, &live),
            Some(ReviewReason::ModeMismatch {
                expected_live: false
            })
        );
        assert_eq!(
            payment_mismatch(price, "usd", true, &paid),
            Some(ReviewReason::ModeMismatch {
                expected_live: true
            })
        );
        assert_eq!(payment_mismatch(price, "usd", true, &live), None);
    }
}
