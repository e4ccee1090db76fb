//! People who have logged in, keyed by their Keycloak subject.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use sqlx::PgPool;

use crate::ids::UserId;

/// What the provider says about a user; refreshed on every login.
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    pub keycloak_sub: &'a str,
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// The user's id, inserting them on first sight and updating e-mail and
/// name when they changed (no write when nothing changed).
pub async fn upsert(pool: &PgPool, profile: &Profile<'_>) -> Result<UserId, sqlx::Error> {
    // Two first requests of a new user race: the loser's insert waits for
    // the winner's row, but its statement's snapshot predates that row, so
    // neither branch returns it. A second statement (new snapshot) does.
    for _ in 0..3 {
        let id = sqlx::query_scalar::<_, UserId>(
            "with written as (
                 insert into users (keycloak_sub, email, name) values ($1, $2, $3)
                 on conflict on constraint users_keycloak_sub_key do update
                     set email = excluded.email, name = excluded.name, updated_at = now()
                     where (users.email, users.name) is distinct from (excluded.email, excluded.name)
                 returning id
             )
             select id from written
             union all
             select id from users where keycloak_sub = $1
             limit 1",
        )
        .bind(profile.keycloak_sub)
        .bind(profile.email)
        .bind(profile.name)
        .fetch_optional(pool)
        .await?;
        if let Some(id) = id {
            return Ok(id);
        }
    }
    Err(sqlx::Error::RowNotFound)
}

/// Users this process has already written with a given profile, so that a
/// bearer request (which carries the profile in its token) reads instead of
/// writing: an entry holds until the token that brought it expires. Cheap to
/// clone; bounded.
#[derive(Clone, Default)]
pub struct KnownUsers {
    inner: Arc<Mutex<HashMap<String, Known>>>,
}

struct Known {
    id: UserId,
    email: Option<String>,
    name: Option<String>,
    /// Unix seconds.
    until: i64,
}

/// More entries than this and expired ones are dropped (all, if none expired).
const KNOWN_USERS_MAX: usize = 50_000;

impl KnownUsers {
    /// The user's id, writing the row only when this process has not seen
    /// this exact profile before a still-valid `until` (Unix seconds).
    pub async fn upsert(
        &self,
        pool: &PgPool,
        profile: &Profile<'_>,
        until: i64,
    ) -> Result<UserId, sqlx::Error> {
        let now = chrono::Utc::now().timestamp();
        if let Some(id) = self.lookup(profile, now) {
            return Ok(id);
        }
        let id = upsert(pool, profile).await?;
        self.remember(profile, id, until, now);
        Ok(id)
    }

    fn lookup(&self, profile: &Profile<'_>, now: i64) -> Option<UserId> {
        let known = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        known
            .get(profile.keycloak_sub)
            .filter(|k| {
                k.until > now
                    && k.email.as_deref() == profile.email
                    && k.name.as_deref() == profile.name
            })
            .map(|k| k.id)
    }

    fn remember(&self, profile: &Profile<'_>, id: UserId, until: i64, now: i64) {
        let mut known = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= KNOWN_USERS_MAX {
            known.retain(|_, k| k.until > now);
            if known.len() >= KNOWN_USERS_MAX {
                known.clear();
            }
        }
        known.insert(
            profile.keycloak_sub.to_owned(),
            Known {
                id,
                email: profile.email.map(str::to_owned),
                name: profile.name.map(str::to_owned),
                until,
            },
        );
    }
}
