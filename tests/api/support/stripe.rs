//! The Stripe emulator as a test instrument, and database look-ups the
//! purchase tests share.

use backend::{
    Secret,
    config::StripeConfig,
    ids::{CheckoutSessionId, UserId},
    stripe::StripeGateway,
};
use sqlx::PgPool;
use stripe_emulator::Emulator;

/// An in-process emulator on a free port with the seeded catalogue and quick retries.
pub async fn start_emulator() -> Emulator {
    Emulator::start(stripe_emulator::Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        seed: true,
        retry_base_secs: 0.1,
        ..stripe_emulator::Config::default()
    })
    .await
    .expect("emulator starts")
}

/// The app's own Stripe gateway pointed at `emulator`, for setting the scene.
pub fn gateway(emulator: &Emulator, key: &str) -> StripeGateway {
    StripeGateway::new(&StripeConfig {
        secret_key: Secret::new(key),
        publishable_key: None,
        api_base: Some(emulator.base_url.parse().unwrap()),
        webhook_secrets_credits: vec![],
        webhook_secrets_subscriptions: vec![],
    })
    .expect("gateway")
}

/// The user's balance (0 without any ledger entry).
pub async fn balance_of(pool: &PgPool, user: UserId) -> i64 {
    sqlx::query_scalar(
        "select coalesce((select balance from credit_balances where user_id = $1), 0)",
    )
    .bind(user)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The status of the purchase paid through `session`.
pub async fn purchase_status(pool: &PgPool, session: &CheckoutSessionId) -> String {
    sqlx::query_scalar("select status from credit_purchases where stripe_checkout_session_id = $1")
        .bind(session.as_str())
        .fetch_one(pool)
        .await
        .unwrap()
}

/// How many ledger rows exist in this test's database.
pub async fn ledger_entries(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from credit_ledger")
        .fetch_one(pool)
        .await
        .unwrap()
}
