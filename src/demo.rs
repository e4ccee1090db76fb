//! Demo data for development (`ops-center-credits seed-demo --yes-this-is-dev`),
//! kept out of the service crate: ledger rows and audit rows go through
//! `backend::ledger::append` and `backend::audit::record` (backdated);
//! users and purchases, which no service writes in the past, by SQL here.
//!
//! What it writes:
//! the dev IdP's users (so alice and bob see their purchases when they log
//! in) plus six more, and a few hundred purchases over the last 90 days with
//! a realistic mix of statuses, their ledger entries and audit rows; then
//! promotional credits for alice and a few spends by services for everyone.
//!
//! Deterministic and idempotent: the purchases carry session ids
//! `cs_demo_NNNN`; when any exist, seeding does nothing. Everything is
//! written in one transaction, through the ledger's balance trigger, so
//! balances equal the sum of the ledger. Never for production: see
//! [`refuse_unless_dev`].

use backend::{
    Config,
    audit::{self, Actor},
    ids::{PackageId, PurchaseId, UserId},
    ledger::{self, LedgerSource},
};
use chrono::{DateTime, Duration, Utc};
use domain::Credits;
use serde_json::json;
use sqlx::PgPool;

/// The flag `seed-demo` insists on.
pub const CONFIRM_FLAG: &str = "--yes-this-is-dev";

/// How many purchases a seeding writes.
pub const PURCHASES: usize = 320;
/// Over how many days before now.
pub const DAYS: i64 = 90;

/// `(keycloak sub, e-mail, name, weight)`: the first three are the dev IdP's
/// users (`tools/dev-idp/realm-export.json`), so their logins see the data.
const USERS: [(&str, &str, &str, u64); 9] = [
    (
        "8f3c2a71-5d4e-4b6a-9c1f-2e7d8a9b0c11",
        "admin@example.com",
        "Ada Admin",
        1,
    ),
    (
        "4b1e9f62-3a7c-4d28-8e5f-6c0a1b2d3e41",
        "alice@example.com",
        "Alice Anderson",
        6,
    ),
    (
        "c7d2e843-9b1f-4a6e-b3c5-0f8e7d6c5b52",
        "bob@example.com",
        "Bob Brown",
        5,
    ),
    ("demo-carol", "carol@example.com", "Carol Chen", 4),
    ("demo-dave", "dave@example.com", "Dave Diaz", 3),
    ("demo-erin", "erin@example.com", "Erin Evans", 3),
    ("demo-frank", "frank@example.com", "Frank Fischer", 2),
    ("demo-grace", "grace@example.com", "Grace García", 2),
    ("demo-heidi", "heidi@example.com", "Heidi Huber", 1),
];

/// `(package code, weight)`.
const PACKAGES: [(&str, u64); 4] = [
    ("starter", 40),
    ("standard", 30),
    ("pro", 20),
    ("enterprise", 10),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotDev {
    #[error(
        "seed-demo writes demo data; run it as `seed-demo {}` on a development database",
        CONFIRM_FLAG
    )]
    NotConfirmed,
    #[error("APP_BASE_URL is {0}: seed-demo only runs when the app is on localhost or 127.0.0.1")]
    NotLocal(String),
    #[error("STRIPE_SECRET_KEY is a live key: seed-demo never runs against a live Stripe account")]
    LiveStripeKey,
}

/// Seeding runs only with [`CONFIRM_FLAG`], with `APP_BASE_URL` on the
/// loopback (`localhost`, `127.0.0.1`, `[::1]`) and without a live Stripe key.
pub fn refuse_unless_dev(config: &Config, confirmed: bool) -> Result<(), NotDev> {
    if !confirmed {
        return Err(NotDev::NotConfirmed);
    }
    let local = matches!(
        config.app_base_url.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]")
    );
    if !local {
        return Err(NotDev::NotLocal(config.app_base_url.to_string()));
    }
    let key = config.stripe.secret_key.expose();
    if key.starts_with("sk_live_") || key.starts_with("rk_live_") {
        return Err(NotDev::LiveStripeKey);
    }
    Ok(())
}

/// What a seeding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    /// `false` when demo purchases existed already (nothing was written).
    pub seeded: bool,
    pub users: usize,
    pub purchases: usize,
    pub ledger_entries: usize,
}

/// A small deterministic generator (xorshift64*): the same data every time.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `0..n`
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn weighted<T: Copy>(&mut self, items: &[(T, u64)]) -> T {
        let total: u64 = items.iter().map(|(_, w)| w).sum();
        let mut roll = self.below(total);
        for (item, weight) in items {
            if roll < *weight {
                return *item;
            }
            roll -= weight;
        }
        items[items.len() - 1].0
    }
}

