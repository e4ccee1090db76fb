//! The only module that speaks to Stripe (or the emulator, through
//! `STRIPE_API_BASE`). It takes and returns our types; no `stripe::` type
//! leaves it.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use domain::{Cents, Credits};
use stripe::StripeRequest;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionPaymentIntentData,
    ExpireCheckoutSession, ListCheckoutSession, RetrieveCheckoutSession,
};
use stripe_core::{customer::CreateCustomer, refund::CreateRefund};
use stripe_product::price::UpdatePrice;
use stripe_shared::{CheckoutSession, CheckoutSessionMode, CheckoutSessionPaymentStatus};

mod billing;
mod subscription_events;
pub mod timing;

pub use billing::{
    Card, InvoiceSummary, PlanPreview, PriceSpec, SubscriptionCheckout, SubscriptionSnapshot,
};
pub use subscription_events::{
    PaidInvoice, SubscriptionEvent, SubscriptionEventKind, verify_subscription_event,
};

use crate::{
    Secret,
    config::StripeConfig,
    ids::{
        BadStripeId, CheckoutSessionId, CustomerId, DisputeId, EventId, PaymentIntentId, PriceId,
        ProductId, PurchaseId, RefundId, UserId,
    },
    packages::CreditPackage,
    purchases::{PaymentStatus, SessionPayment},
};

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    #[error("Stripe request failed: {0}")]
    Api(String),
    #[error("Stripe returned an unexpected response: {0}")]
    Unexpected(String),
    /// Stripe refused the request itself (4xx other than authentication and
    /// rate limiting), e.g. refunding more than is left. The message is
    /// Stripe's own and safe to show an admin.
    #[error("Stripe refused the request: {message}")]
    Rejected {
        status: u16,
        code: Option<String>,
        message: String,
    },
}

impl From<stripe::StripeError> for StripeError {
    fn from(error: stripe::StripeError) -> Self {
        match error {
            stripe::StripeError::Stripe(errors, status)
                if (400..500).contains(&status) && !matches!(status, 401 | 403 | 429) =>
            {
                StripeError::Rejected {
                    status,
                    code: errors.code.as_ref().map(|c| c.as_str().to_owned()),
                    message: errors
                        .message
                        .clone()
                        .unwrap_or_else(|| format!("Stripe answered {status}")),
                }
            }
            other => StripeError::Api(other.to_string()),
        }
    }
}

/// A refund Stripe made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundReceipt {
    pub refund_id: RefundId,
    /// This refund's amount.
    pub amount: Cents,
    /// Everything refunded on the charge so far, this refund included, when
    /// Stripe said (the same figure `charge.refunded` carries).
    pub charge_refunded_total: Option<Cents>,
}

#[derive(Clone)]
pub struct StripeGateway {
    /// Each call timed for `Server-Timing` ([`timing::measured`]).
    client: timing::TimedClient,
    /// Whether our key is a live key (`sk_live_…`): only sessions in the
    /// same mode can pay for our purchases.
    livemode: bool,
}

/// A Checkout Session we created: where to send the buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRedirect {
    pub session_id: CheckoutSessionId,
    pub url: String,
}

/// What we need to know about a session to settle its purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutOutcome {
    pub session_id: CheckoutSessionId,
    pub payment_status: PaymentStatus,
    pub payment_intent_id: Option<PaymentIntentId>,
    pub client_reference_id: Option<String>,
    /// What the session charges in all (`amount_total`), in the currency's
    /// smallest unit; `None` when Stripe did not say.
    pub amount_total: Option<Cents>,
    /// `usd`, lower case as Stripe writes it.
    pub currency: Option<String>,
    /// Whether the session belongs to a live-mode account.
    pub livemode: bool,
    /// Whether Stripe closed the session unpaid (it can no longer be paid).
    pub expired: bool,
}

impl CheckoutOutcome {
    /// The payment as the purchase service holds it against our record.
    pub fn payment(&self) -> SessionPayment<'_> {
        SessionPayment {
            status: self.payment_status,
            payment_intent_id: self.payment_intent_id.as_ref(),
            amount_total: self.amount_total,
            currency: self.currency.as_deref(),
            livemode: self.livemode,
        }
    }
}

