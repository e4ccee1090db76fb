use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

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
