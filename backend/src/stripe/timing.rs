//! How long a request waited on Stripe: every call the gateway makes goes
//! through [`TimedClient`], which adds its duration to the task's tally
//! while [`measured`] runs. The checkout endpoint reports the tally in a
//! `Server-Timing` header, so its latency splits into Stripe's time (the
//! emulator's, under the benchmark) and ours.

use std::{
    cell::Cell,
    future::Future,
    time::{Duration, Instant},
};

use bytes::Bytes;
use stripe_client_core::{CustomizedStripeRequest, StripeClient};

tokio::task_local! {
    static WAITED: Cell<Duration>;
}

/// Runs `work` and returns its output with the time it spent in Stripe calls.
pub async fn measured<F: Future>(work: F) -> (F::Output, Duration) {
    WAITED
        .scope(Cell::new(Duration::ZERO), async {
            let output = work.await;
            (output, WAITED.with(Cell::get))
        })
        .await
}

/// async-stripe's client, each call timed.
#[derive(Clone)]
pub struct TimedClient(pub stripe::Client);

impl StripeClient for TimedClient {
    type Err = stripe::StripeError;

    async fn execute(&self, request: CustomizedStripeRequest) -> Result<Bytes, Self::Err> {
        let started = Instant::now();
        let answer = self.0.execute(request).await;
        let _ = WAITED.try_with(|waited| waited.set(waited.get() + started.elapsed()));
        answer
    }
}
