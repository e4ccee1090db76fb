//! Reading the subscription webhook's events: the envelope, and the object
//! decoded (into our own minimal structs) only for the types the
//! subscription service handles. The same rules as the credits events:
//! every id is checked before it could reach the database.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::{Cents, SubscriptionStatus, subscription::InvoiceReason};
use serde::Deserialize;
use serde_json::Value;

use super::{
    Envelope, SignatureError, billing::SubscriptionSnapshot, billing::timestamp, expandable_id,
    stripe_event_type, stripe_id, verify_signature,
};
use crate::{
    Secret,
    ids::{EventId, InvoiceId, PriceId, SubscriptionId, UserId},
};

/// A verified subscription webhook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionEvent {
    pub id: EventId,
    pub event_type: String,
    pub created: DateTime<Utc>,
    pub livemode: bool,
    pub kind: SubscriptionEventKind,
}

impl SubscriptionEvent {
    /// The subscription the event is about, if any.
    pub fn subscription_id(&self) -> Option<&SubscriptionId> {
        match &self.kind {
            SubscriptionEventKind::CheckoutCompleted {
                subscription_id, ..
            }
            | SubscriptionEventKind::InvoicePaymentFailed { subscription_id } => {
                Some(subscription_id)
            }
            SubscriptionEventKind::SubscriptionChanged(snapshot)
            | SubscriptionEventKind::TrialWillEnd(snapshot) => Some(&snapshot.id),
            SubscriptionEventKind::InvoicePaid(invoice) => Some(&invoice.subscription_id),
            SubscriptionEventKind::Ignored => None,
        }
    }
}

/// A paid subscription invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidInvoice {
    pub id: InvoiceId,
    pub subscription_id: SubscriptionId,
    pub reason: InvoiceReason,
    /// The price of its first line that is not a proration: the plan paid for.
    pub price_id: Option<PriceId>,
    pub amount_paid: Cents,
    /// `metadata.user_id` of the subscription, as the invoice carries it.
    pub user_id: Option<UserId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionEventKind {
    /// `checkout.session.completed` of a subscription-mode session.
    CheckoutCompleted {
        subscription_id: SubscriptionId,
        /// `client_reference_id`: our user id.
        user_id: Option<UserId>,
    },
    /// `customer.subscription.created`, `.updated`, `.deleted`: the
    /// subscription as it was when the event was made.
    SubscriptionChanged(SubscriptionSnapshot),
    /// `invoice.paid` of a subscription invoice.
    InvoicePaid(PaidInvoice),
    /// `invoice.payment_failed` of a subscription invoice.
    InvoicePaymentFailed { subscription_id: SubscriptionId },
    /// `customer.subscription.trial_will_end`: acknowledged and recorded.
    TrialWillEnd(SubscriptionSnapshot),
    /// Any other type, a payment-mode checkout (the credits endpoint's), an
    /// invoice of no subscription: acknowledged and ignored.
    Ignored,
}

/// Verifies and reads a subscription event.
pub fn verify_subscription_event(
    payload: &[u8],
    signature: Option<&str>,
    secrets: &[Secret],
) -> Result<SubscriptionEvent, SignatureError> {
    verify_signature(payload, signature, secrets, Utc::now().timestamp())?;
    parse_subscription_event(payload)
}

pub fn parse_subscription_event(payload: &[u8]) -> Result<SubscriptionEvent, SignatureError> {
    let envelope: Envelope = serde_json::from_slice(payload)
        .map_err(|e| SignatureError::BadPayload(format!("not a Stripe event: {e}")))?;
    let id = stripe_id("id", envelope.id)?;
    let event_type = stripe_event_type(envelope.event_type)?;
    let created = timestamp(envelope.created)
        .ok_or_else(|| SignatureError::BadPayload("created is not a time".into()))?;
    let object = envelope.data.map(|d| d.object).unwrap_or(Value::Null);
    let kind = decode(&event_type, object)?;
    Ok(SubscriptionEvent {
        id,
        event_type,
        created,
        livemode: envelope.livemode,
        kind,
    })
}

