//! Keycloak and Lago kept in step with our subscriptions, durably.
//!
//! Whatever stores a subscription's state ([`crate::subscriptions::state::store`])
//! also adds, in the same transaction, one job per configured system
//! ([`Outbox::enqueue`]): "bring this user up to date in Keycloak" and "…
//! in Lago". A job carries only the user; it reads their state when it
//! runs, so a late or repeated job never writes anything stale.
//!
//! The jobs are tasks of the `underway` crate (Postgres-backed; see
//! docs/ARCHITECTURE.md for why). A worker in every instance takes them;
//! `for update skip locked` gives each task to one worker, and a
//! per-(system, user) advisory lock runs one user's jobs one at a time, in
//! the order they are taken. A failure that may pass (a 5xx, a timeout, a
//! refused connection) is retried as a new task after an exponential
//! backoff with jitter ([`backoff`]); after [`MAX_ATTEMPTS`], or at once for
//! a failure that retrying cannot fix (the user is missing, a 4xx), the task
//! is failed with its reason and shown on the admin sync page.

pub mod keycloak;
pub mod lago;
pub mod reconcile;
pub mod status;

use std::{sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use underway::{Queue, Task, task::Error as TaskError};

use crate::{Config, ids::UserId};

/// Attempts before a job is failed for good.
pub const MAX_ATTEMPTS: u32 = 8;
/// The first retry's delay; each next one doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// How often a worker looks for due tasks besides being notified of new
/// ones (a retry becomes due without a notification).
const POLL_EVERY: Duration = Duration::from_secs(1);
/// Jobs one instance runs at once, per system.
const WORKER_CONCURRENCY: usize = 2;

/// A system we keep in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Keycloak,
    Lago,
}

impl Target {
    pub const ALL: [Target; 2] = [Target::Keycloak, Target::Lago];

    pub fn as_str(self) -> &'static str {
        match self {
            Target::Keycloak => "keycloak",
            Target::Lago => "lago",
        }
    }

    /// The task queue of this system's jobs.
    pub fn queue(self) -> &'static str {
        match self {
            Target::Keycloak => "sync-keycloak",
            Target::Lago => "sync-lago",
        }
    }

    pub fn from_queue(queue: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.queue() == queue)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job: bring `user_id` up to date. `attempt` counts the tries before
/// this one (a retry is a new task), `last_error` is why the previous failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    pub user_id: UserId,
    #[serde(default)]
    pub attempt: u32,
    #[serde(default)]
    pub last_error: Option<String>,
}

/// Why a sync did not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// May pass: the system is down, slow or overloaded.
    #[error("{0}")]
    Retryable(String),
    /// Retrying cannot fix it (a missing user, a request the system refuses).
    #[error("{0}")]
    Permanent(String),
}

impl From<sqlx::Error> for SyncError {
    fn from(error: sqlx::Error) -> Self {
        SyncError::Retryable(format!("database: {error}"))
    }
}

/// The delay before retry number `attempt` (1 = the first retry): doubling
/// from [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`], then a random 50–100% of
/// that, so that jobs failed together by one outage do not all come back
/// in the same instant.
pub fn backoff(attempt: u32, random: f64) -> Duration {
    let doubled = FIRST_BACKOFF.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
    doubled
        .min(MAX_BACKOFF)
        .mul_f64(0.5 + random.clamp(0.0, 1.0) / 2.0)
}

/// The clients of the systems configured (none when neither is).
pub struct Systems {
    pub keycloak: Option<keycloak::KeycloakAdmin>,
    pub lago: Option<lago::Lago>,
}

impl Systems {
    pub fn new(config: &Config) -> Self {
        Systems {
            keycloak: keycloak::KeycloakAdmin::new(config),
            lago: lago::Lago::new(config),
        }
    }

    fn configured(&self, target: Target) -> bool {
        match target {
            Target::Keycloak => self.keycloak.is_some(),
            Target::Lago => self.lago.is_some(),
        }
    }
}

/// One system's job, as the job crate runs it.
#[derive(Clone)]
pub struct SyncTask {
    target: Target,
    systems: Arc<Systems>,
    queue: Arc<Queue<SyncTask>>,
}