/// Everything a credit-pack checkout needs.
#[derive(Debug, Clone)]
pub struct CreditCheckout<'a> {
    pub purchase_id: PurchaseId,
    pub user_id: UserId,
    pub customer_id: &'a CustomerId,
    pub price_id: &'a PriceId,
    pub package_code: &'a str,
    pub credits: Credits,
    /// Must contain `{CHECKOUT_SESSION_ID}`.
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

impl StripeGateway {
    pub fn new(config: &StripeConfig) -> Result<Self, StripeError> {
        let mut builder = stripe::ClientBuilder::new(config.secret_key.expose());
        if let Some(base) = &config.api_base {
            builder = builder.url(base.as_str().trim_end_matches('/'));
        }
        let client = builder
            .build()
            .map_err(|e| StripeError::Api(e.to_string()))?;
        Ok(StripeGateway {
            client: timing::TimedClient(client),
            livemode: config.is_live(),
        })
    }

    /// Whether this gateway uses a live key: a session paid in the other
    /// mode never grants credits.
    pub fn livemode(&self) -> bool {
        self.livemode
    }

    /// Creates a customer for one of our users.
    pub async fn create_customer(
        &self,
        user_id: UserId,
        email: Option<&str>,
        name: Option<&str>,
    ) -> Result<CustomerId, StripeError> {
        let mut request = CreateCustomer::new()
            .metadata(HashMap::from([("user_id".to_owned(), user_id.to_string())]));
        if let Some(email) = email {
            request = request.email(email);
        }
        if let Some(name) = name {
            request = request.name(name);
        }
        let customer = request
            .customize()
            .request_strategy(idempotent(&format!("customer-{user_id}"))?)
            .send(&self.client)
            .await?;
        returned_id(customer.id.as_str())
    }

    /// Starts a one-time payment for a credit pack. The idempotency key is
    /// derived from the purchase, so a retried call cannot make a second session.
    pub async fn create_credit_checkout(
        &self,
        checkout: CreditCheckout<'_>,
    ) -> Result<CheckoutRedirect, StripeError> {
        let metadata = HashMap::from([
            ("purchase_id".to_owned(), checkout.purchase_id.to_string()),
            ("user_id".to_owned(), checkout.user_id.to_string()),
            ("credits".to_owned(), checkout.credits.get().to_string()),
            ("package_code".to_owned(), checkout.package_code.to_owned()),
        ]);
        let session = one_price_session(
            CheckoutSessionMode::Payment,
            checkout.customer_id,
            &checkout.purchase_id.to_string(),
            checkout.price_id,
            metadata.clone(),
            (checkout.success_url, checkout.cancel_url),
        )
        .payment_intent_data(CreateCheckoutSessionPaymentIntentData {
            metadata: Some(metadata),
            ..CreateCheckoutSessionPaymentIntentData::new()
        })
        .customize()
        .request_strategy(idempotent(&format!(
            "credit-checkout-{}",
            checkout.purchase_id
        ))?)
        .send(&self.client)
        .await?;
        redirect(&session)
    }

    /// Asks Stripe how a session stands (the success-page return uses this).
    pub async fn retrieve_checkout(
        &self,
        id: &CheckoutSessionId,
    ) -> Result<CheckoutOutcome, StripeError> {
        let session = RetrieveCheckoutSession::new(id.as_str())
            .send(&self.client)
            .await?;
        outcome(&session)
    }

    /// The Checkout Session that created `payment_intent_id`, if any (a
    /// refund can be reported before the session's completion event).
    pub async fn checkout_for_payment(
        &self,
        payment_intent_id: &PaymentIntentId,
    ) -> Result<Option<CheckoutOutcome>, StripeError> {
        let sessions = ListCheckoutSession::new()
            .payment_intent(payment_intent_id.as_str())
            .limit(1)
            .send(&self.client)
            .await?;
        sessions.data.first().map(outcome).transpose()
    }

    /// Closes an open session so it can no longer be paid (the buyer
    /// cancelled). Stripe refuses when the session is already complete.
    pub async fn expire_checkout(&self, id: &CheckoutSessionId) -> Result<(), StripeError> {
        ExpireCheckoutSession::new(id.as_str())
            .send(&self.client)
            .await?;
        Ok(())
    }

