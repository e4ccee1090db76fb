//! The admin sync page: each user's Keycloak and Lago jobs as they stand
//! (pending, retrying with attempts, next try and last error, failed), the
//! last reconcile with Stripe, and the retries an admin asks for.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A user's latest job for one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJobView {
    /// `keycloak` or `lago`.
    pub system: String,
    pub user_id: String,
    pub user_email: Option<String>,
    /// `pending`, `running`, `retrying`, `failed` (or `done`).
    pub state: String,
    pub attempts: u32,
    pub max_attempts: u32,
    pub next_try_at: Option<String>,
    pub last_error: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileRunView {
    pub started_at: String,
    pub finished_at: Option<String>,
    pub changes: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncPageView {
    /// The systems synced here (none when neither is configured).
    pub systems: Vec<String>,
    /// Every (system, user) whose latest job is not done: failed first.
    pub jobs: Vec<SyncJobView>,
    pub failed: usize,
    pub retrying: usize,
    pub pending: usize,
    pub last_reconcile: Option<ReconcileRunView>,
    /// Attributes Keycloak dropped when this instance read a write back
    /// (its user profile does not declare them).
    pub dropped_attributes: Vec<String>,
}

/// A user's sync with one system (user and purchase views).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSyncView {
    pub system: String,
    pub last_synced_at: Option<String>,
    pub last_error: Option<String>,
    /// The latest job, unless it is done.
    pub job: Option<SyncJobView>,
}

/// One line: "synced 2026-12-03 21:04", "retrying (2 / 8): Lago unreachable", ….
pub fn sync_summary(sync: &UserSyncView) -> String {
    match (&sync.job, &sync.last_synced_at) {
        (Some(job), _) if job.state == "failed" => format!(
            "failed: {}",
            job.last_error.as_deref().unwrap_or("no reason recorded")
        ),
        (Some(job), _) if job.state == "retrying" => format!(
            "retrying ({} / {}): {}",
            job.attempts,
            job.max_attempts,
            job.last_error.as_deref().unwrap_or("")
        ),
        (Some(job), _) => job.state.clone(),
        (None, Some(at)) => format!("synced {at} UTC"),
        (None, None) => "never synced".to_owned(),
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use backend::sync::status::{JobState, JobView, ReconcileRun, UserSync};

    use super::*;
    use crate::admin::ssr::timestamp;

    impl From<JobView> for SyncJobView {
        fn from(job: JobView) -> Self {
            SyncJobView {
                system: job.target.as_str().to_owned(),
                user_id: job.user_id.to_string(),
                user_email: job.email,
                state: job.state.as_str().to_owned(),
                attempts: job.attempts,
                max_attempts: job.max_attempts,
                next_try_at: job.next_try_at.map(timestamp),
                last_error: job.last_error,
                updated_at: timestamp(job.updated_at),
            }
        }
    }

    impl From<ReconcileRun> for ReconcileRunView {
        fn from(run: ReconcileRun) -> Self {
            ReconcileRunView {
                started_at: timestamp(run.started_at),
                finished_at: run.finished_at.map(timestamp),
                changes: run.changes,
                error: run.error,
            }
        }
    }

    impl From<UserSync> for UserSyncView {
        fn from(sync: UserSync) -> Self {
            UserSyncView {
                system: sync.target.as_str().to_owned(),
                last_synced_at: sync.last_synced_at.map(timestamp),
                last_error: sync.last_error,
                job: sync.job.map(SyncJobView::from),
            }
        }
    }

    /// The sync page's data.
    pub async fn page(state: &backend::AppState) -> Result<SyncPageView, ApiError> {
        use backend::sync::status;

        let jobs = status::open_jobs(&state.pool).await?;
        let count = |s: JobState| jobs.iter().filter(|j| j.state == s).count();
        Ok(SyncPageView {
            systems: state
                .outbox
                .targets()
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            failed: count(JobState::Failed),
            retrying: count(JobState::Retrying),
            pending: count(JobState::Pending) + count(JobState::Running),
            jobs: jobs.into_iter().map(SyncJobView::from).collect(),
            last_reconcile: status::reconcile_runs(&state.pool, 1)
                .await?
                .into_iter()
                .next()
                .map(ReconcileRunView::from),
            dropped_attributes: state
                .systems
                .keycloak
                .as_ref()
                .map(|k| k.dropped_attributes())
                .unwrap_or_default(),
        })
    }

    /// A user's sync with each system.
    pub async fn for_user(
        state: &backend::AppState,
        user: backend::ids::UserId,
    ) -> Result<Vec<UserSyncView>, ApiError> {
        Ok(
            backend::sync::status::for_user(&state.pool, &state.outbox, user)
                .await?
                .into_iter()
                .map(UserSyncView::from)
                .collect(),
        )
    }

    /// "Retry now" of one user's job in one system.
    pub async fn retry(
        state: &backend::AppState,
        system: &str,
        user_id: &str,
    ) -> Result<(), ApiError> {
        use crate::error::ErrorCode;

        let target = backend::sync::Target::ALL
            .into_iter()
            .find(|t| t.as_str() == system)
            .ok_or_else(|| {
                ApiError::new(ErrorCode::InvalidBody, "system must be keycloak or lago.")
            })?;
        let user = user_id
            .trim()
            .parse::<uuid::Uuid>()
            .map(backend::ids::UserId::from_uuid)
            .map_err(|_| ApiError::new(ErrorCode::UnknownUser, "There is no such user."))?;
        let exists: Option<backend::ids::UserId> =
            sqlx::query_scalar("select id from users where id = $1")
                .bind(user)
                .fetch_optional(&state.pool)
                .await?;
        if exists.is_none() {
            return Err(ApiError::new(
                ErrorCode::UnknownUser,
                "There is no such user.",
            ));
        }
        if !backend::sync::status::retry(&state.pool, &state.outbox, target, user).await? {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("{system} is not synced here (it is not configured)."),
            ));
        }
        Ok(())
    }
}

/// The sync page: open jobs, counts, the last reconcile.
#[server(endpoint = "admin_sync")]
pub async fn admin_sync() -> Result<SyncPageView, ApiError> {
    crate::admin::ssr::require_admin().await?;
    ssr::page(&crate::admin::ssr::state()).await
}

/// Retries one user's job in one system now.
#[server(endpoint = "retry_sync")]
pub async fn retry_sync(system: String, user_id: String) -> Result<(), ApiError> {
    crate::admin::ssr::require_admin().await?;
    ssr::retry(&crate::admin::ssr::state(), &system, &user_id).await
}

/// Retries every failed job now; answers how many.
#[server(endpoint = "retry_failed_syncs")]
pub async fn retry_failed_syncs() -> Result<usize, ApiError> {
    crate::admin::ssr::require_admin().await?;
    let state = crate::admin::ssr::state();
    Ok(backend::sync::status::retry_failed(&state.pool, &state.outbox).await?)
}