impl Task for SyncTask {
    type Input = SyncJob;
    type Output = ();

    async fn execute(
        &self,
        mut tx: Transaction<'_, Postgres>,
        job: SyncJob,
    ) -> underway::task::Result<()> {
        let database = |e: sqlx::Error| TaskError::Retryable(format!("database: {e}"));
        // One user's jobs for one system, one at a time across instances;
        // held until the task's outcome is committed.
        sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("sync:{}:{}", self.target, job.user_id))
            .execute(&mut *tx)
            .await
            .map_err(database)?;
        let outcome = self.run(&mut tx, job.user_id).await;
        status::record(&mut tx, job.user_id, self.target, outcome.as_ref().err())
            .await
            .map_err(database)?;
        match outcome {
            Ok(()) => {
                tracing::info!(target_system = %self.target, user = %job.user_id, attempt = job.attempt + 1, "sync done");
                tx.commit().await.map_err(database)?;
                Ok(())
            }
            Err(SyncError::Retryable(reason)) if job.attempt + 1 < MAX_ATTEMPTS => {
                let next = SyncJob {
                    user_id: job.user_id,
                    attempt: job.attempt + 1,
                    last_error: Some(reason.clone()),
                };
                let delay = backoff(next.attempt, fastrand::f64());
                tracing::warn!(target_system = %self.target, user = %job.user_id, attempt = next.attempt, retry_in_ms = delay.as_millis() as u64, %reason, "sync failed; will retry");
                self.queue
                    .enqueue_after(&mut *tx, self, &next, span(delay))
                    .await
                    .map_err(|e| TaskError::Retryable(format!("cannot schedule the retry: {e}")))?;
                tx.commit().await.map_err(database)?;
                Ok(())
            }
            Err(error) => {
                tracing::error!(target_system = %self.target, user = %job.user_id, attempt = job.attempt + 1, reason = %error, "sync failed for good");
                // What this attempt did write (its status) stays.
                tx.commit().await.map_err(database)?;
                Err(TaskError::Fatal(error.to_string()))
            }
        }
    }

    fn retry_policy(&self) -> underway::task::RetryPolicy {
        // A failed sync is retried by us (a new task, jittered backoff); the
        // crate's own retries (their delays count from the task's creation)
        // are left for our own trouble: the database, or an instance that
        // died mid-task (its heartbeat stops).
        underway::task::RetryPolicy::builder()
            .max_attempts(3)
            .build()
    }

    fn timeout(&self) -> jiff::Span {
        span(Duration::from_secs(120))
    }
}

impl SyncTask {
    async fn run(&self, conn: &mut PgConnection, user: UserId) -> Result<(), SyncError> {
        match self.target {
            Target::Keycloak => match &self.systems.keycloak {
                Some(keycloak) => keycloak::sync_user(conn, keycloak, user).await,
                None => Err(SyncError::Permanent(
                    "Keycloak sync is not configured".into(),
                )),
            },
            Target::Lago => match &self.systems.lago {
                Some(lago) => lago::sync_user(conn, lago, user).await,
                None => Err(SyncError::Permanent("Lago sync is not configured".into())),
            },
        }
    }
}

fn span(duration: Duration) -> jiff::Span {
    jiff::Span::new().milliseconds(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX))
}

/// Where the jobs go: one queue per configured system. Cheap to clone.
#[derive(Clone, Default)]
pub struct Outbox {
    tasks: Vec<SyncTask>,
    /// Set when any system is synced.
    pool: Option<PgPool>,
}