    /// Makes sure Stripe has a product and a one-time price matching the
    /// package (see [`StripeGateway::sync_price`]). Returns
    /// `(product_id, price_id)`.
    pub async fn sync_package(
        &self,
        package: &CreditPackage,
    ) -> Result<(ProductId, PriceId), StripeError> {
        self.sync_price(&billing::PriceSpec {
            lookup_key: &format!("credits_{}", package.code),
            product_name: &package.name,
            product_tag: ("package_code", package.code.as_str()),
            amount: package.price,
            cycle: None,
            product: None,
        })
        .await
    }
}

impl StripeGateway {
    /// Refunds `amount` (everything left when `None`) of the payment. The
    /// same `idempotency_key` with the same request never refunds twice.
    pub async fn create_refund(
        &self,
        payment_intent_id: &PaymentIntentId,
        amount: Option<Cents>,
        idempotency_key: &str,
    ) -> Result<RefundReceipt, StripeError> {
        let mut request = CreateRefund::new()
            .payment_intent(payment_intent_id.as_str())
            .expand(vec!["charge".to_owned()]);
        if let Some(amount) = amount {
            request = request.amount(amount.get());
        }
        let refund = request
            .customize()
            .request_strategy(idempotent(idempotency_key)?)
            .send(&self.client)
            .await?;
        let charge_refunded_total = match &refund.charge {
            Some(stripe_types::Expandable::Object(charge)) => Some(
                Cents::new(charge.amount_refunded)
                    .map_err(|e| StripeError::Unexpected(format!("charge amount_refunded: {e}")))?,
            ),
            _ => None,
        };
        Ok(RefundReceipt {
            refund_id: returned_id(refund.id.as_str())?,
            amount: Cents::new(refund.amount)
                .map_err(|e| StripeError::Unexpected(format!("refund amount: {e}")))?,
            charge_refunded_total,
        })
    }

    /// Stops a price from being sold (Stripe prices are never deleted).
    pub async fn archive_price(&self, price_id: &PriceId) -> Result<(), StripeError> {
        UpdatePrice::new(price_id.as_str())
            .active(false)
            .send(&self.client)
            .await?;
        Ok(())
    }
}

fn idempotent(key: &str) -> Result<stripe::RequestStrategy, StripeError> {
    stripe::IdempotencyKey::new(key)
        .map(stripe::RequestStrategy::Idempotent)
        .map_err(|e| StripeError::Unexpected(format!("idempotency key: {e}")))
}

/// A Checkout Session for one unit of one price, for our customer, with our
/// reference and metadata and our return URLs `(success, cancel)`.
fn one_price_session(
    mode: CheckoutSessionMode,
    customer: &CustomerId,
    reference: &str,
    price: &PriceId,
    metadata: HashMap<String, String>,
    (success_url, cancel_url): (&str, &str),
) -> CreateCheckoutSession {
    CreateCheckoutSession::new()
        .mode(mode)
        .customer(customer.as_str())
        .client_reference_id(reference)
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some(price.to_string()),
            quantity: Some(1),
            ..CreateCheckoutSessionLineItems::new()
        }])
        .metadata(metadata)
        .success_url(success_url)
        .cancel_url(cancel_url)
}

/// Where to send the buyer for a session we created.
fn redirect(session: &CheckoutSession) -> Result<CheckoutRedirect, StripeError> {
    let url = session
        .url
        .clone()
        .ok_or_else(|| StripeError::Unexpected("checkout session has no url".into()))?;
    Ok(CheckoutRedirect {
        session_id: session_id(session)?,
        url,
    })
}

fn session_id(session: &CheckoutSession) -> Result<CheckoutSessionId, StripeError> {
    returned_id(session.id.as_str())
}

/// An id in Stripe's answer, as our newtype; one of another kind means the
/// answer is not what we asked for.
fn returned_id<T: std::str::FromStr<Err = BadStripeId>>(id: &str) -> Result<T, StripeError> {
    id.parse()
        .map_err(|e: BadStripeId| StripeError::Unexpected(e.to_string()))
}

