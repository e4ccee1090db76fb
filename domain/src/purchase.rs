use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{Cents, Credits};

/// Where a credit purchase stands. Stored as text with a CHECK constraint of
/// exactly these values (see migrations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseStatus {
    Pending,
    Completed,
    Failed,
    Expired,
    Refunded,
    PartiallyRefunded,
    /// Paid, but not granted: the payment did not match the purchase, or it
    /// came after the purchase had expired or failed. An admin grants it
    /// ([`PurchaseStatus::grant_after_review`]) or refunds it
    /// ([`PurchaseStatus::refund_after_review`]).
    NeedsReview,
    /// The buyer disputed the charge with their bank: the credits still held
    /// from it are taken back until the dispute is decided.
    Disputed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {from} purchase cannot become {to}")]
pub struct InvalidTransition {
    pub from: PurchaseStatus,
    pub to: PurchaseStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown purchase status {0:?}")]
pub struct UnknownStatus(pub String);

impl PurchaseStatus {
    pub const ALL: [PurchaseStatus; 8] = [
        PurchaseStatus::Pending,
        PurchaseStatus::Completed,
        PurchaseStatus::Failed,
        PurchaseStatus::Expired,
        PurchaseStatus::Refunded,
        PurchaseStatus::PartiallyRefunded,
        PurchaseStatus::NeedsReview,
        PurchaseStatus::Disputed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PurchaseStatus::Pending => "pending",
            PurchaseStatus::Completed => "completed",
            PurchaseStatus::Failed => "failed",
            PurchaseStatus::Expired => "expired",
            PurchaseStatus::Refunded => "refunded",
            PurchaseStatus::PartiallyRefunded => "partially_refunded",
            PurchaseStatus::NeedsReview => "needs_review",
            PurchaseStatus::Disputed => "disputed",
        }
    }

    /// Payment arrived: only a pending purchase completes.
    pub fn complete(self) -> Result<Self, InvalidTransition> {
        self.to(
            PurchaseStatus::Completed,
            matches!(self, PurchaseStatus::Pending),
        )
    }

    /// Payment failed for good: only a pending purchase fails.
    pub fn fail(self) -> Result<Self, InvalidTransition> {
        self.to(
            PurchaseStatus::Failed,
            matches!(self, PurchaseStatus::Pending),
        )
    }

    /// The checkout session expired unpaid: only a pending purchase expires.
    pub fn expire(self) -> Result<Self, InvalidTransition> {
        self.to(
            PurchaseStatus::Expired,
            matches!(self, PurchaseStatus::Pending),
        )
    }

    /// A payment arrived that cannot be granted as is (it does not match the
    /// purchase, or the purchase had already expired or failed): it waits
    /// for an admin. A completed or refunded purchase never goes back.
    pub fn hold_for_review(self) -> Result<Self, InvalidTransition> {
        self.to(
            PurchaseStatus::NeedsReview,
            matches!(
                self,
                PurchaseStatus::Pending | PurchaseStatus::Expired | PurchaseStatus::Failed
            ),
        )
    }

    /// An admin accepted a payment held for review: the purchase completes
    /// (and grants its credits). Only a held purchase can be granted this way.
    pub fn grant_after_review(self) -> Result<Self, InvalidTransition> {
        self.to(
            PurchaseStatus::Completed,
            matches!(self, PurchaseStatus::NeedsReview),
        )
    }

    /// The whole payment of a purchase held for review went back (no credits
    /// were granted, so none are taken back).
    pub fn refund_after_review(self) -> Result<Self, InvalidTransition> {
        self.to(
            PurchaseStatus::Refunded,
            matches!(self, PurchaseStatus::NeedsReview),
        )
    }

    /// Whether the buyer paid (the purchase completed), whatever was
    /// refunded since: these are the purchases revenue figures count.
    pub fn was_paid(self) -> bool {
        matches!(
            self,
            PurchaseStatus::Completed
                | PurchaseStatus::Refunded
                | PurchaseStatus::PartiallyRefunded
                | PurchaseStatus::Disputed
        )
    }