fn object_as<T: serde::de::DeserializeOwned>(
    event_type: &str,
    object: Value,
) -> Result<T, SignatureError> {
    serde_json::from_value(object)
        .map_err(|e| SignatureError::BadPayload(format!("{event_type} object: {e}")))
}

fn decode(event_type: &str, object: Value) -> Result<SubscriptionEventKind, SignatureError> {
    Ok(match event_type {
        "checkout.session.completed" => {
            let session: SessionObject = object_as(event_type, object)?;
            if session.mode.as_deref() != Some("subscription") {
                return Ok(SubscriptionEventKind::Ignored);
            }
            match expandable_id("subscription", session.subscription)? {
                Some(subscription_id) => SubscriptionEventKind::CheckoutCompleted {
                    subscription_id,
                    user_id: session.client_reference_id.and_then(|r| r.parse().ok()),
                },
                None => SubscriptionEventKind::Ignored,
            }
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let sub: SubscriptionObject = object_as(event_type, object)?;
            SubscriptionEventKind::SubscriptionChanged(sub.snapshot()?)
        }
        "customer.subscription.trial_will_end" => {
            let sub: SubscriptionObject = object_as(event_type, object)?;
            SubscriptionEventKind::TrialWillEnd(sub.snapshot()?)
        }
        "invoice.paid" | "invoice.payment_failed" => {
            let invoice: InvoiceObject = object_as(event_type, object)?;
            let Some(subscription_id) = invoice.subscription()? else {
                return Ok(SubscriptionEventKind::Ignored);
            };
            if event_type == "invoice.payment_failed" {
                return Ok(SubscriptionEventKind::InvoicePaymentFailed { subscription_id });
            }
            if invoice.status.as_deref() != Some("paid") {
                return Ok(SubscriptionEventKind::Ignored);
            }
            SubscriptionEventKind::InvoicePaid(PaidInvoice {
                id: stripe_id("invoice id", invoice.id.clone())?,
                reason: InvoiceReason::parse(invoice.billing_reason.as_deref()),
                price_id: invoice.plan_price()?,
                amount_paid: Cents::new(invoice.amount_paid.max(0))
                    .map_err(|e| SignatureError::BadPayload(format!("amount_paid: {e}")))?,
                user_id: invoice.user_id(),
                subscription_id,
            })
        }
        _ => SubscriptionEventKind::Ignored,
    })
}

#[derive(Deserialize)]
struct SessionObject {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    subscription: Option<Value>,
    #[serde(default)]
    client_reference_id: Option<String>,
}

#[derive(Deserialize)]
struct SubscriptionObject {
    id: String,
    customer: Value,
    status: String,
    created: i64,
    #[serde(default)]
    items: Option<ItemList>,
    #[serde(default)]
    cancel_at_period_end: bool,
    #[serde(default)]
    cancel_at: Option<i64>,
    #[serde(default)]
    canceled_at: Option<i64>,
    #[serde(default)]
    ended_at: Option<i64>,
    /// Older API versions keep the period on the subscription.
    #[serde(default)]
    current_period_start: Option<i64>,
    #[serde(default)]
    current_period_end: Option<i64>,
    #[serde(default)]
    metadata: HashMap<String, String>,
    #[serde(default)]
    default_payment_method: Option<Value>,
}

#[derive(Deserialize)]
struct ItemList {
    #[serde(default)]
    data: Vec<ItemObject>,
}

#[derive(Deserialize)]
struct ItemObject {
    id: String,
    price: PriceObject,
    #[serde(default)]
    quantity: Option<i64>,
    #[serde(default)]
    current_period_start: Option<i64>,
    #[serde(default)]
    current_period_end: Option<i64>,
}

#[derive(Deserialize)]
struct PriceObject {
    id: String,
    #[serde(default)]
    unit_amount: Option<i64>,
}