fn outcome(session: &CheckoutSession) -> Result<CheckoutOutcome, StripeError> {
    let payment_status = match session.payment_status {
        CheckoutSessionPaymentStatus::Paid => PaymentStatus::Paid,
        CheckoutSessionPaymentStatus::NoPaymentRequired => PaymentStatus::NoPaymentRequired,
        _ => PaymentStatus::Unpaid,
    };
    let payment_intent_id = session
        .payment_intent
        .as_ref()
        .map(|pi| match pi {
            stripe_types::Expandable::Id(id) => returned_id(id.as_str()),
            stripe_types::Expandable::Object(intent) => returned_id(intent.id.as_str()),
        })
        .transpose()?;
    let amount_total = session
        .amount_total
        .map(Cents::new)
        .transpose()
        .map_err(|e| StripeError::Unexpected(format!("checkout amount_total: {e}")))?;
    Ok(CheckoutOutcome {
        session_id: session_id(session)?,
        payment_status,
        payment_intent_id,
        client_reference_id: session.client_reference_id.clone(),
        amount_total,
        currency: session.currency.as_ref().map(|c| c.to_string()),
        livemode: session.livemode,
        expired: session.status == Some(stripe_shared::CheckoutSessionStatus::Expired),
    })
}

/// The Stripe API version this build's SDK (async-stripe 1.0.0-rc.10) is
/// generated from. The webhook endpoint in Stripe's dashboard should be set
/// to it; events of another version are still accepted (only the fields we
/// read are decoded), and the difference is logged.
pub const SDK_API_VERSION: &str = "2026-09-30.endive";

/// How far a signature's timestamp may be from now.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// A verified credits webhook event, in our terms: the envelope, and the
/// object decoded only for the types we handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditsEvent {
    /// Safe to store.
    pub id: EventId,
    /// Stripe's type, e.g. `checkout.session.completed`, safe to store.
    pub event_type: String,
    pub created: i64,
    pub livemode: bool,
    pub api_version: Option<String>,
    pub kind: CreditsEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditsEventKind {
    /// `checkout.session.completed` and `…async_payment_succeeded`.
    CheckoutSettled(CheckoutOutcome),
    /// `checkout.session.async_payment_failed`.
    CheckoutPaymentFailed(CheckoutSessionId),
    /// `checkout.session.expired`.
    CheckoutExpired(CheckoutSessionId),
    /// `charge.refunded`: the total refunded so far on that payment.
    ChargeRefunded {
        payment_intent_id: PaymentIntentId,
        amount_refunded: Cents,
    },
    /// `charge.refund.updated` whose refund is now `failed`: its money
    /// came back to us.
    RefundFailed {
        refund_id: RefundId,
        payment_intent_id: PaymentIntentId,
        amount: Cents,
    },
    /// `charge.dispute.created`.
    DisputeOpened {
        dispute_id: DisputeId,
        payment_intent_id: PaymentIntentId,
    },
    /// `charge.dispute.closed` with status `won` (`won: true`) or `lost`.
    DisputeClosed {
        dispute_id: DisputeId,
        payment_intent_id: PaymentIntentId,
        won: bool,
    },
    /// Anything else (other types, a refund update that is not a failure, a
    /// charge without a payment intent…): acknowledged and ignored.
    Ignored,
}

/// Why a webhook request is refused (all 400: Stripe's retry cannot help).
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the signature does not match any configured secret")]
    BadSignature,
    #[error("the signature timestamp is outside the 300 s tolerance")]
    Stale,
    #[error("the event could not be read: {0}")]
    BadPayload(String),
}

/// Checks `Stripe-Signature` (`t=…,v1=…[,v1=…]`): an HMAC-SHA256 of
/// `"{t}.{payload}"` under any one of `secrets` (rotation), compared in
/// constant time, with `t` within 300 s of `now` (Unix seconds). The body is
/// not parsed here.
pub fn verify_signature(
    payload: &[u8],
    header: Option<&str>,
    secrets: &[Secret],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for pair in header.split(',') {
        match pair.trim().split_once('=') {
            Some(("t", value)) => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::BadSignature)?,
                );
            }
            Some(("v1", value)) => {
                if let Ok(bytes) = hex::decode(value) {
                    candidates.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::BadSignature)?;
    let matches = secrets.iter().any(|secret| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
            return false;
        };
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        candidates
            .iter()
            .any(|candidate| mac.clone().verify_slice(candidate).is_ok())
    });
    if !matches {
        return Err(SignatureError::BadSignature);
    }
    if (now - timestamp).abs() > SIGNATURE_TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// Verifies and reads a credits event (see [`verify_signature`], then
/// [`parse_credits_event`]).
pub fn verify_credits_event(
    payload: &[u8],
    signature: Option<&str>,
    secrets: &[Secret],
) -> Result<CreditsEvent, SignatureError> {
    let now = chrono::Utc::now().timestamp();
    verify_signature(payload, signature, secrets, now)?;
    parse_credits_event(payload)
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    livemode: bool,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    data: Option<EnvelopeData>,
}

