//! What the admin sync page shows: each user's jobs as they stand, the
//! last outcome per user and system, the last reconcile; and the retries
//! an admin asks for.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::{MAX_ATTEMPTS, Outbox, SyncError, Target};
use crate::ids::UserId;

/// Where a user's latest job for one system stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for its first run.
    Pending,
    /// Running now.
    Running,
    /// Failed at least once; waiting for its next try.
    Retrying,
    /// Given up: an admin must look.
    Failed,
    /// The latest job succeeded.
    Done,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Retrying => "retrying",
            JobState::Failed => "failed",
            JobState::Done => "done",
        }
    }
}

/// A user's latest job for one system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobView {
    pub target: Target,
    pub user_id: UserId,
    pub email: Option<String>,
    pub state: JobState,
    /// Tries made so far (including a running one).
    pub attempts: u32,
    pub max_attempts: u32,
    /// When a pending or retrying job is due.
    pub next_try_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// One reconcile run.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileRun {
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub changes: Vec<String>,
    pub error: Option<String>,
}

/// A user's sync with one system, for the user and purchase views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSync {
    pub target: Target,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The latest job, unless it is done.
    pub job: Option<JobView>,
}

/// Notes the outcome of a sync attempt (inside the job's transaction).
pub async fn record(
    conn: &mut PgConnection,
    user: UserId,
    target: Target,
    error: Option<&SyncError>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into user_syncs (user_id, target, last_synced_at, last_error, last_error_at) \
         values ($1, $2, case when $3::text is null then now() end, $3, case when $3::text is not null then now() end) \
         on conflict (user_id, target) do update set \
             last_synced_at = coalesce(excluded.last_synced_at, user_syncs.last_synced_at), \
             last_error = excluded.last_error, last_error_at = excluded.last_error_at",
    )
    .bind(user)
    .bind(target.as_str())
    .bind(error.map(ToString::to_string))
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct JobRow {
    queue: String,
    user_id: UserId,
    email: Option<String>,
    state: String,
    attempt: i32,
    input_error: Option<String>,
    attempt_error: Option<String>,
    due_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl JobRow {
    fn view(self) -> Option<JobView> {
        let attempt = u32::try_from(self.attempt).unwrap_or(0);
        let state = match (self.state.as_str(), attempt) {
            ("pending", 0) => JobState::Pending,
            ("pending", _) => JobState::Retrying,
            ("in_progress", _) => JobState::Running,
            ("failed", _) => JobState::Failed,
            _ => JobState::Done,
        };
        Some(JobView {
            target: Target::from_queue(&self.queue)?,
            user_id: self.user_id,
            email: self.email,
            state,
            attempts: attempt
                + u32::from(matches!(
                    state,
                    JobState::Running | JobState::Failed | JobState::Done
                )),
            max_attempts: MAX_ATTEMPTS,
            next_try_at: matches!(state, JobState::Pending | JobState::Retrying)
                .then_some(self.due_at),
            last_error: match state {
                JobState::Failed => self.attempt_error.or(self.input_error),
                _ => self.input_error,
            },
            updated_at: self.updated_at,
        })
    }
}

/// The latest job of each (system, user), optionally of one user.
const LATEST_JOBS: &str = "
    select distinct on (t.task_queue_name, t.input ->> 'user_id')
        t.task_queue_name as queue,
        (t.input ->> 'user_id')::uuid as user_id,
        u.email,
        t.state::text as state,
        coalesce((t.input ->> 'attempt')::int, 0) as attempt,
        t.input ->> 'last_error' as input_error,
        -- A job failed for good records its reason in user_syncs (the
        -- crate records none for a fatal error).
        coalesce(
            (select a.error_message from underway.task_attempt a
              where a.task_queue_name = t.task_queue_name and a.task_id = t.id
              order by a.attempt_number desc limit 1),
            us.last_error) as attempt_error,
        t.created_at + t.delay as due_at,
        t.updated_at
    from underway.task t
    left join users u on u.id = (t.input ->> 'user_id')::uuid
    left join user_syncs us on us.user_id = u.id and 'sync-' || us.target = t.task_queue_name
    where t.task_queue_name in ('sync-keycloak', 'sync-lago')
      and ($1::uuid is null or t.input ->> 'user_id' = $1::text)
    order by t.task_queue_name, t.input ->> 'user_id', t.created_at desc, t.id desc";

async fn latest_jobs(pool: &PgPool, user: Option<UserId>) -> Result<Vec<JobView>, sqlx::Error> {
    let rows = sqlx::query_as::<_, JobRow>(LATEST_JOBS)
        .bind(user)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().filter_map(JobRow::view).collect())
}

