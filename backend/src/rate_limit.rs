//! Per-user rate limits on what moves money or calls Stripe: starting a
//! checkout, confirming one on return, admin refunds and adjustments. The
//! HTTP handlers and the server functions check the same limiter (in
//! [`crate::AppState`]) before calling the service.
//!
//! Each (action, user) pair has its own bucket: `burst` requests at once,
//! refilled at `burst` per `period` (GCRA, `governor`). The buckets live in
//! memory, per instance: the limit exists to stop one user's burst from
//! spending our Stripe quota and database time, and N instances allow at
//! most N times the limit, still far below Stripe's own rate limits for any
//! sane N (README, "Rate limits").

use std::{
    hash::Hash,
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};

use crate::ids::UserId;

/// How many requests a user may make per action: `burst` at once, refilled
/// at `burst` per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub burst: NonZeroU32,
    pub period: Duration,
}

impl RateLimitConfig {
    pub const DEFAULT_BURST: u32 = 10;
    pub const DEFAULT_PERIOD_SECS: u64 = 10;
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            burst: NonZeroU32::new(Self::DEFAULT_BURST).expect("not zero"),
            period: Duration::from_secs(Self::DEFAULT_PERIOD_SECS),
        }
    }
}

/// What is limited; each has its own bucket per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limited {
    /// `POST /credits/purchase`, the `buy_credits` server function.
    Checkout,
    /// `POST /credits/checkout/{id}/confirm`, the success-page return.
    Confirm,
    /// Admin refunds (API and server function), per admin.
    Refund,
    /// Manual credit adjustments (API and server function), per admin.
    Adjustment,
}

/// Too many requests: try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many requests; try again in {} seconds", self.retry_after_secs())]
pub struct RateLimited {
    pub retry_after: Duration,
}

impl RateLimited {
    /// Whole seconds to wait (rounded up, at least 1), for `Retry-After`.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs();
        let secs = if self.retry_after.subsec_nanos() > 0 {
            secs + 1
        } else {
            secs
        };
        secs.max(1)
    }
}

/// The limiter every request path shares (cheap to clone).
#[derive(Clone)]
pub struct RateLimits {
    inner: Arc<Inner>,
}

struct Inner {
    limiter: DefaultKeyedRateLimiter<(Limited, UserId)>,
    checks: AtomicU64,
}

/// Forget idle buckets every this many checks, so memory stays bounded.
const SWEEP_EVERY: u64 = 4096;

impl RateLimits {
    pub fn new(config: RateLimitConfig) -> Self {
        let per_request = (config.period / config.burst.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(per_request)
            .expect("a positive period")
            .allow_burst(config.burst);
        RateLimits {
            inner: Arc::new(Inner {
                limiter: DefaultKeyedRateLimiter::keyed(quota),
                checks: AtomicU64::new(0),
            }),
        }
    }

    /// Counts one request of `user` for `action`; `Err` when over the limit
    /// (the request must then do nothing).
    pub fn check(&self, action: Limited, user: UserId) -> Result<(), RateLimited> {
        let inner = &self.inner;
        if inner.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            inner.limiter.retain_recent();
            inner.limiter.shrink_to_fit();
        }
        inner
            .limiter
            .check_key(&(action, user))
            .map_err(|not_until| {
                let now = inner.limiter.clock().now();
                RateLimited {
                    retry_after: not_until.wait_time_from(now),
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn limits(burst: u32, period_secs: u64) -> RateLimits {
        RateLimits::new(RateLimitConfig {
            burst: NonZeroU32::new(burst).unwrap(),
            period: Duration::from_secs(period_secs),
        })
    }

    #[test]
    fn a_burst_passes_then_the_user_waits_while_others_do_not() {
        let limits = limits(3, 60);
        let alice = UserId::from_uuid(Uuid::new_v4());
        let bob = UserId::from_uuid(Uuid::new_v4());
        for _ in 0..3 {
            limits.check(Limited::Checkout, alice).unwrap();
        }
        let refused = limits.check(Limited::Checkout, alice).unwrap_err();
        // One request back every 20 s.
        assert!(
            (19..=20).contains(&refused.retry_after_secs()),
            "{refused:?}"
        );
        // Another user, and another action of the same user, have their own buckets.
        limits.check(Limited::Checkout, bob).unwrap();
        limits.check(Limited::Confirm, alice).unwrap();
        // A clone shares the state.
        assert!(limits.clone().check(Limited::Checkout, alice).is_err());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let wait = |ms| RateLimited {
            retry_after: Duration::from_millis(ms),
        };
        assert_eq!(wait(0).retry_after_secs(), 1);
        assert_eq!(wait(1).retry_after_secs(), 1);
        assert_eq!(wait(1000).retry_after_secs(), 1);
        assert_eq!(wait(1001).retry_after_secs(), 2);
        assert_eq!(wait(9_500).retry_after_secs(), 10);
    }
}