#[derive(Deserialize)]
struct EnvelopeData {
    #[serde(default)]
    object: Value,
}

/// The fields of a Checkout Session we read.
#[derive(Deserialize)]
struct SessionObject {
    id: String,
    #[serde(default)]
    payment_status: Option<String>,
    #[serde(default)]
    payment_intent: Option<Value>,
    #[serde(default)]
    client_reference_id: Option<String>,
    #[serde(default)]
    amount_total: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    livemode: bool,
}

/// The fields of a Charge we read.
#[derive(Deserialize)]
struct ChargeObject {
    #[serde(default)]
    payment_intent: Option<Value>,
    amount_refunded: i64,
}

/// The fields of a Refund we read.
#[derive(Deserialize)]
struct RefundObject {
    id: String,
    amount: i64,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    payment_intent: Option<Value>,
}

/// The fields of a Dispute we read.
#[derive(Deserialize)]
struct DisputeObject {
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    payment_intent: Option<Value>,
}

/// Reads the envelope (`id`, `type`, `created`, `livemode`, `api_version`)
/// and decodes the object only for the types the credits endpoint handles,
/// into our own minimal structs: an ignored type, or another API version,
/// is never refused for the shape of its object. Every text that may reach
/// the database is checked here, so what Postgres would refuse (a NUL, an
/// over-long id) is a 400, not a 500 Stripe retries for days.
pub fn parse_credits_event(payload: &[u8]) -> Result<CreditsEvent, SignatureError> {
    let envelope: Envelope = serde_json::from_slice(payload)
        .map_err(|e| SignatureError::BadPayload(format!("not a Stripe event: {e}")))?;
    let id = stripe_id("id", envelope.id)?;
    let event_type = stripe_event_type(envelope.event_type)?;
    if let Some(version) = &envelope.api_version
        && version != SDK_API_VERSION
    {
        tracing::debug!(event = %id, event_version = %version, sdk_version = SDK_API_VERSION, "webhook event of another API version");
    }
    let object = envelope.data.map(|d| d.object).unwrap_or(Value::Null);
    let kind = decode_kind(&event_type, object)?;
    Ok(CreditsEvent {
        id,
        event_type,
        created: envelope.created,
        livemode: envelope.livemode,
        api_version: envelope.api_version,
        kind,
    })
}

fn decode_kind(event_type: &str, object: Value) -> Result<CreditsEventKind, SignatureError> {
    fn object_as<T: serde::de::DeserializeOwned>(
        event_type: &str,
        object: Value,
    ) -> Result<T, SignatureError> {
        serde_json::from_value(object)
            .map_err(|e| SignatureError::BadPayload(format!("{event_type} object: {e}")))
    }
    let kind = match event_type {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let session: SessionObject = object_as(event_type, object)?;
            let payment_status = match session.payment_status.as_deref() {
                Some("paid") => PaymentStatus::Paid,
                Some("no_payment_required") => PaymentStatus::NoPaymentRequired,
                _ => PaymentStatus::Unpaid,
            };
            CreditsEventKind::CheckoutSettled(CheckoutOutcome {
                session_id: checkout_session_id(session.id)?,
                payment_status,
                payment_intent_id: expandable_id("payment_intent", session.payment_intent)?,
                client_reference_id: session
                    .client_reference_id
                    .map(|r| storable_text("client_reference_id", r))
                    .transpose()?,
                amount_total: session
                    .amount_total
                    .map(|a| cents("amount_total", a))
                    .transpose()?,
                currency: session
                    .currency
                    .map(|c| storable_text("currency", c))
                    .transpose()?,
                livemode: session.livemode,
                // Only completed and async-payment events are settled from.
                expired: false,
            })
        }
        "checkout.session.async_payment_failed" => {
            let session: SessionObject = object_as(event_type, object)?;
            CreditsEventKind::CheckoutPaymentFailed(checkout_session_id(session.id)?)
        }
        "checkout.session.expired" => {
            let session: SessionObject = object_as(event_type, object)?;
            CreditsEventKind::CheckoutExpired(checkout_session_id(session.id)?)
        }
        "charge.refunded" => {
            let charge: ChargeObject = object_as(event_type, object)?;
            match expandable_id("payment_intent", charge.payment_intent)? {
                Some(payment_intent_id) => CreditsEventKind::ChargeRefunded {
                    payment_intent_id,
                    amount_refunded: cents("amount_refunded", charge.amount_refunded)?,
                },
                None => CreditsEventKind::Ignored,
            }
        }
        "charge.refund.updated" => {
            let refund: RefundObject = object_as(event_type, object)?;
            let refund_id = stripe_id("refund id", refund.id)?;
            let payment_intent = expandable_id("payment_intent", refund.payment_intent)?;
            match (refund.status.as_deref(), payment_intent) {
                (Some("failed"), Some(payment_intent_id)) => CreditsEventKind::RefundFailed {
                    refund_id,
                    payment_intent_id,
                    amount: cents("amount", refund.amount)?,
                },
                _ => CreditsEventKind::Ignored,
            }
        }
        "charge.dispute.created" | "charge.dispute.closed" => {
            let dispute: DisputeObject = object_as(event_type, object)?;
            let dispute_id = stripe_id("dispute id", dispute.id)?;
            let Some(payment_intent_id) = expandable_id("payment_intent", dispute.payment_intent)?
            else {
                return Ok(CreditsEventKind::Ignored);
            };
            match (event_type, dispute.status.as_deref()) {
                ("charge.dispute.created", _) => CreditsEventKind::DisputeOpened {
                    dispute_id,
                    payment_intent_id,
                },
                (_, Some(status @ ("won" | "lost"))) => CreditsEventKind::DisputeClosed {
                    dispute_id,
                    payment_intent_id,
                    won: status == "won",
                },
                _ => CreditsEventKind::Ignored,
            }
        }
        _ => CreditsEventKind::Ignored,
    };
    Ok(kind)
}