    /// The statuses of purchases that were paid, for `status = any($1)` in SQL.
    pub fn paid_statuses() -> Vec<&'static str> {
        PurchaseStatus::ALL
            .into_iter()
            .filter(|s| s.was_paid())
            .map(PurchaseStatus::as_str)
            .collect()
    }

    /// Money went back. `fully` says whether the whole amount is now refunded.
    pub fn refund(self, fully: bool) -> Result<Self, InvalidTransition> {
        let to = if fully {
            PurchaseStatus::Refunded
        } else {
            PurchaseStatus::PartiallyRefunded
        };
        let allowed = matches!(
            self,
            PurchaseStatus::Completed | PurchaseStatus::PartiallyRefunded
        );
        self.to(to, allowed)
    }

    /// A refund failed and its money is back with us. `still_refunded` says
    /// whether other refunds remain on the purchase.
    pub fn reverse_refund(self, still_refunded: bool) -> Result<Self, InvalidTransition> {
        let to = if still_refunded {
            PurchaseStatus::PartiallyRefunded
        } else {
            PurchaseStatus::Completed
        };
        let allowed = matches!(
            self,
            PurchaseStatus::Refunded | PurchaseStatus::PartiallyRefunded
        );
        self.to(to, allowed)
    }

    /// The buyer disputed the charge: only a paid purchase with money left
    /// on it (not fully refunded) can be disputed.
    pub fn dispute(self) -> Result<Self, InvalidTransition> {
        self.to(
            PurchaseStatus::Disputed,
            matches!(
                self,
                PurchaseStatus::Completed | PurchaseStatus::PartiallyRefunded
            ),
        )
    }

    /// We won the dispute: the purchase stands again, as it was before
    /// (`refunded` says whether part of it had been refunded).
    pub fn win_dispute(self, refunded: bool) -> Result<Self, InvalidTransition> {
        let to = if refunded {
            PurchaseStatus::PartiallyRefunded
        } else {
            PurchaseStatus::Completed
        };
        self.to(to, matches!(self, PurchaseStatus::Disputed))
    }

    fn to(self, to: PurchaseStatus, allowed: bool) -> Result<Self, InvalidTransition> {
        if allowed {
            Ok(to)
        } else {
            Err(InvalidTransition { from: self, to })
        }
    }
}

/// A purchase's money: what it granted, what was paid, what refunds have
/// taken back so far, and its status. The one place that knows what is
/// left to refund and which share of the credits a refund, a failed refund
/// or a dispute moves (proportional shares through [`Credits::share`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purchase {
    status: PurchaseStatus,
    credits: Credits,
    paid: Cents,
    refunded: Cents,
}

/// A refund to record: the purchase's next status, its new refunded total
/// and the credits to take back (never negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refund {
    pub status: PurchaseStatus,
    pub refunded: Cents,
    pub take_back: Credits,
}

/// A failed refund to undo: the next status, how much of the refunded total
/// goes away, the refunded total after it and the credits to give back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundReversal {
    pub status: PurchaseStatus,
    pub reversed: Cents,
    pub refunded: Cents,
    pub give_back: Credits,
}

impl Purchase {
    /// `refunded` above `paid` counts as `paid` (the database refuses it anyway).
    pub fn new(status: PurchaseStatus, credits: Credits, paid: Cents, refunded: Cents) -> Self {
        Purchase {
            status,
            credits,
            paid,
            refunded: refunded.min(paid),
        }
    }

    pub fn status(&self) -> PurchaseStatus {
        self.status
    }

    /// The credits the purchase grants (its package snapshot).
    pub fn credits(&self) -> Credits {
        self.credits
    }

    /// What the buyer paid (the price snapshot).
    pub fn paid(&self) -> Cents {
        self.paid
    }

    /// What refunds have given back so far.
    pub fn refunded(&self) -> Cents {
        self.refunded
    }

    /// What is left to refund: paid less refunded.
    pub fn refundable(&self) -> Cents {
        Cents::new(self.paid.get() - self.refunded.get()).unwrap_or(Cents::ZERO)
    }

    /// The credits the refunds so far took back.
    pub fn credits_refunded(&self) -> Credits {
        Credits::signed(self.share(self.refunded))
    }

    /// The credits the purchase still holds: its grant less what refunds
    /// took back (what a dispute takes).
    pub fn credits_held(&self) -> Credits {
        Credits::signed(self.credits.get() - self.share(self.refunded))
    }

    /// Stripe reports `refunded_total` refunded so far (capped at what was
    /// paid). `None` when that changes nothing: the total was counted
    /// already, or the status cannot be refunded.
    pub fn refund_to(&self, refunded_total: Cents) -> Option<Refund> {
        let refunded = refunded_total.min(self.paid);
        if refunded <= self.refunded {
            return None;
        }
        let status = self.status.refund(refunded >= self.paid).ok()?;
        Some(Refund {
            status,
            refunded,
            take_back: Credits::signed(self.share(refunded) - self.share(self.refunded)),
        })
    }

