//! The subscription tiers (`subscription_tiers`): reading them, an admin
//! changing a tier's allowance, and keeping their prices in Stripe.

use domain::{BillingCycle, Cents, Credits, PlanRank};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::SubscriptionError;
use crate::{
    ids::{PriceId, ProductId},
    stripe::{PriceSpec, StripeError, StripeGateway},
};

/// A tier as the business sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub description: String,
    pub price_monthly: Cents,
    /// `None`: no yearly plan (trial).
    pub price_yearly: Option<Cents>,
    pub monthly_allowance: Credits,
    /// Whether an allowance's unused credits outlive its period (else
    /// they expire at its end).
    pub allowance_rolls_over: bool,
    pub is_active: bool,
    pub display_order: i32,
    pub stripe_product_id: Option<ProductId>,
    pub stripe_price_monthly: Option<PriceId>,
    pub stripe_price_yearly: Option<PriceId>,
}

impl Tier {
    /// The price of a cycle, if the tier has that cycle.
    pub fn price(&self, cycle: BillingCycle) -> Option<Cents> {
        match cycle {
            BillingCycle::Monthly => Some(self.price_monthly),
            BillingCycle::Yearly => self.price_yearly,
        }
    }

    /// The Stripe price of a cycle, once synced.
    pub fn stripe_price(&self, cycle: BillingCycle) -> Option<&PriceId> {
        match cycle {
            BillingCycle::Monthly => self.stripe_price_monthly.as_ref(),
            BillingCycle::Yearly => self.stripe_price_yearly.as_ref(),
        }
    }

    pub fn rank(&self, cycle: BillingCycle) -> PlanRank {
        PlanRank {
            tier_order: self.display_order,
            cycle,
        }
    }

    /// What a year of this tier saves against twelve monthly payments.
    pub fn yearly_saving(&self) -> Option<Cents> {
        let yearly = self.price_yearly?;
        Cents::new(self.price_monthly.get() * 12 - yearly.get()).ok()
    }
}

#[derive(sqlx::FromRow)]
struct TierRow {
    id: Uuid,
    tier_code: String,
    tier_name: String,
    description: String,
    price_monthly_cents: i64,
    price_yearly_cents: Option<i64>,
    monthly_allowance_credits: i64,
    allowance_rolls_over: bool,
    is_active: bool,
    display_order: i32,
    stripe_product_id: Option<String>,
    stripe_price_id_monthly: Option<String>,
    stripe_price_id_yearly: Option<String>,
}

const COLUMNS: &str = "id, tier_code, tier_name, description, price_monthly_cents, price_yearly_cents, \
     monthly_allowance_credits, allowance_rolls_over, is_active, display_order, stripe_product_id, \
     stripe_price_id_monthly, stripe_price_id_yearly";

impl TryFrom<TierRow> for Tier {
    type Error = SubscriptionError;

    fn try_from(row: TierRow) -> Result<Self, SubscriptionError> {
        let corrupt =
            |what: String| SubscriptionError::Corrupt(format!("tier {}: {what}", row.tier_code));
        let cents = |c: i64| Cents::new(c).map_err(|e| corrupt(e.to_string()));
        Ok(Tier {
            id: row.id,
            price_monthly: cents(row.price_monthly_cents)?,
            price_yearly: row.price_yearly_cents.map(cents).transpose()?,
            monthly_allowance: Credits::signed(row.monthly_allowance_credits),
            allowance_rolls_over: row.allowance_rolls_over,
            stripe_product_id: stored_id(&row.stripe_product_id),
            stripe_price_monthly: stored_id(&row.stripe_price_id_monthly),
            stripe_price_yearly: stored_id(&row.stripe_price_id_yearly),
            is_active: row.is_active,
            display_order: row.display_order,
            description: row.description,
            name: row.tier_name,
            code: row.tier_code,
        })
    }
}

/// A Stripe id as stored; one that no longer parses is treated as unset
/// (the next catalogue sync stores a good one).
fn stored_id<T: std::str::FromStr>(id: &Option<String>) -> Option<T> {
    id.as_deref().and_then(|id| id.parse().ok())
}

fn tiers(rows: Vec<TierRow>) -> Result<Vec<Tier>, SubscriptionError> {
    rows.into_iter().map(Tier::try_from).collect()
}

/// Every tier, in display order.
pub async fn list(pool: &PgPool) -> Result<Vec<Tier>, SubscriptionError> {
    let rows = sqlx::query_as::<_, TierRow>(&format!(
        "select {COLUMNS} from subscription_tiers order by display_order, tier_code"
    ))
    .fetch_all(pool)
    .await?;
    tiers(rows)
}

/// The active tier named by `reference`: its code (`professional`) or id.
pub async fn find_active(
    pool: &PgPool,
    reference: &str,
) -> Result<Option<Tier>, SubscriptionError> {
    let id = reference.parse::<Uuid>().ok();
    let row = sqlx::query_as::<_, TierRow>(&format!(
        "select {COLUMNS} from subscription_tiers \
         where is_active and (tier_code = $1 or id = $2)"
    ))
    .bind(reference)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(Tier::try_from).transpose()
}

