//! Users are recorded by their Keycloak subject on first sight.

use std::sync::Arc;

use crate::support::TestDatabase;
use backend::users::{self, Profile};
use tokio::sync::Barrier;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_users_simultaneous_first_requests_agree_on_one_row() {
    const AT_ONCE: usize = 8;
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    // Open the connections first so the upserts really start together.
    let warm: Vec<_> = open_connections(&pool, AT_ONCE).await;
    drop(warm);
    for round in 0..10 {
        let sub = format!("sub-racing-{round}");
        let start = Arc::new(Barrier::new(AT_ONCE));
        let mut tasks = Vec::new();
        for _ in 0..AT_ONCE {
            let (pool, start, sub) = (pool.clone(), start.clone(), sub.clone());
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                users::upsert(
                    &pool,
                    &Profile {
                        keycloak_sub: &sub,
                        email: Some("racer@example.com"),
                        name: Some("Racer"),
                    },
                )
                .await
            }));
        }
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(
                task.await
                    .unwrap()
                    .expect("every first request finds the user"),
            );
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{ids:?}");
    }
    let rows: i64 =
        sqlx::query_scalar("select count(*) from users where keycloak_sub like 'sub-racing-%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(rows, 10);
}

async fn open_connections(
    pool: &sqlx::PgPool,
    n: usize,
) -> Vec<sqlx::pool::PoolConnection<sqlx::Postgres>> {
    let mut connections = Vec::new();
    for _ in 0..n {
        connections.push(pool.acquire().await.unwrap());
    }
    connections
}