enum Fate {
    Completed,
    PartiallyRefunded(i64),
    Refunded,
    Failed,
    Expired,
    Pending,
}

struct LedgerEvent {
    at: DateTime<Utc>,
    user: UserId,
    purchase: PurchaseId,
    amount: i64,
    source: LedgerSource,
    reference: String,
    description: String,
}

/// Writes the demo users and purchases unless demo purchases exist already.
pub async fn seed(pool: &PgPool, now: DateTime<Utc>) -> Result<SeedReport, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // One seeding at a time; a second waits here and then finds the data.
    sqlx::query("select pg_advisory_xact_lock(7418529630)")
        .execute(&mut *tx)
        .await?;
    let seeded: bool = sqlx::query_scalar(
        "select exists (select 1 from credit_purchases where stripe_checkout_session_id like 'cs\\_demo\\_%')",
    )
    .fetch_one(&mut *tx)
    .await?;
    if seeded {
        return Ok(SeedReport {
            seeded: false,
            users: 0,
            purchases: 0,
            ledger_entries: 0,
        });
    }

    let mut users = Vec::new();
    for (sub, email, name, weight) in USERS {
        let id: UserId = sqlx::query_scalar(
            "insert into users (keycloak_sub, email, name) values ($1, $2, $3)
             on conflict on constraint users_keycloak_sub_key do update set keycloak_sub = excluded.keycloak_sub
             returning id",
        )
        .bind(sub)
        .bind(email)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        users.push((id, weight));
    }
    let packages: Vec<(PackageId, String, String, i64, i64, i32)> = sqlx::query_as(
        "select id, package_code, package_name, credits, price_cents, discount_percentage
         from credit_packages where package_code = any($1)",
    )
    .bind(PACKAGES.map(|(code, _)| code).to_vec())
    .fetch_all(&mut *tx)
    .await?;
    let weighted_packages: Vec<(usize, u64)> = packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let weight = PACKAGES
                .iter()
                .find(|(code, _)| *code == p.1)
                .map_or(1, |(_, w)| *w);
            (i, weight)
        })
        .collect();

    let mut dice = Dice(0x0cc5_eed5_2026_1122);
    let mut ledger = Vec::new();
    for n in 0..PURCHASES {
        let user = dice.weighted(&users);
        let (package_id, code, name, credits, price, discount) =
            &packages[dice.weighted(&weighted_packages)];
        let created_at = now - Duration::seconds(dice.below((DAYS * 86_400) as u64) as i64);
        let roll = dice.below(100);
        let fate = match roll {
            0..70 => Fate::Completed,
            70..78 => Fate::Expired,
            78..84 => Fate::Failed,
            84..90 if now - created_at < Duration::days(2) => Fate::Pending,
            84..90 => Fate::Expired,
            90..96 => Fate::PartiallyRefunded(price * [25, 50, 75][dice.below(3) as usize] / 100),
            _ => Fate::Refunded,
        };
        let paid = matches!(
            fate,
            Fate::Completed | Fate::PartiallyRefunded(_) | Fate::Refunded
        );
        let completed_at =
            paid.then(|| created_at + Duration::seconds(30 + dice.below(600) as i64));
        let (status, refunded) = match fate {
            Fate::Completed => ("completed", 0),
            Fate::PartiallyRefunded(cents) => ("partially_refunded", cents),
            Fate::Refunded => ("refunded", *price),
            Fate::Failed => ("failed", 0),
            Fate::Expired => ("expired", 0),
            Fate::Pending => ("pending", 0),
        };
        let session = format!("cs_demo_{n:04}");
        let intent = paid.then(|| format!("pi_demo_{n:04}"));
        let purchase: PurchaseId = sqlx::query_scalar(
            "insert into credit_purchases
                 (user_id, package_id, package_code, package_name, amount_credits, amount_paid_cents,
                  discount_percentage, status, refunded_cents, stripe_checkout_session_id,
                  stripe_payment_intent_id, created_at, completed_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, coalesce($13, $12))
             returning id",
        )
        .bind(user)
        .bind(package_id)
        .bind(code)
        .bind(name)
        .bind(credits)
        .bind(price)
        .bind(discount)
        .bind(status)
        .bind(refunded)
        .bind(&session)
        .bind(&intent)
        .bind(created_at)
        .bind(completed_at)
        .fetch_one(&mut *tx)
        .await?;
        audit(
            &mut tx,
            created_at,
            "purchase.created",
            user,
            purchase,
            json!({ "package_code": code, "credits": credits, "amount_cents": price }),
        )
        .await?;
        let Some(completed_at) = completed_at else {
            if matches!(fate, Fate::Failed | Fate::Expired) {
                let action = if matches!(fate, Fate::Failed) {
                    "purchase.failed"
                } else {
                    "purchase.expired"
                };
                let at = created_at + Duration::hours(24);
                audit(
                    &mut tx,
                    at.min(now),
                    action,
                    user,
                    purchase,
                    json!({ "session": session }),
                )
                .await?;
            }
            continue;
        };
        audit(
            &mut tx,
            completed_at,
            "purchase.completed",
            user,
            purchase,
            json!({ "session": session, "payment_intent": intent, "credits": credits }),
        )
        .await?;
        ledger.push(LedgerEvent {
            at: completed_at,
            user,
            purchase,
            amount: *credits,
            source: LedgerSource::Purchase,
            reference: format!("checkout_session:{session}"),
            description: format!("Purchase of {name}"),
        });
        if refunded > 0 {
            let take_back = Credits::signed(*credits).share(refunded, *price);
            let at = (completed_at + Duration::hours(1 + dice.below(24 * 10) as i64)).min(now);
            audit(
                &mut tx,
                at,
                "purchase.refunded",
                user,
                purchase,
                json!({ "payment_intent": intent, "refunded_total_cents": refunded, "credits_taken_back": take_back }),
            )
            .await?;
            ledger.push(LedgerEvent {
                at,
                user,
                purchase,
                amount: -take_back,
                source: LedgerSource::Refund,
                reference: format!("refund:{purchase}:{refunded}"),
                description: format!("Refund of {name}"),
            });
        }
    }

    // In time order, so each entry's balance_after is the balance at that moment.
    ledger.sort_by_key(|event| event.at);
    for event in &ledger {
        // No demo reference exists yet (checked above, under the lock).
        ledger::append(
            &mut tx,
            &ledger::NewEntry {
                user: event.user,
                amount: Credits::signed(event.amount),
                source: event.source,
                reference: &event.reference,
                purchase: Some(event.purchase),
                description: &event.description,
                created_at: Some(event.at),
                expires_at: None,
            },
        )
        .await?;
    }
    let wallet_entries = wallet_activity(&mut tx, now).await?;
    tx.commit().await?;
    Ok(SeedReport {
        seeded: true,
        users: users.len(),
        purchases: PURCHASES,
        ledger_entries: ledger.len() + wallet_entries,
    })
}