impl SubscriptionObject {
    fn snapshot(self) -> Result<SubscriptionSnapshot, SignatureError> {
        let item = self.items.and_then(|items| items.data.into_iter().next());
        let status: SubscriptionStatus = self
            .status
            .parse()
            .map_err(|e| SignatureError::BadPayload(format!("{e}")))?;
        let amount = item
            .as_ref()
            .and_then(|i| {
                i.price
                    .unit_amount
                    .map(|unit| unit.saturating_mul(i.quantity.unwrap_or(1)))
            })
            .map(|a| Cents::new(a).map_err(|e| SignatureError::BadPayload(format!("amount: {e}"))))
            .transpose()?;
        let period = |item_value: Option<i64>, legacy: Option<i64>| {
            item_value.or(legacy).and_then(timestamp)
        };
        Ok(SubscriptionSnapshot {
            id: stripe_id("subscription id", self.id)?,
            customer_id: expandable_id("customer", Some(self.customer))?
                .ok_or_else(|| SignatureError::BadPayload("subscription has no customer".into()))?,
            status,
            current_period_start: period(
                item.as_ref().and_then(|i| i.current_period_start),
                self.current_period_start,
            ),
            current_period_end: period(
                item.as_ref().and_then(|i| i.current_period_end),
                self.current_period_end,
            ),
            item_id: item
                .as_ref()
                .map(|i| stripe_id("subscription item id", i.id.clone()))
                .transpose()?,
            price_id: item
                .as_ref()
                .map(|i| stripe_id("price id", i.price.id.clone()))
                .transpose()?,
            amount,
            cancel_at_period_end: self.cancel_at_period_end || self.cancel_at.is_some(),
            canceled_at: self.canceled_at.and_then(timestamp),
            ended_at: self.ended_at.and_then(timestamp),
            created: timestamp(self.created)
                .ok_or_else(|| SignatureError::BadPayload("created is not a time".into()))?,
            user_id: self.metadata.get("user_id").and_then(|u| u.parse().ok()),
            default_payment_method: match self.default_payment_method {
                Some(Value::String(id)) => Some(id),
                Some(Value::Object(pm)) => pm.get("id").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            }
            .filter(|id| {
                id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            }),
        })
    }
}

#[derive(Deserialize)]
struct InvoiceObject {
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    billing_reason: Option<String>,
    #[serde(default)]
    amount_paid: i64,
    #[serde(default)]
    parent: Option<InvoiceParent>,
    /// Older API versions name the subscription on the invoice.
    #[serde(default)]
    subscription: Option<Value>,
    #[serde(default)]
    lines: Option<LineList>,
}

#[derive(Deserialize)]
struct InvoiceParent {
    #[serde(default)]
    subscription_details: Option<SubscriptionDetails>,
}

#[derive(Deserialize)]
struct SubscriptionDetails {
    #[serde(default)]
    subscription: Option<Value>,
    #[serde(default)]
    metadata: Option<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct LineList {
    #[serde(default)]
    data: Vec<LineObject>,
}

#[derive(Deserialize)]
struct LineObject {
    #[serde(default)]
    pricing: Option<LinePricing>,
    /// Older API versions.
    #[serde(default)]
    price: Option<Value>,
    #[serde(default)]
    proration: Option<bool>,
    #[serde(default)]
    parent: Option<LineParent>,
}

#[derive(Deserialize)]
struct LinePricing {
    #[serde(default)]
    price_details: Option<PriceDetails>,
}

#[derive(Deserialize)]
struct PriceDetails {
    #[serde(default)]
    price: Option<Value>,
}

#[derive(Deserialize)]
struct LineParent {
    #[serde(default)]
    subscription_item_details: Option<ItemDetails>,
}

#[derive(Deserialize)]
struct ItemDetails {
    #[serde(default)]
    proration: bool,
}

impl InvoiceObject {
    fn subscription(&self) -> Result<Option<SubscriptionId>, SignatureError> {
        let from_parent = self
            .parent
            .as_ref()
            .and_then(|p| p.subscription_details.as_ref())
            .and_then(|d| d.subscription.clone());
        expandable_id(
            "subscription",
            from_parent.or_else(|| self.subscription.clone()),
        )
    }

    fn user_id(&self) -> Option<UserId> {
        self.parent
            .as_ref()
            .and_then(|p| p.subscription_details.as_ref())
            .and_then(|d| d.metadata.as_ref())
            .and_then(|m| m.get("user_id"))
            .and_then(|u| u.parse().ok())
    }

