//! Group commit for paid checkouts (issue #13): concurrent deliveries of
//! `checkout.session.completed` are coalesced into one transaction, one
//! statement (`fulfil_checkouts`, migration `…_fulfil_checkouts.sql`) and
//! one commit, instead of one of each per delivery.
//!
//! - Each delivery waits for the commit of the batch that holds it, so its
//!   2xx still means its own grant is durable.
//! - A batch that fails (a deadlock, a poisoned row, a lost connection) is
//!   retried item by item, each in its own transaction: one bad item never
//!   fails its neighbours, and only its own delivery answers 5xx.
//! - The batch takes only the common case (a pending purchase its payment
//!   matches); anything else comes back [`Batched::Fallback`] with nothing
//!   written, for the one-event path in [`super::handle`].
//!
//! Batches form by themselves: a few workers each take every delivery that
//! is waiting (up to [`MAX_BATCH`]) and run it while the next ones queue.
//! Under no load a batch is one delivery and nothing waits.

use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicU64, Ordering},
};

use sqlx::PgPool;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::{
    ids::{EventId, PurchaseId, UserId},
    stripe::CheckoutOutcome,
};

/// At most this many deliveries in one transaction.
pub const MAX_BATCH: usize = 64;
/// Batches in flight at once (each holds one pool connection while it runs).
pub const WORKERS: usize = 8;
/// Deliveries queued beyond the running batches before senders wait.
const QUEUE: usize = 1024;

/// One paid checkout to fulfil: the event that reported it and its session.
#[derive(Debug, Clone)]
pub struct PaidCheckout {
    pub event: EventId,
    pub event_type: String,
    pub checkout: CheckoutOutcome,
}

/// What became of one delivery in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batched {
    /// Completed and granted now.
    Applied {
        purchase_id: PurchaseId,
        user_id: UserId,
        credits: i64,
    },
    /// This event was handled before.
    Duplicate,
    /// Completed now, but its grant had been written before.
    AlreadySettled { purchase_id: PurchaseId },
    /// Not the common case: nothing written, for the one-event path.
    Fallback,
}

/// A row of `fulfil_checkouts`: item (1-based), outcome, purchase, buyer, credits.
type OutcomeRow = (i32, String, Option<PurchaseId>, Option<UserId>, Option<i64>);

/// Fulfils `items` in ONE transaction (one statement, one commit) and
/// returns their outcomes in the same order once it has committed. A
/// database error means nothing of the batch was written (an answer we
/// cannot read is an error too, after the commit: retrying it item by item
/// then finds each event handled, a duplicate).
pub async fn fulfil_batch(
    pool: &PgPool,
    items: &[&PaidCheckout],
    our_livemode: bool,
) -> Result<Vec<Batched>, sqlx::Error> {
    let column = |f: fn(&PaidCheckout) -> Option<String>| -> Vec<Option<String>> {
        items.iter().map(|item| f(item)).collect()
    };
    let events = column(|i| Some(i.event.as_str().to_owned()));
    let types = column(|i| Some(i.event_type.clone()));
    let sessions = column(|i| Some(i.checkout.session_id.as_str().to_owned()));
    let intents = column(|i| {
        i.checkout
            .payment_intent_id
            .as_ref()
            .map(|p| p.as_str().to_owned())
    });
    let currencies = column(|i| i.checkout.currency.clone());
    let amounts: Vec<Option<i64>> = items
        .iter()
        .map(|i| i.checkout.amount_total.map(|c| c.get()))
        .collect();
    let livemodes: Vec<bool> = items.iter().map(|i| i.checkout.livemode).collect();

    // One statement outside any explicit transaction is its own transaction:
    // the rows arrive only after it has committed (sqlx reads to the
    // server's ReadyForQuery), in one round trip instead of three.
    let rows: Vec<OutcomeRow> =
        sqlx::query_as("select * from fulfil_checkouts($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&events)
            .bind(&types)
            .bind(&sessions)
            .bind(&intents)
            .bind(&amounts)
            .bind(&currencies)
            .bind(&livemodes)
            .bind(our_livemode)
            .fetch_all(pool)
            .await?;

    let mut outcomes = vec![Batched::Fallback; items.len()];
    for (item, outcome, purchase, user, credits) in rows {
        let slot = usize::try_from(item - 1)
            .ok()
            .and_then(|i| outcomes.get_mut(i))
            .ok_or_else(|| sqlx::Error::Protocol(format!("fulfil_checkouts: item {item}")))?;
        *slot = match (outcome.as_str(), purchase, user, credits) {
            ("applied", Some(purchase_id), Some(user_id), Some(credits)) => Batched::Applied {
                purchase_id,
                user_id,
                credits,
            },
            ("already_settled", Some(purchase_id), _, _) => Batched::AlreadySettled { purchase_id },
            ("duplicate", ..) => Batched::Duplicate,
            ("fallback", ..) => Batched::Fallback,
            _ => {
                return Err(sqlx::Error::Protocol(format!(
                    "fulfil_checkouts: unexpected outcome {outcome} for item {item}"
                )));
            }
        };
    }
    Ok(outcomes)
}

/// The group-commit queue and its workers (started on first use). Cheap to
/// clone: every clone feeds the same workers.
#[derive(Clone)]
pub struct GroupCommit {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    our_livemode: bool,
    sender: OnceLock<mpsc::Sender<Job>>,
    counts: Counters,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    deliveries: AtomicU64,
    failed: AtomicU64,
}

/// What the workers have done since the start: for the logs and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Batches committed.
    pub batches: u64,
    /// Deliveries in them.
    pub deliveries: u64,
    /// Batches that failed and were retried item by item.
    pub failed: u64,
}

