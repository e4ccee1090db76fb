//! The only module that speaks to Stripe (or the emulator, through
//! `STRIPE_API_BASE`). It takes and returns our types; no `stripe::` type
//! leaves it.

use std::collections::HashMap;

use domain::{Cents, Credits};
use stripe::StripeRequest;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionPaymentIntentData,
    ExpireCheckoutSession, ListCheckoutSession, RetrieveCheckoutSession,
};
use stripe_core::{customer::CreateCustomer, refund::CreateRefund};
use stripe_product::{
    price::{CreatePrice, ListPrice, UpdatePrice},
    product::{CreateProduct, UpdateProduct},
};
use stripe_shared::{CheckoutSession, CheckoutSessionMode, CheckoutSessionPaymentStatus};
use stripe_webhook::{EventObject, Webhook, WebhookError};

use crate::{
    Secret,
    config::StripeConfig,
    ids::{CheckoutSessionId, PurchaseId, UserId},
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
    /// `re_…`
    pub refund_id: String,
    /// This refund's amount.
    pub amount: Cents,
    /// Everything refunded on the charge so far, this refund included, when
    /// Stripe said (the same figure `charge.refunded` carries).
    pub charge_refunded_total: Option<Cents>,
}

#[derive(Clone)]
pub struct StripeGateway {
    client: stripe::Client,
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
    pub payment_intent_id: Option<String>,
    pub client_reference_id: Option<String>,
    /// What the session charges in all (`amount_total`), in the currency's
    /// smallest unit; `None` when Stripe did not say.
    pub amount_total: Option<Cents>,
    /// `usd`, lower case as Stripe writes it.
    pub currency: Option<String>,
    /// Whether the session belongs to a live-mode account.
    pub livemode: bool,
}

impl CheckoutOutcome {
    /// The payment as the purchase service holds it against our record.
    pub fn payment(&self) -> SessionPayment<'_> {
        SessionPayment {
            status: self.payment_status,
            payment_intent_id: self.payment_intent_id.as_deref(),
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
    pub customer_id: &'a str,
    pub price_id: &'a str,
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
            client,
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
    ) -> Result<String, StripeError> {
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
        Ok(customer.id.to_string())
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
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .customer(checkout.customer_id)
            .client_reference_id(checkout.purchase_id.to_string())
            .line_items(vec![CreateCheckoutSessionLineItems {
                price: Some(checkout.price_id.to_owned()),
                quantity: Some(1),
                ..CreateCheckoutSessionLineItems::new()
            }])
            .metadata(metadata.clone())
            .payment_intent_data(CreateCheckoutSessionPaymentIntentData {
                metadata: Some(metadata),
                ..CreateCheckoutSessionPaymentIntentData::new()
            })
            .success_url(checkout.success_url)
            .cancel_url(checkout.cancel_url)
            .customize()
            .request_strategy(idempotent(&format!(
                "credit-checkout-{}",
                checkout.purchase_id
            ))?)
            .send(&self.client)
            .await?;
        let url = session
            .url
            .clone()
            .ok_or_else(|| StripeError::Unexpected("checkout session has no url".into()))?;
        Ok(CheckoutRedirect {
            session_id: session_id(&session)?,
            url,
        })
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
        payment_intent_id: &str,
    ) -> Result<Option<CheckoutOutcome>, StripeError> {
        let sessions = ListCheckoutSession::new()
            .payment_intent(payment_intent_id)
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
    /// package, found again by lookup key; archives a price that no longer
    /// matches. Returns `(product_id, price_id)`.
    pub async fn sync_package(
        &self,
        package: &CreditPackage,
    ) -> Result<(String, String), StripeError> {
        let lookup_key = format!("credits_{}", package.code);
        let existing = ListPrice::new()
            .lookup_keys(vec![lookup_key.clone()])
            .send(&self.client)
            .await?;
        if let Some(price) = existing.data.iter().find(|p| p.active) {
            let product_id = match &price.product {
                stripe_types::Expandable::Id(id) => id.to_string(),
                stripe_types::Expandable::Object(product) => product.id.to_string(),
            };
            if price.unit_amount == Some(package.price.get())
                && price.currency == stripe_types::Currency::USD
            {
                UpdateProduct::new(product_id.as_str())
                    .name(&package.name)
                    .send(&self.client)
                    .await?;
                return Ok((product_id, price.id.to_string()));
            }
            // Prices are immutable: a new amount is a new price under the same key.
            let new_price = CreatePrice::new(stripe_types::Currency::USD)
                .product(product_id.as_str())
                .unit_amount(package.price.get())
                .lookup_key(&lookup_key)
                .transfer_lookup_key(true)
                .send(&self.client)
                .await?;
            UpdatePrice::new(price.id.clone())
                .active(false)
                .send(&self.client)
                .await?;
            return Ok((product_id, new_price.id.to_string()));
        }
        let product = CreateProduct::new(&package.name)
            .metadata(HashMap::from([(
                "package_code".to_owned(),
                package.code.to_string(),
            )]))
            .send(&self.client)
            .await?;
        let price = CreatePrice::new(stripe_types::Currency::USD)
            .product(product.id.as_str())
            .unit_amount(package.price.get())
            .lookup_key(&lookup_key)
            .transfer_lookup_key(true)
            .send(&self.client)
            .await?;
        Ok((product.id.to_string(), price.id.to_string()))
    }
}

impl StripeGateway {
    /// Refunds `amount` (everything left when `None`) of the payment. The
    /// same `idempotency_key` with the same request never refunds twice.
    pub async fn create_refund(
        &self,
        payment_intent_id: &str,
        amount: Option<Cents>,
        idempotency_key: &str,
    ) -> Result<RefundReceipt, StripeError> {
        let mut request = CreateRefund::new()
            .payment_intent(payment_intent_id)
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
            refund_id: refund.id.to_string(),
            amount: Cents::new(refund.amount)
                .map_err(|e| StripeError::Unexpected(format!("refund amount: {e}")))?,
            charge_refunded_total,
        })
    }

    /// Stops a price from being sold (Stripe prices are never deleted).
    pub async fn archive_price(&self, price_id: &str) -> Result<(), StripeError> {
        UpdatePrice::new(price_id)
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

fn session_id(session: &CheckoutSession) -> Result<CheckoutSessionId, StripeError> {
    CheckoutSessionId::parse(session.id.as_str())
        .map_err(|e| StripeError::Unexpected(e.to_string()))
}

fn outcome(session: &CheckoutSession) -> Result<CheckoutOutcome, StripeError> {
    let payment_status = match session.payment_status {
        CheckoutSessionPaymentStatus::Paid => PaymentStatus::Paid,
        CheckoutSessionPaymentStatus::NoPaymentRequired => PaymentStatus::NoPaymentRequired,
        _ => PaymentStatus::Unpaid,
    };
    let payment_intent_id = session.payment_intent.as_ref().map(|pi| match pi {
        stripe_types::Expandable::Id(id) => id.to_string(),
        stripe_types::Expandable::Object(intent) => intent.id.to_string(),
    });
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
    })
}

