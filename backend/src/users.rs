//! People who have logged in, keyed by their Keycloak subject.

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