/// The tier and cycle a Stripe price belongs to (active or not: a user
/// keeps a plan whose tier was withdrawn from sale).
pub async fn by_price(
    conn: &mut PgConnection,
    price: &PriceId,
) -> Result<Option<(Tier, BillingCycle)>, SubscriptionError> {
    let row = sqlx::query_as::<_, TierRow>(&format!(
        "select {COLUMNS} from subscription_tiers \
         where stripe_price_id_monthly = $1 or stripe_price_id_yearly = $1"
    ))
    .bind(price.as_str())
    .fetch_optional(conn)
    .await?;
    let Some(tier) = row.map(Tier::try_from).transpose()? else {
        return Ok(None);
    };
    let cycle = if tier.stripe_price_monthly.as_ref() == Some(price) {
        BillingCycle::Monthly
    } else {
        BillingCycle::Yearly
    };
    Ok(Some((tier, cycle)))
}

/// The tier with this code.
pub async fn by_code(
    conn: &mut PgConnection,
    code: &str,
) -> Result<Option<Tier>, SubscriptionError> {
    let row = sqlx::query_as::<_, TierRow>(&format!(
        "select {COLUMNS} from subscription_tiers where tier_code = $1"
    ))
    .bind(code)
    .fetch_optional(conn)
    .await?;
    row.map(Tier::try_from).transpose()
}

/// The largest monthly allowance an admin may set.
pub const MAX_ALLOWANCE: i64 = 100_000_000;

/// An admin sets a tier's monthly allowance; later paid invoices grant it
/// (what was granted stays granted). Answers the tier, `None` if unknown.
pub async fn set_allowance(
    pool: &PgPool,
    code: &str,
    allowance: i64,
    admin: crate::ids::UserId,
) -> Result<Option<Tier>, SubscriptionError> {
    if !(0..=MAX_ALLOWANCE).contains(&allowance) {
        return Err(SubscriptionError::InvalidAllowance);
    }
    let mut tx = pool.begin().await?;
    let before: Option<i64> = sqlx::query_scalar(
        "select monthly_allowance_credits from subscription_tiers where tier_code = $1 for update",
    )
    .bind(code)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = before else {
        return Ok(None);
    };
    sqlx::query(
        "update subscription_tiers set monthly_allowance_credits = $2, updated_at = now() where tier_code = $1",
    )
    .bind(code)
    .bind(allowance)
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        crate::audit::NewEntry {
            actor: crate::audit::Actor::Admin(admin),
            action: "tier.allowance_changed",
            user: None,
            purchase: None,
            ledger: None,
            details: serde_json::json!({ "tier": code, "from": before, "to": allowance }),
            occurred_at: None,
        },
    )
    .await?;
    let tier = by_code(&mut tx, code).await?;
    tx.commit().await?;
    Ok(tier)
}

/// One line of the catalogue sync report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedTier {
    pub code: String,
    pub monthly: Option<PriceId>,
    pub yearly: Option<PriceId>,
}

/// Every active tier gets a product and a recurring price per cycle in
/// Stripe, found again by lookup key (`tier_<code>_<cycle>`); a changed
/// amount makes a new price and archives the old one. Each tier is synced
/// with its row locked, as packages are.
pub async fn sync(
    pool: &PgPool,
    stripe: &StripeGateway,
) -> Result<Vec<SyncedTier>, SubscriptionError> {
    let mut report = Vec::new();
    for listed in list(pool).await?.into_iter().filter(|t| t.is_active) {
        let mut tx = pool.begin().await?;
        let row = sqlx::query_as::<_, TierRow>(&format!(
            "select {COLUMNS} from subscription_tiers where id = $1 for update"
        ))
        .bind(listed.id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(tier) = row.map(Tier::try_from).transpose()? else {
            continue;
        };
        let stripe_err = |source: StripeError| SubscriptionError::Sync {
            tier: tier.code.clone(),
            source,
        };
        let mut product = tier.stripe_product_id.clone();
        let mut prices = [None, None];
        for (slot, cycle) in BillingCycle::ALL.into_iter().enumerate() {
            let Some(amount) = tier.price(cycle) else {
                continue;
            };
            let (product_id, price_id) = stripe
                .sync_price(&PriceSpec {
                    lookup_key: &format!("tier_{}_{}", tier.code, cycle),
                    product_name: &tier.name,
                    product_tag: ("tier_code", &tier.code),
                    amount,
                    cycle: Some(cycle),
                    product: product.as_ref(),
                })
                .await
                .map_err(stripe_err)?;
            product = Some(product_id);
            prices[slot] = Some(price_id);
        }
        sqlx::query(
            "update subscription_tiers set stripe_product_id = $2, stripe_price_id_monthly = $3, \
             stripe_price_id_yearly = $4, updated_at = now() where id = $1",
        )
        .bind(tier.id)
        .bind(product.as_ref().map(|p| p.as_str()))
        .bind(prices[0].as_ref().map(|p| p.as_str()))
        .bind(prices[1].as_ref().map(|p| p.as_str()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let [monthly, yearly] = prices;
        report.push(SyncedTier {
            code: tier.code,
            monthly,
            yearly,
        });
    }
    Ok(report)
}