/// The longest id or type we accept (ids are indexed; Stripe's are short).
const MAX_ID_LEN: usize = 255;

/// A Stripe object id of the kind `T` (`evt_…`, `pi_…`, `re_…`, `dp_…`):
/// its prefix, then letters, digits and `_`, at most 255 bytes. Anything
/// else is refused before it could reach the database.
fn stripe_id<T: std::str::FromStr<Err = BadStripeId>>(
    field: &str,
    value: String,
) -> Result<T, SignatureError> {
    value
        .parse()
        .map_err(|e: BadStripeId| SignatureError::BadPayload(format!("{field}: {e}")))
}

/// An event type such as `charge.dispute.created`: printable ASCII without
/// spaces, at most 255 bytes.
fn stripe_event_type(value: String) -> Result<String, SignatureError> {
    let valid = !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(value)
    } else {
        Err(SignatureError::BadPayload(
            "type is not a Stripe event type".into(),
        ))
    }
}

/// Free text we may store (JSON audit details): no NUL, bounded length.
fn storable_text(field: &str, value: String) -> Result<String, SignatureError> {
    if value.contains('\0') || value.len() > 4096 {
        return Err(SignatureError::BadPayload(format!(
            "{field} cannot be stored"
        )));
    }
    Ok(value)
}

fn checkout_session_id(value: String) -> Result<CheckoutSessionId, SignatureError> {
    stripe_id("checkout session id", value)
}

/// An expandable reference: an id, or an object with an `id`.
fn expandable_id<T: std::str::FromStr<Err = BadStripeId>>(
    field: &str,
    value: Option<Value>,
) -> Result<Option<T>, SignatureError> {
    let id = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(id)) => id,
        Some(Value::Object(mut object)) => match object.remove("id") {
            Some(Value::String(id)) => id,
            _ => {
                return Err(SignatureError::BadPayload(format!("{field} has no id")));
            }
        },
        Some(_) => {
            return Err(SignatureError::BadPayload(format!("{field} is not an id")));
        }
    };
    stripe_id(field, id).map(Some)
}

