//! Work that a client hanging up must not stop half-way.
//!
//! axum drops a handler's future when its client disconnects, and a dropped
//! future stops at whatever `.await` it was on: between a Stripe call and the
//! database write that records it, or inside a transaction. Money paths run
//! through [`run_to_completion`] instead: the work is its own task, the
//! caller only waits for it, and if the caller goes away the task still
//! finishes (its answer is simply not delivered; Stripe's retry, or the
//! user's next look, finds the work done).

use std::future::Future;

/// Runs `work` in its own task and waits for it. Dropping the returned
/// future does not cancel `work`. A panic in `work` is raised again here.
pub async fn run_to_completion<F, T>(work: F) -> T
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::spawn(work).await {
        Ok(value) => value,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        // Only runtime shutdown cancels a spawned task.
        Err(error) => panic!("detached work was cancelled: {error}"),
    }
}