    /// A refund of `amount` failed (at most the refunded total is undone).
    /// `None` when that changes nothing.
    pub fn reverse_refund(&self, amount: Cents) -> Option<RefundReversal> {
        let reversed = amount.min(self.refunded);
        if reversed == Cents::ZERO {
            return None;
        }
        let refunded = Cents::new(self.refunded.get() - reversed.get()).ok()?;
        let status = self.status.reverse_refund(refunded > Cents::ZERO).ok()?;
        Some(RefundReversal {
            status,
            reversed,
            refunded,
            give_back: Credits::signed(self.share(self.refunded) - self.share(refunded)),
        })
    }

    fn share(&self, refunded: Cents) -> i64 {
        self.credits.share(refunded.get(), self.paid.get())
    }
}

impl fmt::Display for PurchaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PurchaseStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PurchaseStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::PurchaseStatus::*;
    use super::*;

    #[test]
    fn only_pending_purchases_settle() {
        assert_eq!(Pending.complete(), Ok(Completed));
        assert_eq!(Pending.fail(), Ok(Failed));
        assert_eq!(Pending.expire(), Ok(Expired));
        for status in [
            Completed,
            Failed,
            Expired,
            Refunded,
            PartiallyRefunded,
            NeedsReview,
            Disputed,
        ] {
            assert!(status.complete().is_err(), "{status} completed again");
            assert!(status.fail().is_err());
            assert!(status.expire().is_err());
        }
    }

    #[test]
    fn only_paid_purchases_refund() {
        assert_eq!(Completed.refund(false), Ok(PartiallyRefunded));
        assert_eq!(PartiallyRefunded.refund(true), Ok(Refunded));
        for status in [Pending, Failed, Expired, Refunded, NeedsReview, Disputed] {
            assert!(status.refund(true).is_err(), "{status} refunded");
        }
    }

    #[test]
    fn unmatched_payments_wait_for_review_and_leave_it_once() {
        for status in [Pending, Expired, Failed] {
            assert_eq!(status.hold_for_review(), Ok(NeedsReview), "{status}");
        }
        for status in [Completed, Refunded, PartiallyRefunded, NeedsReview] {
            assert!(status.hold_for_review().is_err(), "{status} held");
        }
        assert_eq!(NeedsReview.grant_after_review(), Ok(Completed));
        assert_eq!(NeedsReview.refund_after_review(), Ok(Refunded));
        for status in [
            Pending,
            Completed,
            Failed,
            Expired,
            Refunded,
            PartiallyRefunded,
        ] {
            assert!(status.grant_after_review().is_err(), "{status} granted");
            assert!(status.refund_after_review().is_err(), "{status} refunded");
        }
        assert!(!NeedsReview.was_paid());
        assert!(NeedsReview.fail().is_err());
        assert!(NeedsReview.expire().is_err());
    }

    #[test]
    fn a_failed_refund_undoes_its_share_of_the_refund() {
        assert_eq!(Refunded.reverse_refund(false), Ok(Completed));
        assert_eq!(Refunded.reverse_refund(true), Ok(PartiallyRefunded));
        assert_eq!(PartiallyRefunded.reverse_refund(false), Ok(Completed));
        for status in [Pending, Completed, Failed, Expired, Disputed] {
            assert!(status.reverse_refund(false).is_err(), "{status}");
        }
    }

    #[test]
    fn only_paid_purchases_with_money_left_are_disputed_and_only_disputes_are_won() {
        assert_eq!(Completed.dispute(), Ok(Disputed));
        assert_eq!(PartiallyRefunded.dispute(), Ok(Disputed));
        for status in [Pending, Failed, Expired, Refunded, Disputed] {
            assert!(status.dispute().is_err(), "{status} disputed");
        }
        assert_eq!(Disputed.win_dispute(false), Ok(Completed));
        assert_eq!(Disputed.win_dispute(true), Ok(PartiallyRefunded));
        for status in [
            Pending,
            Completed,
            Failed,
            Expired,
            Refunded,
            PartiallyRefunded,
        ] {
            assert!(status.win_dispute(false).is_err(), "{status} won");
        }
    }

    #[test]
    fn paid_means_completed_at_some_point() {
        assert_eq!(
            PurchaseStatus::paid_statuses(),
            ["completed", "refunded", "partially_refunded", "disputed"]
        );
        for status in [Pending, Failed, Expired, NeedsReview] {
            assert!(!status.was_paid(), "{status}");
        }
    }

    #[test]
    fn text_form_round_trips() {
        for status in PurchaseStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
        }
        assert!("paid".parse::<PurchaseStatus>().is_err());
    }
}

#[cfg(test)]
mod purchase_money {
    use proptest::prelude::*;

    use super::*;