/// A verified credits webhook event, in our terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditsEvent {
    pub id: String,
    /// Stripe's type, e.g. `checkout.session.completed`.
    pub event_type: String,
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
        payment_intent_id: String,
        amount_refunded: Cents,
    },
    /// Anything else: acknowledged and ignored.
    Ignored,
}

#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the signature does not match any configured secret")]
    BadSignature,
    #[error("the signature timestamp is outside the 300 s tolerance")]
    Stale,
    #[error("the event could not be parsed: {0}")]
    BadPayload(String),
}

/// Verifies `payload` against each secret (rotation: any one may match,
/// compared in constant time, 300 s tolerance) and translates the event.
pub fn verify_credits_event(
    payload: &str,
    signature: Option<&str>,
    secrets: &[Secret],
) -> Result<CreditsEvent, SignatureError> {
    let signature = signature.ok_or(SignatureError::Missing)?;
    let mut last = SignatureError::BadSignature;
    for secret in secrets {
        match Webhook::construct_event(payload, signature, secret.expose()) {
            Ok(event) => return translate(event),
            Err(WebhookError::BadSignature) | Err(WebhookError::BadKey) => {}
            Err(WebhookError::BadTimestamp(_)) => last = SignatureError::Stale,
            Err(WebhookError::BadHeader(_)) => return Err(SignatureError::BadSignature),
            Err(other) => return Err(SignatureError::BadPayload(other.to_string())),
        }
    }
    Err(last)
}

fn translate(event: stripe_webhook::Event) -> Result<CreditsEvent, SignatureError> {
    let id = event.id.to_string();
    let event_type = event.type_.to_string();
    let bad = |e: StripeError| SignatureError::BadPayload(e.to_string());
    let kind = match event.data.object {
        EventObject::CheckoutSessionCompleted(session)
        | EventObject::CheckoutSessionAsyncPaymentSucceeded(session) => {
            CreditsEventKind::CheckoutSettled(outcome(&session).map_err(bad)?)
        }
        EventObject::CheckoutSessionAsyncPaymentFailed(session) => {
            CreditsEventKind::CheckoutPaymentFailed(session_id(&session).map_err(bad)?)
        }
        EventObject::CheckoutSessionExpired(session) => {
            CreditsEventKind::CheckoutExpired(session_id(&session).map_err(bad)?)
        }
        EventObject::ChargeRefunded(charge) => match &charge.payment_intent {
            Some(intent) => CreditsEventKind::ChargeRefunded {
                payment_intent_id: match intent {
                    stripe_types::Expandable::Id(id) => id.to_string(),
                    stripe_types::Expandable::Object(intent) => intent.id.to_string(),
                },
                amount_refunded: Cents::new(charge.amount_refunded)
                    .map_err(|e| SignatureError::BadPayload(format!("amount_refunded: {e}")))?,
            },
            None => CreditsEventKind::Ignored,
        },
        _ => CreditsEventKind::Ignored,
    };
    Ok(CreditsEvent {
        id,
        event_type,
        kind,
    })
}
