//! The PostgreSQL pool: created at startup, with the database created if it
//! is missing and the migrations applied.

use std::{str::FromStr, time::Duration};

use sqlx::{
    Connection, PgConnection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL is not a valid PostgreSQL connection string")]
    BadUrl(#[source] sqlx::Error),
    #[error("cannot reach PostgreSQL to create database {database:?}")]
    Create {
        database: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot connect to the database")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply database migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// Connects to `database_url`, creating the database if it does not exist,
/// and applies pending migrations.
pub async fn connect_and_migrate(database_url: &str) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(database_url).map_err(DbError::BadUrl)?;
    create_database_if_missing(&options).await?;
    let pool = pool_options()
        .connect_with(connect_options(options))
        .await
        .map_err(DbError::Connect)?;
    MIGRATOR.run(&pool).await.map_err(DbError::Migrate)?;
    Ok(pool)
}

/// How long the server lets one of our sessions sit idle inside a
/// transaction before it ends that session (and so the transaction and its
/// locks). A backstop: nothing of ours leaves a transaction idle that long on
/// purpose. The longest legitimate pause is a Stripe call inside a catalogue
/// change (`packages::manage`), which the HTTP client gives up on sooner.
pub const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Session settings every connection of ours gets.
pub fn connect_options(options: PgConnectOptions) -> PgConnectOptions {
    let timeout = format!("{}ms", IDLE_IN_TRANSACTION_TIMEOUT.as_millis());
    options
        .application_name("ops-center-credits")
        .options([("idle_in_transaction_session_timeout", timeout.as_str())])
}

/// A pooled connection idle longer than this is pinged before it is handed
/// out (a dead one is replaced); one used more recently is not. Its last
/// statement succeeded moments ago and the release check read its status,
/// so under load a ping on every borrow is a round trip that tells nothing
/// new.
pub const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// The pool: bounded, and it never hands out a connection that is still
/// inside a transaction, whatever left it there (a future cancelled
/// mid-`BEGIN`, see `vendor/sqlx-postgres/PATCHED.md`).
pub fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(20)
        .acquire_timeout(Duration::from_secs(5))
        // Instead of sqlx's ping on every borrow: only after a quiet spell.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_WHEN_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .after_release(|conn, _meta| Box::pin(async move { is_outside_transaction(conn).await }))
}

/// Whether the server has this session outside any transaction block. Asked
/// on every release; a connection that fails the check is closed instead of
/// going back to the pool. sqlx's own bookkeeping (`is_in_transaction`) is
/// not enough: the failure this guards against is exactly a transaction the
/// server has and sqlx does not know of. The server states its transaction
/// status in every ReadyForQuery; once every answer has been read, the last
/// one still holds (nothing else speaks on this connection), so a clean
/// release costs no round trip. With answers outstanding (a future dropped
/// mid-query) a Sync drains them and brings a fresh status. A failed
/// transaction block is not outside either. A connection this approves goes
/// back to the pool without sqlx's own ping (`vendor/sqlx-core/PATCHED.md`):
/// everything that ping would flush has been drained here.
pub async fn is_outside_transaction(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    if conn.is_in_transaction() {
        tracing::error!("a pooled connection came back inside a transaction; closing it");
        return Ok(false);
    }
    let clean = match conn.idle_on_server() {
        Some(idle) => idle,
        None => {
            conn.ping().await?;
            conn.idle_on_server().unwrap_or(false)
        }
    };
    if !clean {
        tracing::error!(
            "a pooled connection came back inside a transaction sqlx did not track; closing it"
        );
    }
    Ok(clean)
}

/// Whether the database answers a trivial query within `timeout`.
pub async fn is_reachable(pool: &PgPool, timeout: Duration) -> bool {
    let ping = sqlx::query_scalar::<_, i32>("select 1").fetch_one(pool);
    matches!(tokio::time::timeout(timeout, ping).await, Ok(Ok(1)))
}

async fn create_database_if_missing(options: &PgConnectOptions) -> Result<(), DbError> {
    let Some(database) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    let create_err = |source| DbError::Create {
        database: database.clone(),
        source,
    };
    // If we can connect to it, it exists (and we may lack rights to `postgres`).
    if PgConnection::connect_with(options).await.is_ok() {
        return Ok(());
    }
    let mut maintenance = PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .map_err(create_err)?;
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(&database)
            .fetch_one(&mut maintenance)
            .await
            .map_err(create_err)?;
    if !exists {
        let statement = format!("create database {}", quote_identifier(&database));
        match sqlx::raw_sql(&statement).execute(&mut maintenance).await {
            Ok(_) => tracing::info!(%database, "created database"),
            // Another process created it in the meantime.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(e) => return Err(create_err(e)),
        }
    }
    Ok(())
}

/// `"name"`, with embedded quotes doubled.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