struct Job {
    item: PaidCheckout,
    queued: std::time::Instant,
    reply: oneshot::Sender<Result<Batched, sqlx::Error>>,
}

/// The workers are gone (only if they panicked): use the one-event path.
#[derive(Debug, thiserror::Error)]
#[error("the group-commit workers have stopped")]
pub struct Stopped;

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Stopped(#[from] Stopped),
}

impl GroupCommit {
    pub fn new(pool: PgPool, our_livemode: bool) -> Self {
        GroupCommit {
            inner: Arc::new(Inner {
                pool,
                our_livemode,
                sender: OnceLock::new(),
                counts: Counters::default(),
            }),
        }
    }

    /// Fulfils `item` in the next batch; returns once that batch has
    /// committed (or, if it failed, once `item` was retried on its own).
    pub async fn fulfil(&self, item: PaidCheckout) -> Result<Batched, GroupError> {
        let (reply, answer) = oneshot::channel();
        self.sender()
            .send(Job {
                item,
                queued: std::time::Instant::now(),
                reply,
            })
            .await
            .map_err(|_| Stopped)?;
        Ok(answer.await.map_err(|_| Stopped)??)
    }

    pub fn counts(&self) -> Counts {
        let counts = &self.inner.counts;
        Counts {
            batches: counts.batches.load(Ordering::Relaxed),
            deliveries: counts.deliveries.load(Ordering::Relaxed),
            failed: counts.failed.load(Ordering::Relaxed),
        }
    }

    fn sender(&self) -> &mpsc::Sender<Job> {
        self.inner.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            let receiver = Arc::new(Mutex::new(receiver));
            for _ in 0..WORKERS {
                tokio::spawn(work(self.inner.clone(), receiver.clone()));
            }
            sender
        })
    }
}

/// One worker: takes every waiting delivery (up to [`MAX_BATCH`]) and runs
/// them as one batch, until the queue closes.
async fn work(inner: Arc<Inner>, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let mut jobs = Vec::new();
        {
            let mut queue = queue.lock().await;
            match queue.recv().await {
                Some(job) => jobs.push(job),
                None => return,
            }
            while jobs.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
        }
        inner.run(jobs).await;
    }
}

impl Inner {
    /// Runs `jobs` as one batch; if that fails, each on its own.
    async fn run(&self, jobs: Vec<Job>) {
        let items: Vec<&PaidCheckout> = jobs.iter().map(|job| &job.item).collect();
        let size = items.len();
        let started = std::time::Instant::now();
        let waited = jobs
            .first()
            .map(|job| job.queued.elapsed())
            .unwrap_or_default();
        match self.commit(&items).await {
            Ok(outcomes) => {
                tracing::debug!(
                    size,
                    waited_us = waited.as_micros() as u64,
                    took_us = started.elapsed().as_micros() as u64,
                    "webhook group commit"
                );
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(error) if size == 1 => {
                let _ = jobs
                    .into_iter()
                    .next()
                    .map(|job| job.reply.send(Err(error)));
            }
            Err(error) => {
                self.counts.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(size, error = %error, "webhook group commit failed; retrying each delivery on its own");
                for job in jobs {
                    let answer = self
                        .commit(&[&job.item])
                        .await
                        .map(|mut outcomes| outcomes.remove(0));
                    let _ = job.reply.send(answer);
                }
            }
        }
    }

    /// [`fulfil_batch`], counted when it commits.
    async fn commit(&self, items: &[&PaidCheckout]) -> Result<Vec<Batched>, sqlx::Error> {
        let outcomes = fulfil_batch(&self.pool, items, self.our_livemode).await?;
        self.counts.batches.fetch_add(1, Ordering::Relaxed);
        self.counts
            .deliveries
            .fetch_add(items.len() as u64, Ordering::Relaxed);
        Ok(outcomes)
    }
}
