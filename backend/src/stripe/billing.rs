//! Subscriptions at Stripe: subscription-mode Checkout, the customer
//! portal, reading and changing a subscription, the upcoming-invoice
//! preview, invoices, saved cards and the tier catalogue. Answers are our
//! types ([`SubscriptionSnapshot`], [`InvoiceSummary`], [`Card`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::{BillingCycle, Cents, PlanChange, SubscriptionStatus};
use stripe_billing::{
    billing_portal_session::CreateBillingPortalSession,
    invoice::{
        CreatePreviewInvoice, CreatePreviewInvoiceSubscriptionDetails,
        CreatePreviewInvoiceSubscriptionDetailsItems,
        CreatePreviewInvoiceSubscriptionDetailsProrationBehavior, ListInvoice,
    },
    subscription::{
        ListSubscription, ListSubscriptionStatus, RetrieveSubscription, UpdateSubscription,
        UpdateSubscriptionItems, UpdateSubscriptionProrationBehavior,
    },
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSessionSubscriptionData, ExpireCheckoutSession, ListCheckoutSession,
    RetrieveCheckoutSession,
};
use stripe_core::customer::ListPaymentMethodsCustomer;
use stripe_product::{
    price::{
        CreatePrice, CreatePriceRecurring, CreatePriceRecurringInterval, ListPrice, UpdatePrice,
    },
    product::{CreateProduct, UpdateProduct},
};
use stripe_shared::{CheckoutSessionMode, CheckoutSessionStatus, Subscription};

use super::{
    CheckoutRedirect, StripeError, StripeGateway, one_price_session, redirect, returned_id,
};
use crate::ids::{
    CustomerId, InvoiceId, PriceId, ProductId, SubscriptionId, SubscriptionItemId, UserId,
};

/// A subscription as Stripe holds it, in our terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSnapshot {
    pub id: SubscriptionId,
    pub customer_id: CustomerId,
    pub status: SubscriptionStatus,
    /// The first (our only) item: what a plan change swaps.
    pub item_id: Option<SubscriptionItemId>,
    pub price_id: Option<PriceId>,
    /// The item's price times its quantity, per period.
    pub amount: Option<Cents>,
    pub current_period_start: Option<DateTime<Utc>>,
    pub current_period_end: Option<DateTime<Utc>>,
    /// Set to end when the period ends (Stripe's flag, or a `cancel_at`).
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
    /// `metadata.user_id`, which our checkout puts on every subscription.
    pub user_id: Option<UserId>,
    pub default_payment_method: Option<String>,
}

/// One of the customer's invoices, as the invoice list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceSummary {
    pub id: InvoiceId,
    pub number: Option<String>,
    pub created: DateTime<Utc>,
    pub total: i64,
    pub amount_due: Cents,
    pub amount_paid: Cents,
    pub currency: String,
    pub status: String,
    pub hosted_invoice_url: Option<String>,
}

/// A saved card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
}

/// What a plan change would bill, from Stripe's upcoming-invoice preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanPreview {
    /// Charged now (an upgrade); zero for a downgrade, whose proration goes
    /// onto the next invoice.
    pub amount_due: Cents,
    /// The previewed invoice's total (negative when it is a credit).
    pub total: i64,
    /// When the previewed invoice is charged (`None`: now).
    pub next_payment_at: Option<DateTime<Utc>>,
}

/// Everything a subscription checkout needs.
#[derive(Debug, Clone)]
pub struct SubscriptionCheckout<'a> {
    pub user_id: UserId,
    pub customer_id: &'a CustomerId,
    pub price_id: &'a PriceId,
    pub tier_code: &'a str,
    pub cycle: BillingCycle,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

/// A product and price to keep in Stripe (the `sync-stripe-catalogue`
/// command), found again by `lookup_key`.
#[derive(Debug, Clone)]
pub struct PriceSpec<'a> {
    pub lookup_key: &'a str,
    pub product_name: &'a str,
    /// `(key, value)` put on a product we create (`package_code`, `tier_code`).
    pub product_tag: (&'a str, &'a str),
    pub amount: Cents,
    /// `None` for a one-time price.
    pub cycle: Option<BillingCycle>,
    /// The product to create a missing price on; `None` creates a product.
    pub product: Option<&'a ProductId>,
}

pub(super) fn timestamp(seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0)
}

