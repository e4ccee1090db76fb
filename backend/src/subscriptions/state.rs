//! The stored state of each Stripe subscription (`subscriptions`), written
//! only under that subscription's lock ([`lock`]) with what Stripe said.

use chrono::{DateTime, Duration, Utc};
use domain::{BillingCycle, Cents, SubscriptionStatus};
use sqlx::{PgConnection, PgPool};

use super::{SubscriptionError, tiers};
use crate::{
    ids::{SubscriptionId, UserId},
    stripe::SubscriptionSnapshot,
    sync::Outbox,
};

/// How far past our clock a state fetched from Stripe is dated. An event
/// is applied from its own object only when it is newer than the state we
/// hold; dating a fetch a little in the future makes events from around
/// the time of the fetch (same second, or a clock a little ahead of ours)
/// ask Stripe again instead of trusting their possibly older object.
pub const FETCH_MARGIN: Duration = Duration::seconds(60);

/// A subscription as we last stored it: what Stripe said, and ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSubscription {
    /// Stripe's state as of [`StoredSubscription::state_as_of`].
    pub stripe: SubscriptionSnapshot,
    /// Whose plan it is (`stripe.user_id` is what its metadata says).
    pub user_id: UserId,
    /// `None` when its price is not one of our tiers'.
    pub tier_code: Option<String>,
    pub cycle: Option<BillingCycle>,
    pub state_as_of: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    stripe_subscription_id: String,
    user_id: UserId,
    stripe_customer_id: String,
    tier_code: Option<String>,
    billing_cycle: Option<String>,
    stripe_price_id: Option<String>,
    stripe_item_id: Option<String>,
    status: String,
    amount_cents: Option<i64>,
    current_period_start: Option<DateTime<Utc>>,
    current_period_end: Option<DateTime<Utc>>,
    cancel_at_period_end: bool,
    canceled_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    started_at: DateTime<Utc>,
    state_as_of: DateTime<Utc>,
    default_payment_method: Option<String>,
}

const COLUMNS: &str = "stripe_subscription_id, user_id, stripe_customer_id, tier_code, billing_cycle, \
     stripe_price_id, stripe_item_id, status, amount_cents, current_period_start, current_period_end, \
     cancel_at_period_end, canceled_at, ended_at, started_at, state_as_of, default_payment_method";

impl TryFrom<Row> for StoredSubscription {
    type Error = SubscriptionError;

    fn try_from(row: Row) -> Result<Self, SubscriptionError> {
        let corrupt = |what: String| {
            SubscriptionError::Corrupt(format!(
                "subscription {}: {what}",
                row.stripe_subscription_id
            ))
        };
        Ok(StoredSubscription {
            stripe: SubscriptionSnapshot {
                id: row
                    .stripe_subscription_id
                    .parse()
                    .map_err(|e| corrupt(format!("{e}")))?,
                customer_id: row
                    .stripe_customer_id
                    .parse()
                    .map_err(|e| corrupt(format!("{e}")))?,
                price_id: row.stripe_price_id.as_deref().and_then(|p| p.parse().ok()),
                item_id: row.stripe_item_id.as_deref().and_then(|p| p.parse().ok()),
                status: row.status.parse().map_err(|e| corrupt(format!("{e}")))?,
                amount: row
                    .amount_cents
                    .map(Cents::new)
                    .transpose()
                    .map_err(|e| corrupt(e.to_string()))?,
                current_period_start: row.current_period_start,
                current_period_end: row.current_period_end,
                cancel_at_period_end: row.cancel_at_period_end,
                canceled_at: row.canceled_at,
                ended_at: row.ended_at,
                created: row.started_at,
                user_id: Some(row.user_id),
                default_payment_method: row.default_payment_method,
            },
            cycle: row
                .billing_cycle
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| corrupt(format!("{e}")))?,
            user_id: row.user_id,
            tier_code: row.tier_code,
            state_as_of: row.state_as_of,
        })
    }
}

/// Takes the subscription's lock until the end of the caller's transaction:
/// every change to one subscription (webhook events, the user's own
/// actions) runs one at a time, across instances.
pub async fn lock(conn: &mut PgConnection, id: &SubscriptionId) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('subscription:' || $1, 0))")
        .bind(id.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// The stored state of `id`, if any.
pub async fn find(
    conn: &mut PgConnection,
    id: &SubscriptionId,
) -> Result<Option<StoredSubscription>, SubscriptionError> {
    let row = sqlx::query_as::<_, Row>(&format!(
        "select {COLUMNS} from subscriptions where stripe_subscription_id = $1"
    ))
    .bind(id.as_str())
    .fetch_optional(conn)
    .await?;
    row.map(StoredSubscription::try_from).transpose()
}

/// The statuses of a live subscription ([`SubscriptionStatus::is_live`]),
/// to bind as a `text[]`.
pub fn live_statuses() -> Vec<&'static str> {
    SubscriptionStatus::ALL
        .into_iter()
        .filter(|status| status.is_live())
        .map(SubscriptionStatus::as_str)
        .collect()
}