    fn plan_price(&self) -> Result<Option<PriceId>, SignatureError> {
        let Some(lines) = &self.lines else {
            return Ok(None);
        };
        for line in &lines.data {
            let proration = line.proration.unwrap_or(false)
                || line
                    .parent
                    .as_ref()
                    .and_then(|p| p.subscription_item_details.as_ref())
                    .is_some_and(|d| d.proration);
            if proration {
                continue;
            }
            let price = line
                .pricing
                .as_ref()
                .and_then(|p| p.price_details.as_ref())
                .and_then(|d| d.price.clone())
                .or_else(|| line.price.clone());
            if let Some(price) = expandable_id("line price", price)? {
                return Ok(Some(price));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, object: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "id": "evt_1", "object": "event", "type": event_type, "created": 1_700_000_000,
            "livemode": false, "data": { "object": object },
        }))
        .unwrap()
    }

    #[test]
    fn a_subscription_reads_its_item_period_and_metadata() {
        let parsed = parse_subscription_event(&event(
            "customer.subscription.updated",
            serde_json::json!({
                "id": "sub_1", "customer": "cus_1", "status": "past_due", "created": 1_700_000_000,
                "cancel_at_period_end": false, "cancel_at": 1_702_592_000,
                "metadata": { "user_id": "67e55044-10b1-426f-9247-bb680e5fe0c8" },
                "items": { "data": [{ "id": "si_1", "quantity": 1,
                    "current_period_start": 1_700_000_000, "current_period_end": 1_702_592_000,
                    "price": { "id": "price_1", "unit_amount": 4900 } }] },
            }),
        ))
        .unwrap();
        let SubscriptionEventKind::SubscriptionChanged(sub) = parsed.kind else {
            panic!("{parsed:?}");
        };
        assert_eq!(sub.status, SubscriptionStatus::PastDue);
        assert!(
            sub.cancel_at_period_end,
            "a cancel_at is a pending cancellation"
        );
        assert_eq!(sub.amount, Some(Cents::new(4900).unwrap()));
        assert_eq!(sub.price_id.unwrap().as_str(), "price_1");
        assert!(sub.user_id.is_some());
        assert_eq!(sub.current_period_end, timestamp(1_702_592_000));
    }

    #[test]
    fn invoices_name_their_plan_and_skip_prorations() {
        let parsed = parse_subscription_event(&event(
            "invoice.paid",
            serde_json::json!({
                "id": "in_1", "status": "paid", "billing_reason": "subscription_cycle", "amount_paid": 4900,
                "parent": { "subscription_details": { "subscription": "sub_1", "metadata": {} } },
                "lines": { "data": [
                    { "parent": { "subscription_item_details": { "proration": true } },
                      "pricing": { "price_details": { "price": "price_old" } } },
                    { "parent": { "subscription_item_details": { "proration": false } },
                      "pricing": { "price_details": { "price": "price_new" } } },
                ] },
            }),
        ))
        .unwrap();
        let SubscriptionEventKind::InvoicePaid(invoice) = parsed.kind else {
            panic!("{parsed:?}");
        };
        assert_eq!(invoice.price_id.unwrap().as_str(), "price_new");
        assert_eq!(invoice.reason, InvoiceReason::SubscriptionCycle);
        assert_eq!(invoice.subscription_id.as_str(), "sub_1");
    }

    #[test]
    fn payment_mode_checkouts_and_loose_invoices_are_not_ours() {
        let payment = parse_subscription_event(&event(
            "checkout.session.completed",
            serde_json::json!({ "id": "cs_1", "mode": "payment" }),
        ))
        .unwrap();
        assert_eq!(payment.kind, SubscriptionEventKind::Ignored);
        let loose = parse_subscription_event(&event(
            "invoice.paid",
            serde_json::json!({ "id": "in_1", "status": "paid", "amount_paid": 5 }),
        ))
        .unwrap();
        assert_eq!(loose.kind, SubscriptionEventKind::Ignored);
        let bad = parse_subscription_event(&event(
            "customer.subscription.updated",
            serde_json::json!({ "id": "sub_\u{0}", "customer": "cus_1", "status": "active", "created": 1 }),
        ));
        assert!(bad.is_err());
    }
}