    fn status() -> impl Strategy<Value = PurchaseStatus> {
        proptest::sample::select(PurchaseStatus::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn what_is_left_and_what_was_refunded_add_up(
            status in status(),
            credits in 0i64..=Credits::MAX_PACKAGE,
            paid in 0i64..=Cents::MAX_PRICE,
            refunded in 0i64..=Cents::MAX_PRICE,
        ) {
            let purchase = Purchase::new(status, Credits::signed(credits), Cents::new(paid).unwrap(), Cents::new(refunded).unwrap());
            prop_assert_eq!(purchase.refundable().get() + purchase.refunded().get(), paid);
            prop_assert!(purchase.refunded() <= purchase.paid());
            let (taken, held) = (purchase.credits_refunded().get(), purchase.credits_held().get());
            prop_assert!(taken >= 0 && held >= 0);
            prop_assert_eq!(taken + held, credits);
        }

        #[test]
        fn refunds_reported_in_any_order_take_back_at_most_the_grant_and_all_of_it_at_the_end(
            credits in 1i64..=Credits::MAX_PACKAGE,
            paid in 1i64..=Cents::MAX_PRICE,
            totals in proptest::collection::vec(0i64..=Cents::MAX_PRICE, 0..10),
        ) {
            let mut purchase = Purchase::new(PurchaseStatus::Completed, Credits::signed(credits), Cents::new(paid).unwrap(), Cents::ZERO);
            let mut taken = 0;
            for total in totals.into_iter().chain([paid]) {
                let Some(refund) = purchase.refund_to(Cents::new(total).unwrap()) else {
                    // Nothing new: the total was counted already.
                    prop_assert!(total.min(paid) <= purchase.refunded().get());
                    continue;
                };
                prop_assert!(refund.take_back >= Credits::ZERO);
                prop_assert!(refund.refunded > purchase.refunded());
                taken += refund.take_back.get();
                prop_assert!(taken <= credits);
                purchase = Purchase::new(refund.status, purchase.credits(), purchase.paid(), refund.refunded);
                prop_assert_eq!(taken, purchase.credits_refunded().get());
            }
            prop_assert_eq!(taken, credits);
            prop_assert_eq!(purchase.status(), PurchaseStatus::Refunded);
            prop_assert_eq!(purchase.refundable(), Cents::ZERO);
        }

        #[test]
        fn a_failed_refund_gives_back_exactly_what_its_share_took(
            credits in 1i64..=Credits::MAX_PACKAGE,
            paid in 1i64..=Cents::MAX_PRICE,
            before in 0i64..=Cents::MAX_PRICE,
            refund in 1i64..=Cents::MAX_PRICE,
        ) {
            let (credits, paid) = (Credits::signed(credits), Cents::new(paid).unwrap());
            let before = Cents::new(before.min(paid.get())).unwrap();
            let start = Purchase::new(PurchaseStatus::Completed, credits, paid, before);
            let status = if before > Cents::ZERO { start.status().refund(before >= paid).unwrap() } else { PurchaseStatus::Completed };
            let start = Purchase::new(status, credits, paid, before);
            let refund_total = Cents::new((before.get() + refund).min(paid.get())).unwrap();
            let Some(refund) = start.refund_to(refund_total) else {
                prop_assert_eq!(before, paid);
                return Ok(());
            };
            let after = Purchase::new(refund.status, credits, paid, refund.refunded);
            let undone = Cents::new(refund.refunded.get() - before.get()).unwrap();
            let reversal = after.reverse_refund(undone).unwrap();
            prop_assert_eq!(reversal.give_back, refund.take_back);
            prop_assert_eq!(reversal.refunded, before);
            prop_assert_eq!(reversal.reversed, undone);
            prop_assert_eq!(reversal.status, status);
        }
    }

    #[test]
    fn nothing_to_refund_or_reverse_changes_nothing() {
        let credits = Credits::signed(1_000);
        let paid = Cents::new(4_500).unwrap();
        let done = Purchase::new(PurchaseStatus::Refunded, credits, paid, paid);
        assert_eq!(done.refund_to(paid), None);
        assert_eq!(done.refundable(), Cents::ZERO);
        let fresh = Purchase::new(PurchaseStatus::Completed, credits, paid, Cents::ZERO);
        assert_eq!(fresh.reverse_refund(paid), None);
        assert_eq!(fresh.credits_held(), credits);
        let pending = Purchase::new(PurchaseStatus::Pending, credits, paid, Cents::ZERO);
        assert_eq!(pending.refund_to(paid), None);
        let half = fresh.refund_to(Cents::new(2_250).unwrap()).unwrap();
        assert_eq!(half.status, PurchaseStatus::PartiallyRefunded);
        assert_eq!(half.take_back, Credits::signed(500));
    }
}
