//! The ledger's one rule at the database: a reference is written once, and
//! the balance counts only what was written, even when the same grant is
//! attempted again, one after another or at the same time.

use backend::{
    ids::UserId,
    ledger::{self, LedgerSource, NewEntry},
};
use domain::Credits;

use sqlx::Connection;

use crate::support::{TestDatabase, fresh_connection, writes_so_far};

fn grant(user: UserId, reference: &str) -> NewEntry<'_> {
    NewEntry {
        user,
        amount: Credits::signed(6000),
        source: LedgerSource::SubscriptionAllowance,
        reference,
        purchase: None,
        description: "test grant",
        created_at: None,
        expires_at: None,
    }
}

async fn new_user(pool: &sqlx::PgPool) -> UserId {
    sqlx::query_scalar("insert into users (keycloak_sub) values ('s') returning id")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn sums(pool: &sqlx::PgPool, user: UserId) -> (i64, i64) {
    sqlx::query_as(
        "select (select balance from credit_balances where user_id = $1), \
                (select sum(amount)::bigint from credit_ledger where user_id = $1)",
    )
    .bind(user)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_reference_written_again_changes_neither_ledger_nor_balance() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let user = new_user(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    assert!(
        ledger::append(&mut conn, &grant(user, "invoice:in_1"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        ledger::append(&mut conn, &grant(user, "invoice:in_1"))
            .await
            .unwrap()
            .is_none()
    );
    drop(conn);
    assert_eq!(sums(&pool, user).await, (6000, 6000));

    // Sixteen attempts at once, each in its own transaction: one grant.
    let attempts = (0..16).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut tx = pool.begin().await.unwrap();
            let written = ledger::append(&mut tx, &grant(user, "invoice:in_2"))
                .await
                .unwrap()
                .is_some();
            tx.commit().await.unwrap();
            written
        })
    });
    let written = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|w| *w.as_ref().unwrap())
        .count();
    assert_eq!(written, 1);
    assert_eq!(sums(&pool, user).await, (12_000, 12_000));
}

/// A spend changes the user's balance row once: its first step
/// (`wallet_lock`) only locks the row, where it used to write a second
/// version of it with a no-op upsert.
#[tokio::test]
async fn a_spend_writes_the_balance_row_once() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let user = new_user(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    ledger::append(&mut conn, &grant(user, "invoice:in_1"))
        .await
        .unwrap()
        .expect("granted");
    drop(conn);

    let mut conn = fresh_connection(&pool).await;
    let mut tx = conn.begin().await.unwrap();
    let outcome: String = sqlx::query_scalar(
        "select outcome from wallet_spend('svc', 'spend-1', 'hash-1', $1, 5, 'a spend', 'svc', '{}')",
    )
    .bind(user)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(outcome, "done");
    assert_eq!(writes_so_far(&mut tx, "credit_balances").await, (0, 1));
    tx.commit().await.unwrap();
    assert_eq!(sums(&pool, user).await, (5995, 5995));
}