impl Outbox {
    /// Creates the job tables (the crate's migrations, after ours) and the
    /// queues of the configured systems.
    pub async fn new(pool: &PgPool, systems: Arc<Systems>) -> Result<Self, underway::queue::Error> {
        underway::run_migrations(pool).await?;
        // Finding a user's waiting job (enqueue) and the admin view's latest
        // job per user read the queue by user. Instances starting together
        // take turns.
        let mut tx = pool.begin().await?;
        sqlx::query("select pg_advisory_xact_lock(hashtextextended('sync-index', 0))")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "create index if not exists task_sync_user on underway.task \
             (task_queue_name, (input ->> 'user_id'), created_at desc)",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut tasks = Vec::new();
        for target in Target::ALL {
            if !systems.configured(target) {
                continue;
            }
            let queue = Queue::builder()
                .name(target.queue())
                .pool(pool.clone())
                .build()
                .await?;
            tasks.push(SyncTask {
                target,
                systems: systems.clone(),
                queue: Arc::new(queue),
            });
        }
        let pool = (!tasks.is_empty()).then(|| pool.clone());
        Ok(Outbox { tasks, pool })
    }

    /// The systems synced, in order.
    pub fn targets(&self) -> Vec<Target> {
        self.tasks.iter().map(|t| t.target).collect()
    }

    /// Adds, inside the caller's transaction, a job per system to bring
    /// `user` up to date. A job for them that no worker has taken yet (new,
    /// or waiting to retry) will read the state this transaction commits,
    /// so none is added then; it is locked until we commit so that no worker
    /// takes it before.
    pub async fn enqueue(&self, conn: &mut PgConnection, user: UserId) -> Result<(), sqlx::Error> {
        for task in &self.tasks {
            self.enqueue_one(conn, task, user, false).await?;
        }
        Ok(())
    }

    /// Adds a job for `user` in `target` now, even if one waits already
    /// (the admin's "retry now").
    pub async fn enqueue_now(
        &self,
        conn: &mut PgConnection,
        target: Target,
        user: UserId,
    ) -> Result<bool, sqlx::Error> {
        match self.tasks.iter().find(|t| t.target == target) {
            Some(task) => self
                .enqueue_one(conn, task, user, true)
                .await
                .map(|()| true),
            None => Ok(false),
        }
    }

    async fn enqueue_one(
        &self,
        conn: &mut PgConnection,
        task: &SyncTask,
        user: UserId,
        always: bool,
    ) -> Result<(), sqlx::Error> {
        if !always {
            let waiting: Option<uuid::Uuid> = sqlx::query_scalar(
                "select id from underway.task \
                 where task_queue_name = $1 and state = 'pending' and input ->> 'user_id' = $2 \
                 limit 1 for update skip locked",
            )
            .bind(task.target.queue())
            .bind(user.to_string())
            .fetch_optional(&mut *conn)
            .await?;
            if waiting.is_some() {
                return Ok(());
            }
        }
        let job = SyncJob {
            user_id: user,
            attempt: 0,
            last_error: None,
        };
        task.queue
            .enqueue(&mut *conn, task, &job)
            .await
            .map_err(|e| match e {
                underway::queue::Error::Database(e) => e,
                other => sqlx::Error::Protocol(format!("cannot add the sync job: {other}")),
            })?;
        Ok(())
    }

    /// Runs the workers of this instance until the process ends, and the
    /// crate's hourly removal of tasks older than their time to live (14
    /// days; each user's last outcome stays in `user_syncs`).
    pub fn start_workers(&self) {
        if let Some(pool) = self.pool.clone() {
            tokio::spawn(async move {
                if let Err(error) = underway::queue::run_deletion(&pool).await {
                    tracing::error!(%error, "sync task clean-up stopped");
                }
            });
        }
        for task in &self.tasks {
            let mut worker = underway::Worker::new(task.queue.clone(), task.clone());
            // Each running job holds two pooled connections.
            worker.set_concurrency_limit(WORKER_CONCURRENCY);
            let target = task.target;
            tokio::spawn(async move {
                if let Err(error) = worker.run_every(span(POLL_EVERY)).await {
                    tracing::error!(target_system = %target, %error, "sync worker stopped");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        assert_eq!(backoff(1, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(3, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(30, 1.0), MAX_BACKOFF);
        assert_eq!(backoff(30, 0.0), MAX_BACKOFF / 2);
        for attempt in 1..12 {
            assert!(backoff(attempt, 0.3) <= backoff(attempt + 1, 0.3));
        }
    }
}
