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
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(DbError::Connect)?;
    MIGRATOR.run(&pool).await.map_err(DbError::Migrate)?;
    Ok(pool)
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