/// The user's current plan: their newest live subscription, or else their
/// newest one at all (ended: "no active plan"), or `None` if they never had one.
pub async fn current_for_user<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    user: UserId,
) -> Result<Option<StoredSubscription>, SubscriptionError> {
    let row = sqlx::query_as::<_, Row>(&format!(
        "select {COLUMNS} from subscriptions where user_id = $1 \
         order by (status = any($2)) desc, started_at desc \
         limit 1"
    ))
    .bind(user)
    .bind(live_statuses())
    .fetch_optional(executor)
    .await?;
    row.map(StoredSubscription::try_from).transpose()
}

/// The user's subscription `id`, if it is theirs.
pub async fn find_for_user(
    pool: &PgPool,
    user: UserId,
    id: &str,
) -> Result<Option<StoredSubscription>, SubscriptionError> {
    let row = sqlx::query_as::<_, Row>(&format!(
        "select {COLUMNS} from subscriptions where user_id = $1 and stripe_subscription_id = $2"
    ))
    .bind(user)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(StoredSubscription::try_from).transpose()
}

/// Stores `snapshot` as of `as_of` for `user` (under the lock), with its
/// tier found from its price, and adds the jobs that bring Keycloak and
/// Lago up to date to the same transaction. Returns the stored state.
pub async fn store(
    conn: &mut PgConnection,
    outbox: &Outbox,
    snapshot: &SubscriptionSnapshot,
    user: UserId,
    as_of: DateTime<Utc>,
) -> Result<StoredSubscription, SubscriptionError> {
    let plan = match &snapshot.price_id {
        Some(price) => tiers::by_price(conn, price).await?,
        None => None,
    };
    if plan.is_none() {
        tracing::warn!(subscription = %snapshot.id, price = ?snapshot.price_id, "subscription price is not one of our tiers");
    }
    let row = sqlx::query_as::<_, Row>(&format!(
        "insert into subscriptions (stripe_subscription_id, user_id, stripe_customer_id, tier_code, \
             billing_cycle, stripe_price_id, stripe_item_id, status, amount_cents, current_period_start, \
             current_period_end, cancel_at_period_end, canceled_at, ended_at, started_at, state_as_of, \
             default_payment_method) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         on conflict (stripe_subscription_id) do update set \
             stripe_customer_id = excluded.stripe_customer_id, tier_code = excluded.tier_code, \
             billing_cycle = excluded.billing_cycle, stripe_price_id = excluded.stripe_price_id, \
             stripe_item_id = excluded.stripe_item_id, status = excluded.status, \
             amount_cents = excluded.amount_cents, current_period_start = excluded.current_period_start, \
             current_period_end = excluded.current_period_end, \
             cancel_at_period_end = excluded.cancel_at_period_end, canceled_at = excluded.canceled_at, \
             ended_at = excluded.ended_at, state_as_of = greatest(subscriptions.state_as_of, excluded.state_as_of), \
             default_payment_method = coalesce(excluded.default_payment_method, subscriptions.default_payment_method), \
             updated_at = now() \
         returning {COLUMNS}"
    ))
    .bind(snapshot.id.as_str())
    .bind(user)
    .bind(snapshot.customer_id.as_str())
    .bind(plan.as_ref().map(|(tier, _)| tier.code.as_str()))
    .bind(plan.as_ref().map(|(_, cycle)| cycle.as_str()))
    .bind(snapshot.price_id.as_ref().map(|p| p.as_str()))
    .bind(snapshot.item_id.as_ref().map(|i| i.as_str()))
    .bind(snapshot.status.as_str())
    .bind(snapshot.amount.map(Cents::get))
    .bind(snapshot.current_period_start)
    .bind(snapshot.current_period_end)
    .bind(snapshot.cancel_at_period_end)
    .bind(snapshot.canceled_at)
    .bind(snapshot.ended_at)
    .bind(snapshot.created)
    .bind(as_of)
    .bind(snapshot.default_payment_method.as_deref())
    .fetch_one(&mut *conn)
    .await?;
    outbox.enqueue(conn, user).await?;
    StoredSubscription::try_from(row)
}

/// Notes Stripe's warning that the trial ends soon.
pub async fn note_trial_will_end(
    conn: &mut PgConnection,
    id: &SubscriptionId,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update subscriptions set trial_will_end_at = $2, updated_at = now() where stripe_subscription_id = $1",
    )
    .bind(id.as_str())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