/// The id of an expandable field, expanded or not.
macro_rules! expanded_id {
    ($value:expr) => {
        match $value {
            stripe_types::Expandable::Id(id) => id.to_string(),
            stripe_types::Expandable::Object(object) => object.id.to_string(),
        }
    };
}

impl TryFrom<&Subscription> for SubscriptionSnapshot {
    type Error = StripeError;

    fn try_from(sub: &Subscription) -> Result<Self, StripeError> {
        let item = sub.items.data.first();
        let amount = item
            .and_then(|item| {
                item.price
                    .unit_amount
                    .map(|unit| unit.saturating_mul(item.quantity.unwrap_or(1) as i64))
            })
            .map(Cents::new)
            .transpose()
            .map_err(|e| StripeError::Unexpected(format!("subscription amount: {e}")))?;
        Ok(SubscriptionSnapshot {
            id: returned_id(sub.id.as_str())?,
            customer_id: returned_id(&expanded_id!(&sub.customer))?,
            status: sub
                .status
                .as_str()
                .parse()
                .map_err(|e| StripeError::Unexpected(format!("{e}")))?,
            item_id: item.map(|i| returned_id(i.id.as_str())).transpose()?,
            price_id: item.map(|i| returned_id(i.price.id.as_str())).transpose()?,
            amount,
            current_period_start: item.and_then(|i| timestamp(i.current_period_start)),
            current_period_end: item.and_then(|i| timestamp(i.current_period_end)),
            cancel_at_period_end: sub.cancel_at_period_end || sub.cancel_at.is_some(),
            canceled_at: sub.canceled_at.and_then(timestamp),
            ended_at: sub.ended_at.and_then(timestamp),
            created: timestamp(sub.created)
                .ok_or_else(|| StripeError::Unexpected("subscription created".into()))?,
            user_id: sub.metadata.get("user_id").and_then(|u| u.parse().ok()),
            default_payment_method: sub
                .default_payment_method
                .as_ref()
                .map(|pm| expanded_id!(pm)),
        })
    }
}

impl StripeGateway {
    /// Opens a subscription-mode Checkout Session for our customer. Our user
    /// id goes in `client_reference_id` and in the subscription's metadata,
    /// since its `invoice.paid` can arrive before the session completes.
    pub async fn create_subscription_checkout(
        &self,
        checkout: SubscriptionCheckout<'_>,
    ) -> Result<CheckoutRedirect, StripeError> {
        let metadata = HashMap::from([
            ("user_id".to_owned(), checkout.user_id.to_string()),
            ("tier_code".to_owned(), checkout.tier_code.to_owned()),
            ("billing_cycle".to_owned(), checkout.cycle.to_string()),
        ]);
        let session = one_price_session(
            CheckoutSessionMode::Subscription,
            checkout.customer_id,
            &checkout.user_id.to_string(),
            checkout.price_id,
            metadata.clone(),
            (checkout.success_url, checkout.cancel_url),
        )
        .subscription_data(CreateCheckoutSessionSubscriptionData {
            metadata: Some(metadata),
            ..CreateCheckoutSessionSubscriptionData::new()
        })
        .send(&self.client)
        .await?;
        redirect(&session)
    }

    /// Closes the customer's subscription Checkout Sessions that are still
    /// open (another tab, an earlier click), so that only the newest one can
    /// be paid and nobody ends up paying for two plans. A session paid
    /// meanwhile cannot be expired: that is logged and left to the webhook.
    pub async fn expire_open_subscription_checkouts(
        &self,
        customer: &CustomerId,
    ) -> Result<usize, StripeError> {
        let open = ListCheckoutSession::new()
            .customer(customer.as_str())
            .status(CheckoutSessionStatus::Open)
            .limit(100)
            .send(&self.client)
            .await?;
        let mut expired = 0;
        for session in open
            .data
            .iter()
            .filter(|s| s.mode == CheckoutSessionMode::Subscription)
        {
            match ExpireCheckoutSession::new(session.id.clone())
                .send(&self.client)
                .await
            {
                Ok(_) => expired += 1,
                Err(error) => tracing::warn!(
                    session = %session.id,
                    error = %error,
                    "an open subscription checkout could not be expired"
                ),
            }
        }
        Ok(expired)
    }