fn cents(field: &str, amount: i64) -> Result<Cents, SignatureError> {
    Cents::new(amount).map_err(|e| SignatureError::BadPayload(format!("{field}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(payload: &str, secret: &str, t: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{payload}").as_bytes());
        format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    fn secrets() -> Vec<Secret> {
        vec![Secret::new("whsec_a"), Secret::new("whsec_b")]
    }

    #[test]
    fn the_documented_api_version_is_the_sdks() {
        assert_eq!(SDK_API_VERSION, stripe_shared::version::VERSION.as_str());
    }

    #[test]
    fn any_configured_secret_verifies_within_the_tolerance() {
        let body = r#"{"id":"evt_1"}"#;
        let now = 1_800_000_000;
        let check = |payload: &str, header: &str| {
            verify_signature(payload.as_bytes(), Some(header), &secrets(), now)
        };
        for secret in ["whsec_a", "whsec_b"] {
            assert!(check(body, &sign(body, secret, now)).is_ok());
        }
        let rotated = format!("{},v1=00ff", sign(body, "whsec_b", now - 300));
        assert!(check(body, &rotated).is_ok());
        assert!(matches!(
            check(body, &sign(body, "whsec_a", now - 301)),
            Err(SignatureError::Stale)
        ));
        assert!(matches!(
            check(body, &sign(body, "whsec_c", now)),
            Err(SignatureError::BadSignature)
        ));
        assert!(matches!(
            check("{}", &sign(body, "whsec_a", now)),
            Err(SignatureError::BadSignature)
        ));
        assert!(matches!(
            check(body, "t=abc,v1=zz"),
            Err(SignatureError::BadSignature)
        ));
        assert!(matches!(
            verify_signature(body.as_bytes(), None, &secrets(), now),
            Err(SignatureError::Missing)
        ));
    }

    fn event(event_type: &str, object: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "id": "evt_1", "object": "event", "type": event_type, "created": 1,
            "livemode": false, "api_version": "2019-01-01", "data": { "object": object },
        }))
        .unwrap()
    }

    #[test]
    fn only_handled_types_have_their_object_decoded() {
        let lean = parse_credits_event(&event(
            "charge.succeeded",
            serde_json::json!({ "id": "ch_1", "object": "charge" }),
        ))
        .unwrap();
        assert_eq!(lean.kind, CreditsEventKind::Ignored);
        assert_eq!(lean.api_version.as_deref(), Some("2019-01-01"));
        let unknown = parse_credits_event(&event("v2.something.new", Value::Null)).unwrap();
        assert_eq!(unknown.kind, CreditsEventKind::Ignored);

        let failed = parse_credits_event(&event(
            "charge.refund.updated",
            serde_json::json!({ "id": "re_1", "object": "refund", "amount": 500, "status": "failed", "payment_intent": "pi_1", "charge": "ch_1" }),
        ))
        .unwrap();
        assert_eq!(
            failed.kind,
            CreditsEventKind::RefundFailed {
                refund_id: "re_1".parse().unwrap(),
                payment_intent_id: "pi_1".parse().unwrap(),
                amount: Cents::new(500).unwrap(),
            }
        );
        let won = parse_credits_event(&event(
            "charge.dispute.closed",
            serde_json::json!({ "id": "dp_1", "object": "dispute", "amount": 500, "status": "won", "payment_intent": { "id": "pi_1" }, "charge": "ch_1" }),
        ))
        .unwrap();
        assert_eq!(
            won.kind,
            CreditsEventKind::DisputeClosed {
                dispute_id: "dp_1".parse().unwrap(),
                payment_intent_id: "pi_1".parse().unwrap(),
                won: true,
            }
        );
    }

    #[test]
    fn text_postgres_would_refuse_is_refused_here() {
        let nul_id = br#"{"id":"evt_\u0000x","type":"charge.succeeded","created":1,"livemode":false,"data":{"object":{}}}"#;
        assert!(matches!(
            parse_credits_event(nul_id),
            Err(SignatureError::BadPayload(_))
        ));
        let nul_type = br#"{"id":"evt_1","type":"charge.\u0000","created":1,"livemode":false,"data":{"object":{}}}"#;
        assert!(parse_credits_event(nul_type).is_err());
        let long_id = event("charge.succeeded", Value::Null);
        let long_id = String::from_utf8(long_id)
            .unwrap()
            .replace("evt_1", &format!("evt_{}", "x".repeat(300)));
        assert!(parse_credits_event(long_id.as_bytes()).is_err());
        let nul_intent = event(
            "charge.refunded",
            serde_json::json!({ "payment_intent": "pi_\u{0}1", "amount_refunded": 5 }),
        );
        assert!(parse_credits_event(&nul_intent).is_err());
        let nul_session = event(
            "checkout.session.expired",
            serde_json::json!({ "id": "cs_\u{0}" }),
        );
        assert!(parse_credits_event(&nul_session).is_err());
    }
}