/// One audit row of the seeding, by `seed-demo`, backdated to `at`.
/// What the wallet shows: promotional credits for alice (expiring in 20
/// days) and, for everyone with credits, six spends by Ops-Center services
/// over the last fortnight (3% of their balance each).
async fn wallet_activity(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    let promotions = sqlx::query(
        "insert into credit_ledger (user_id, amount, source, reference, description, grant_kind, expires_at, created_at) \
         select id, 2000, 'promotional', 'demo-promotion:alice', 'Welcome to Ops-Center', 'promotional', \
                $1::timestamptz + interval '20 days', $1::timestamptz - interval '5 days' \
         from users where email = 'alice@example.com'",
    )
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    let spends = sqlx::query(
        "insert into credit_ledger (user_id, amount, source, reference, description, service, metadata, created_at) \
         select b.user_id, -(b.balance * 3 / 100), 'usage', 'demo-spend:' || b.user_id || ':' || k, \
                (array['Chat completion', 'Embeddings batch', 'Web search'])[1 + k % 3], \
                (array['model-gateway', 'embeddings', 'search'])[1 + k % 3], \
                jsonb_build_object('service', (array['model-gateway', 'embeddings', 'search'])[1 + k % 3], \
                                   'model', (array['gpt-x', 'embed-2', 'web-1'])[1 + k % 3], 'units', 100 * k), \
                $1::timestamptz - make_interval(days => 14 - 2 * k, hours => k) \
         from credit_balances b cross join generate_series(1, 6) k \
         where b.balance >= 100 order by k, b.user_id",
    )
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok((promotions + spends) as usize)
}

async fn audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    at: DateTime<Utc>,
    action: &str,
    user: UserId,
    purchase: PurchaseId,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    audit::record(
        tx,
        audit::NewEntry {
            actor: Actor::Tool("seed-demo"),
            action,
            user: Some(user),
            purchase: Some(purchase),
            ledger: None,
            details,
            occurred_at: Some(at),
        },
    )
    .await
}