    /// A customer-portal session; answers its URL.
    pub async fn create_portal_session(
        &self,
        customer: &CustomerId,
        return_url: &str,
    ) -> Result<String, StripeError> {
        let session = CreateBillingPortalSession::new()
            .customer(customer.as_str())
            .return_url(return_url)
            .send(&self.client)
            .await?;
        Ok(session.url)
    }

    /// The subscription as Stripe holds it now; `None` when Stripe does not
    /// know it (another account or mode).
    pub async fn retrieve_subscription(
        &self,
        id: &SubscriptionId,
    ) -> Result<Option<SubscriptionSnapshot>, StripeError> {
        match RetrieveSubscription::new(id.as_str())
            .send(&self.client)
            .await
        {
            Ok(sub) => Ok(Some(SubscriptionSnapshot::try_from(&sub)?)),
            Err(error) => match StripeError::from(error) {
                StripeError::Rejected { status: 404, .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    /// The customer's subscriptions that are live at Stripe (our table may
    /// not have heard of one whose webhook is still on its way).
    pub async fn live_subscriptions(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<SubscriptionSnapshot>, StripeError> {
        let list = ListSubscription::new()
            .customer(customer.as_str())
            .limit(100)
            .send(&self.client)
            .await?;
        let mut live = Vec::new();
        for sub in &list.data {
            let snapshot = SubscriptionSnapshot::try_from(sub)?;
            if snapshot.status.is_live() {
                live.push(snapshot);
            }
        }
        Ok(live)
    }

    /// Every subscription of the account, ended ones too, oldest pages
    /// last (the reconcile job walks them all).
    pub async fn all_subscriptions(&self) -> Result<Vec<SubscriptionSnapshot>, StripeError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut request = ListSubscription::new()
                .status(ListSubscriptionStatus::All)
                .limit(100);
            if let Some(after) = &after {
                request = request.starting_after(after.as_str());
            }
            let page = request.send(&self.client).await?;
            for sub in &page.data {
                all.push(SubscriptionSnapshot::try_from(sub)?);
            }
            match page.data.last() {
                Some(last) if page.has_more => after = Some(last.id.as_str().to_owned()),
                _ => return Ok(all),
            }
        }
    }

    /// The subscription a (subscription-mode) Checkout Session created, and
    /// the session's `client_reference_id`; `None` before it is paid.
    pub async fn subscription_of_checkout(
        &self,
        session: &crate::ids::CheckoutSessionId,
    ) -> Result<Option<(SubscriptionId, Option<String>)>, StripeError> {
        let session = RetrieveCheckoutSession::new(session.as_str())
            .send(&self.client)
            .await?;
        let Some(sub) = &session.subscription else {
            return Ok(None);
        };
        Ok(Some((
            returned_id(&expanded_id!(sub))?,
            session.client_reference_id.clone(),
        )))
    }

    /// The subscription as Stripe holds it now, with its latest invoice if
    /// that is paid, in one call (the success return stores the plan and
    /// grants the first allowance without waiting for the webhooks).
    pub async fn retrieve_subscription_with_paid_invoice(
        &self,
        id: &SubscriptionId,
    ) -> Result<(SubscriptionSnapshot, Option<super::PaidInvoice>), StripeError> {
        let sub = RetrieveSubscription::new(id.as_str())
            .expand(vec!["latest_invoice".to_owned()])
            .send(&self.client)
            .await?;
        Ok((
            SubscriptionSnapshot::try_from(&sub)?,
            paid_invoice(&sub, id)?,
        ))
    }

    /// Sets (or, `false`, clears) a cancellation at the end of the period.
    pub async fn set_cancel_at_period_end(
        &self,
        id: &SubscriptionId,
        cancel: bool,
    ) -> Result<SubscriptionSnapshot, StripeError> {
        let sub = UpdateSubscription::new(id.as_str())
            .cancel_at_period_end(cancel)
            .send(&self.client)
            .await?;
        SubscriptionSnapshot::try_from(&sub)
    }

    /// Ends the subscription now.
    pub async fn cancel_subscription_now(
        &self,
        id: &SubscriptionId,
    ) -> Result<SubscriptionSnapshot, StripeError> {
        let sub = stripe_billing::subscription::CancelSubscription::new(id.as_str())
            .send(&self.client)
            .await?;
        SubscriptionSnapshot::try_from(&sub)
    }

    /// Swaps the item's price, prorated as of `proration_date` (Unix
    /// seconds; the same date as the preview, so the amounts agree): an
    /// upgrade is invoiced now, a downgrade goes onto the next invoice.
    pub async fn change_plan(
        &self,
        id: &SubscriptionId,
        item: &SubscriptionItemId,
        price: &PriceId,
        change: PlanChange,
        proration_date: i64,
    ) -> Result<SubscriptionSnapshot, StripeError> {
        let behavior = match change {
            PlanChange::Upgrade => UpdateSubscriptionProrationBehavior::AlwaysInvoice,
            PlanChange::Downgrade | PlanChange::Same => {
                UpdateSubscriptionProrationBehavior::CreateProrations
            }
        };
        let sub = UpdateSubscription::new(id.as_str())
            .items(vec![UpdateSubscriptionItems {
                id: Some(item.to_string()),
                price: Some(price.to_string()),
                ..UpdateSubscriptionItems::new()
            }])
            .proration_behavior(behavior)
            .proration_date(proration_date)
            .send(&self.client)
            .await?;
        SubscriptionSnapshot::try_from(&sub)
    }

    /// What [`StripeGateway::change_plan`] with the same arguments would bill.
    pub async fn preview_plan_change(
        &self,
        customer: &CustomerId,
        id: &SubscriptionId,
        item: &SubscriptionItemId,
        price: &PriceId,
        change: PlanChange,
        proration_date: i64,
    ) -> Result<PlanPreview, StripeError> {
        let behavior = match change {
            PlanChange::Upgrade => {
                CreatePreviewInvoiceSubscriptionDetailsProrationBehavior::AlwaysInvoice
            }
            PlanChange::Downgrade | PlanChange::Same => {
                CreatePreviewInvoiceSubscriptionDetailsProrationBehavior::CreateProrations
            }
        };
        let invoice = CreatePreviewInvoice::new()
            .customer(customer.as_str())
            .subscription(id.as_str())
            .subscription_details(CreatePreviewInvoiceSubscriptionDetails {
                items: Some(vec![CreatePreviewInvoiceSubscriptionDetailsItems {
                    id: Some(item.to_string()),
                    price: Some(price.to_string()),
                    ..CreatePreviewInvoiceSubscriptionDetailsItems::new()
                }]),
                proration_behavior: Some(behavior),
                proration_date: Some(proration_date),
                ..CreatePreviewInvoiceSubscriptionDetails::new()
            })
            .send(&self.client)
            .await?;
        let amount_due = match change {
            PlanChange::Upgrade => Cents::new(invoice.amount_due.max(0))
                .map_err(|e| StripeError::Unexpected(format!("preview amount_due: {e}")))?,
            _ => Cents::ZERO,
        };
        Ok(PlanPreview {
            amount_due,
            total: invoice.total,
            next_payment_at: match change {
                PlanChange::Upgrade => None,
                _ => invoice.next_payment_attempt.and_then(timestamp),
            },
        })
    }

    /// The customer's invoices, newest first (at most 100).
    pub async fn list_invoices(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<InvoiceSummary>, StripeError> {
        let list = ListInvoice::new()
            .customer(customer.as_str())
            .limit(100)
            .send(&self.client)
            .await?;
        let mut invoices = Vec::with_capacity(list.data.len());
        for invoice in &list.data {
            let Some(id) = &invoice.id else { continue };
            let cents = |field: &str, amount: i64| {
                Cents::new(amount.max(0))
                    .map_err(|e| StripeError::Unexpected(format!("invoice {field}: {e}")))
            };
            invoices.push(InvoiceSummary {
                id: returned_id(id.as_str())?,
                number: invoice.number.clone(),
                created: timestamp(invoice.created)
                    .ok_or_else(|| StripeError::Unexpected("invoice created".into()))?,
                total: invoice.total,
                amount_due: cents("amount_due", invoice.amount_due)?,
                amount_paid: cents("amount_paid", invoice.amount_paid)?,
                currency: invoice.currency.to_string(),
                status: invoice
                    .status
                    .as_ref()
                    .map_or("draft", |s| s.as_str())
                    .to_owned(),
                hosted_invoice_url: invoice.hosted_invoice_url.clone(),
            });
        }
        invoices.sort_by_key(|i| std::cmp::Reverse(i.created));
        Ok(invoices)
    }

    /// The customer's saved cards.
    pub async fn list_cards(&self, customer: &CustomerId) -> Result<Vec<Card>, StripeError> {
        let list = ListPaymentMethodsCustomer::new(customer.as_str())
            .limit(100)
            .send(&self.client)
            .await?;
        Ok(list
            .data
            .iter()
            .filter_map(|pm| {
                pm.card.as_ref().map(|card| Card {
                    id: pm.id.to_string(),
                    brand: card.brand.clone(),
                    last4: card.last4.clone(),
                    exp_month: card.exp_month,
                    exp_year: card.exp_year,
                })
            })
            .collect())
    }

    /// Makes sure Stripe has a product and a price matching `spec`, found
    /// again by lookup key; a price that no longer matches is archived and
    /// a new one takes over its key. Returns `(product_id, price_id)`.
    pub async fn sync_price(
        &self,
        spec: &PriceSpec<'_>,
    ) -> Result<(ProductId, PriceId), StripeError> {
        let existing = ListPrice::new()
            .lookup_keys(vec![spec.lookup_key.to_owned()])
            .send(&self.client)
            .await?;
        let interval = spec.cycle.map(BillingCycle::stripe_interval);
        let mut stale = None;
        let product_id = if let Some(price) = existing.data.iter().find(|p| p.active) {
            let product_id = expanded_id!(&price.product);
            let same_interval = price.recurring.as_ref().map(|r| r.interval.as_str()) == interval;
            if price.unit_amount == Some(spec.amount.get())
                && price.currency == stripe_types::Currency::USD
                && same_interval
            {
                UpdateProduct::new(product_id.as_str())
                    .name(spec.product_name)
                    .send(&self.client)
                    .await?;
                return Ok((returned_id(&product_id)?, returned_id(price.id.as_str())?));
            }
            // Prices are immutable: a new amount is a new price under the
            // same key, and the old one is archived once it has taken over.
            stale = Some(price.id.clone());
            product_id
        } else if let Some(product) = spec.product {
            product.to_string()
        } else {
            let (key, value) = spec.product_tag;
            let product = CreateProduct::new(spec.product_name)
                .metadata(HashMap::from([(key.to_owned(), value.to_owned())]))
                .send(&self.client)
                .await?;
            product.id.to_string()
        };
        let mut request = CreatePrice::new(stripe_types::Currency::USD)
            .product(product_id.as_str())
            .unit_amount(spec.amount.get())
            .lookup_key(spec.lookup_key)
            .transfer_lookup_key(true);
        if let Some(cycle) = spec.cycle {
            request = request.recurring(CreatePriceRecurring::new(match cycle {
                BillingCycle::Monthly => CreatePriceRecurringInterval::Month,
                BillingCycle::Yearly => CreatePriceRecurringInterval::Year,
            }));
        }
        let price = request.send(&self.client).await?;
        if let Some(stale) = stale {
            UpdatePrice::new(stale)
                .active(false)
                .send(&self.client)
                .await?;
        }
        Ok((returned_id(&product_id)?, returned_id(price.id.as_str())?))
    }
}

/// The subscription's latest invoice (expanded), if it is paid.
fn paid_invoice(
    sub: &Subscription,
    id: &SubscriptionId,
) -> Result<Option<super::PaidInvoice>, StripeError> {
    let Some(stripe_types::Expandable::Object(invoice)) = &sub.latest_invoice else {
        return Ok(None);
    };
    let (Some(invoice_id), Some(stripe_shared::InvoiceStatus::Paid)) =
        (&invoice.id, &invoice.status)
    else {
        return Ok(None);
    };
    let plan_price = invoice
        .lines
        .data
        .iter()
        .filter(|line| {
            !line
                .parent
                .as_ref()
                .and_then(|p| p.subscription_item_details.as_ref())
                .is_some_and(|d| d.proration)
        })
        .find_map(|line| line.pricing.as_ref()?.price_details.as_ref())
        .map(|details| returned_id(&expanded_id!(&details.price)))
        .transpose()?;
    Ok(Some(super::PaidInvoice {
        id: returned_id(invoice_id.as_str())?,
        subscription_id: id.clone(),
        reason: domain::subscription::InvoiceReason::parse(
            invoice.billing_reason.as_ref().map(|r| r.as_str()),
        ),
        price_id: plan_price,
        amount_paid: Cents::new(invoice.amount_paid.max(0))
            .map_err(|e| StripeError::Unexpected(format!("invoice amount_paid: {e}")))?,
        user_id: sub.metadata.get("user_id").and_then(|u| u.parse().ok()),
    }))
}
