//! Work that a client hanging up must not stop half-way.
//!
//! axum drops a handler's future when its client disconnects, and a dropped
//! future stops at whatever `.await` it was on: between a Stripe call and the
//! database write that records it, or inside a transaction. Money paths run
//! through [`Detached::run`] instead: the work is its own task, the caller
//! only waits for it, and if the caller goes away the task still finishes
//! (its answer is simply not delivered; Stripe's retry, or the user's next
//! look, finds the work done).
//!
//! The tasks are tracked, so that shutdown waits for them
//! ([`Detached::finish`]) instead of the runtime dropping them where they
//! stand when the process exits.

use std::{future::Future, time::Duration};

use tokio_util::task::TaskTracker;

/// The detached work of one instance of the app. Cheap to clone.
#[derive(Clone, Default)]
pub struct Detached {
    tasks: TaskTracker,
}

impl Detached {
    /// Runs `work` in its own task and waits for it. Dropping the returned
    /// future does not cancel `work`. A panic in `work` is raised again here.
    pub async fn run<F, T>(&self, work: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        match self.tasks.spawn(work).await {
            Ok(value) => value,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // Only runtime shutdown cancels a spawned task.
            Err(error) => panic!("detached work was cancelled: {error}"),
        }
    }

    /// How many detached tasks are still running.
    pub fn in_flight(&self) -> usize {
        self.tasks.len()
    }

    /// At shutdown, once no new requests arrive: waits for the detached work
    /// to end, at most `limit`. Returns how many tasks were still running
    /// when it gave up (0 when all ended).
    pub async fn finish(&self, limit: Duration) -> usize {
        self.tasks.close();
        match tokio::time::timeout(limit, self.tasks.wait()).await {
            Ok(()) => 0,
            Err(_) => self.tasks.len(),
        }
    }
}