/// Every (system, user) whose latest job is not done: failed first, then
/// retrying, running and pending, each newest first.
pub async fn open_jobs(pool: &PgPool) -> Result<Vec<JobView>, sqlx::Error> {
    let mut jobs: Vec<JobView> = latest_jobs(pool, None)
        .await?
        .into_iter()
        .filter(|j| j.state != JobState::Done)
        .collect();
    let rank = |s: JobState| match s {
        JobState::Failed => 0,
        JobState::Retrying => 1,
        JobState::Running => 2,
        _ => 3,
    };
    jobs.sort_by(|a, b| {
        rank(a.state)
            .cmp(&rank(b.state))
            .then(b.updated_at.cmp(&a.updated_at))
    });
    Ok(jobs)
}

/// The user's sync with each configured system.
pub async fn for_user(
    pool: &PgPool,
    outbox: &Outbox,
    user: UserId,
) -> Result<Vec<UserSync>, sqlx::Error> {
    let jobs = latest_jobs(pool, Some(user)).await?;
    let outcomes: Vec<(String, Option<DateTime<Utc>>, Option<String>)> = sqlx::query_as(
        "select target, last_synced_at, last_error from user_syncs where user_id = $1",
    )
    .bind(user)
    .fetch_all(pool)
    .await?;
    Ok(outbox
        .targets()
        .into_iter()
        .map(|target| {
            let outcome = outcomes.iter().find(|(t, _, _)| t == target.as_str());
            UserSync {
                target,
                last_synced_at: outcome.and_then(|o| o.1),
                last_error: outcome.and_then(|o| o.2.clone()),
                job: jobs
                    .iter()
                    .find(|j| j.target == target && j.state != JobState::Done)
                    .cloned(),
            }
        })
        .collect())
}

/// The latest reconcile runs, newest first.
pub async fn reconcile_runs(pool: &PgPool, limit: i64) -> Result<Vec<ReconcileRun>, sqlx::Error> {
    let rows: Vec<RunRow> = sqlx::query_as(
        "select started_at, finished_at, changes, error from reconcile_runs order by started_at desc limit $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ReconcileRun {
            started_at: row.started_at,
            finished_at: row.finished_at,
            changes: row
                .changes
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect(),
            error: row.error,
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct RunRow {
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    changes: serde_json::Value,
    error: Option<String>,
}

/// "Retry now": a new job for the user in that system, now. `false` when
/// that system is not synced here.
pub async fn retry(
    pool: &PgPool,
    outbox: &Outbox,
    target: Target,
    user: UserId,
) -> Result<bool, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    outbox.enqueue_now(&mut conn, target, user).await
}

/// "Retry all failed": a new job for every (system, user) whose latest
/// failed. Returns how many.
pub async fn retry_failed(pool: &PgPool, outbox: &Outbox) -> Result<usize, sqlx::Error> {
    let failed: Vec<JobView> = latest_jobs(pool, None)
        .await?
        .into_iter()
        .filter(|j| j.state == JobState::Failed)
        .collect();
    let mut tx = pool.begin().await?;
    let mut count = 0;
    for job in &failed {
        if outbox.enqueue_now(&mut tx, job.target, job.user_id).await? {
            count += 1;
        }
    }
    tx.commit().await?;
    Ok(count)
}
