//! Every endpoint driven by the real async-stripe client; every response parsed by its types.

use std::collections::HashMap;

use serde_json::json;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionPaymentIntentData,
    ExpireCheckoutSession, ListCheckoutSession, ListLineItemsCheckoutSession,
    RetrieveCheckoutSession,
};
use stripe_core::customer::{
    CreateCustomer, ListCustomer, RetrieveCustomer, RetrieveCustomerReturned, SearchCustomer,
};
use stripe_core::event::{ListEvent, RetrieveEvent};
use stripe_product::price::{
    CreatePrice, CreatePriceRecurring, CreatePriceRecurringInterval, ListPrice, RetrievePrice,
    UpdatePrice,
};
use stripe_product::product::{CreateProduct, ListProduct, RetrieveProduct, UpdateProduct};
use stripe_shared::{
    CheckoutSessionMode, CheckoutSessionPaymentStatus, CheckoutSessionStatus,
    CheckoutSessionUiMode, PriceType,
};

use crate::common::{Harness, KEY};

fn stripe_error(err: stripe::StripeError) -> (stripe_shared::ApiErrors, u16) {
    match err {
        stripe::StripeError::Stripe(e, status) => (*e, status),
        other => panic!("expected a Stripe API error, got {other:?}"),
    }
}

#[tokio::test]
async fn products_and_prices() {
    let h = Harness::start().await;
    let c = &h.client;
    let product = CreateProduct::new("Gadget")
        .description("A thing")
        .metadata(HashMap::from([("k".to_owned(), "v".to_owned())]))
        .send(c)
        .await
        .unwrap();
    assert!(product.id.as_str().starts_with("prod_"));
    assert_eq!(product.name, "Gadget");
    assert_eq!(product.metadata["k"], "v");
    assert!(!product.livemode);

    let got = RetrieveProduct::new(product.id.clone())
        .send(c)
        .await
        .unwrap();
    assert_eq!(got.id, product.id);
    let updated = UpdateProduct::new(product.id.clone())
        .name("Gadget 2")
        .send(c)
        .await
        .unwrap();
    assert_eq!(updated.name, "Gadget 2");

    let one_time = CreatePrice::new(stripe_types::Currency::USD)
        .product(product.id.as_str())
        .unit_amount(1234)
        .lookup_key("gadget_once")
        .send(c)
        .await
        .unwrap();
    assert_eq!(one_time.type_, PriceType::OneTime);
    assert_eq!(one_time.unit_amount, Some(1234));
    assert_eq!(one_time.lookup_key.as_deref(), Some("gadget_once"));

    let monthly = CreatePrice::new(stripe_types::Currency::USD)
        .product(product.id.as_str())
        .unit_amount(500)
        .recurring(CreatePriceRecurring::new(
            CreatePriceRecurringInterval::Month,
        ))
        .send(c)
        .await
        .unwrap();
    assert_eq!(monthly.type_, PriceType::Recurring);
    let recurring = monthly.recurring.as_ref().unwrap();
    assert_eq!(recurring.interval_count, 1);

    // Duplicate lookup key is refused unless transferred.
    let err = CreatePrice::new(stripe_types::Currency::USD)
        .product(product.id.as_str())
        .unit_amount(1)
        .lookup_key("gadget_once")
        .send(c)
        .await
        .unwrap_err();
    let (e, status) = stripe_error(err);
    assert_eq!(status, 400);
    assert_eq!(e.param.as_deref(), Some("lookup_key"));

    let by_key = ListPrice::new()
        .lookup_keys(vec!["gadget_once".to_owned()])
        .send(c)
        .await
        .unwrap();
    assert_eq!(by_key.data.len(), 1);
    assert_eq!(by_key.data[0].id, one_time.id);

    let archived = UpdatePrice::new(one_time.id.clone())
        .active(false)
        .send(c)
        .await
        .unwrap();
    assert!(!archived.active);
    let active = ListPrice::new()
        .active(true)
        .product(product.id.as_str())
        .send(c)
        .await
        .unwrap();
    assert_eq!(
        active.data.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        vec![monthly.id.clone()]
    );
    let got = RetrievePrice::new(one_time.id.clone())
        .send(c)
        .await
        .unwrap();
    assert!(!got.active);

    // Paging: the seed made 11 prices, plus our 2.
    let page1 = ListPrice::new().limit(5).send(c).await.unwrap();
    assert_eq!(page1.data.len(), 5);
    assert!(page1.has_more);
    let page2 = ListPrice::new()
        .limit(100)
        .starting_after(page1.data[4].id.as_str())
        .send(c)
        .await
        .unwrap();
    assert_eq!(page2.data.len(), 13 - 5);
    assert!(!page2.has_more);

    let products = ListProduct::new().active(true).send(c).await.unwrap();
    assert!(products.data.iter().any(|p| p.id == product.id));

    // Seeded catalogue: fixed ids and lookup keys.
    let seeded = ListPrice::new()
        .lookup_keys(vec![
            "credits_starter".to_owned(),
            "tier_professional_yearly".to_owned(),
        ])
        .send(c)
        .await
        .unwrap();
    assert_eq!(seeded.data.len(), 2);
    assert!(
        seeded
            .data
            .iter()
            .any(|p| p.id.as_str() == "price_seed_credits_starter" && p.unit_amount == Some(1000))
    );
}

#[tokio::test]
async fn customers_and_search() {
    let h = Harness::start().await;
    let c = &h.client;
    let customer = CreateCustomer::new()
        .email("ann@example.com")
        .name("Ann")
        .metadata(HashMap::from([("user_id".to_owned(), "42".to_owned())]))
        .send(c)
        .await
        .unwrap();
    assert!(customer.id.as_str().starts_with("cus_"));
    CreateCustomer::new()
        .email("bob@example.com")
        .send(c)
        .await
        .unwrap();

    match RetrieveCustomer::new(customer.id.clone())
        .send(c)
        .await
        .unwrap()
    {
        RetrieveCustomerReturned::Customer(got) => {
            assert_eq!(got.email.as_deref(), Some("ann@example.com"))
        }
        RetrieveCustomerReturned::DeletedCustomer(_) => panic!("not deleted"),
    }
    let listed = ListCustomer::new()
        .email("ann@example.com")
        .send(c)
        .await
        .unwrap();
    assert_eq!(listed.data.len(), 1);
    assert_eq!(listed.data[0].id, customer.id);

    let found = SearchCustomer::new("email:'ann@example.com'")
        .send(c)
        .await
        .unwrap();
    assert_eq!(found.data.len(), 1);
    assert_eq!(found.data[0].id, customer.id);
    let found = SearchCustomer::new("metadata['user_id']:'42'")
        .send(c)
        .await
        .unwrap();
    assert_eq!(found.data.len(), 1);

    let err = RetrieveCustomer::new("cus_missing")
        .send(c)
        .await
        .unwrap_err();
    let (e, status) = stripe_error(err);
    assert_eq!(status, 404);
    assert_eq!(
        e.code.as_ref().map(|c| c.as_str()),
        Some("resource_missing")
    );
    assert_eq!(
        e.message.as_deref(),
        Some("No such customer: 'cus_missing'")
    );

    let portal = CreateBillingPortalSession::new()
        .customer(customer.id.as_str())
        .return_url("http://app.test/account")
        .send(c)
        .await
        .unwrap();
    assert!(portal.url.starts_with(&h.emulator.base_url));
    assert_eq!(portal.customer, customer.id.as_str());
}

#[tokio::test]
async fn checkout_session_create_retrieve_list_expire() {
    let h = Harness::start().await;
    let c = &h.client;
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some("price_seed_credits_standard".into()),
            quantity: Some(2),
            ..CreateCheckoutSessionLineItems::new()
        }])
        .customer_email("buyer@example.com")
        .client_reference_id("purchase-1")
        .metadata(HashMap::from([("purchase_id".to_owned(), "p1".to_owned())]))
        .payment_intent_data(CreateCheckoutSessionPaymentIntentData {
            metadata: Some(HashMap::from([("purchase_id".to_owned(), "p1".to_owned())])),
            ..CreateCheckoutSessionPaymentIntentData::new()
        })
        .success_url("http://app.test/ok?session_id={CHECKOUT_SESSION_ID}")
        .cancel_url("http://app.test/cancel")
        .allow_promotion_codes(true)
        .send(c)
        .await
        .unwrap();
    assert!(session.id.as_str().starts_with("cs_test_"));
    assert_eq!(session.amount_total, Some(9000));
    assert_eq!(session.status, Some(CheckoutSessionStatus::Open));
    assert_eq!(session.payment_status, CheckoutSessionPaymentStatus::Unpaid);
    // The value of the API version the emulator answers in (2026-09-30),
    // not the older `hosted` that the client would log as unknown.
    assert_eq!(session.ui_mode, Some(CheckoutSessionUiMode::HostedPage));
    assert_eq!(session.client_reference_id.as_deref(), Some("purchase-1"));
    assert_eq!(session.metadata.as_ref().unwrap()["purchase_id"], "p1");
    let url = session.url.clone().unwrap();
    assert_eq!(url, format!("{}/c/pay/{}", h.emulator.base_url, session.id));

    let got = RetrieveCheckoutSession::new(session.id.clone())
        .expand(vec!["line_items".to_owned()])
        .send(c)
        .await
        .unwrap();
    let items = got.line_items.unwrap();
    assert_eq!(items.data.len(), 1);
    assert_eq!(items.data[0].quantity, Some(2));
    assert_eq!(items.data[0].amount_total, 9000);
    assert_eq!(
        items.data[0].price.as_ref().unwrap().id.as_str(),
        "price_seed_credits_standard"
    );

    let lines = ListLineItemsCheckoutSession::new(session.id.clone())
        .send(c)
        .await
        .unwrap();
    assert_eq!(lines.data.len(), 1);

    let listed = ListCheckoutSession::new()
        .status(CheckoutSessionStatus::Open)
        .send(c)
        .await
        .unwrap();
    assert!(listed.data.iter().any(|s| s.id == session.id));

    // Errors: recurring price in payment mode; customer and customer_email together.
    let err = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some("price_seed_tier_starter_monthly".into()),
            quantity: Some(1),
            ..CreateCheckoutSessionLineItems::new()
        }])
        .send(c)
        .await
        .unwrap_err();
    assert_eq!(stripe_error(err).1, 400);

    let expired = ExpireCheckoutSession::new(session.id.clone())
        .send(c)
        .await
        .unwrap();
    assert_eq!(expired.status, Some(CheckoutSessionStatus::Expired));
    let again = ExpireCheckoutSession::new(session.id.clone())
        .send(c)
        .await
        .unwrap_err();
    assert_eq!(stripe_error(again).1, 400);

    // payment_intent_data[metadata] lands on the payment intent; the session does not show it.
    let raw: serde_json::Value = h
        .http
        .get(h.url(&format!("/v1/checkout/sessions/{}", session.id)))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(raw.get("payment_intent_data").is_none(), "{raw}");
    let second = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some("price_seed_credits_starter".into()),
            quantity: Some(1),
            ..CreateCheckoutSessionLineItems::new()
        }])
        .payment_intent_data(CreateCheckoutSessionPaymentIntentData {
            metadata: Some(HashMap::from([("purchase_id".to_owned(), "p2".to_owned())])),
            ..CreateCheckoutSessionPaymentIntentData::new()
        })
        .send(c)
        .await
        .unwrap();
    h.control(
        &format!("/checkout/sessions/{}/pay", second.id),
        json!({"card": "4242424242424242"}),
    )
    .await;
    let paid = RetrieveCheckoutSession::new(second.id.clone())
        .expand(vec!["payment_intent".to_owned()])
        .send(c)
        .await
        .unwrap();
    match paid.payment_intent.unwrap() {
        stripe_types::Expandable::Object(pi) => assert_eq!(pi.metadata["purchase_id"], "p2"),
        stripe_types::Expandable::Id(_) => panic!("not expanded"),
    }
    let late = h
        .http
        .post(h.url(&format!("/_emulator/checkout/sessions/{}/pay", session.id)))
        .json(&json!({"card": "4242424242424242"}))
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 402, "an expired session cannot be paid");

    let event = h.receiver.wait_for("checkout.session.expired", 1).await;
    assert_eq!(event[0].json["data"]["object"]["id"], session.id.as_str());

    let events = ListEvent::new()
        .type_("checkout.session.expired")
        .send(c)
        .await
        .unwrap();
    assert_eq!(events.data.len(), 1);
    let one = RetrieveEvent::new(events.data[0].id.clone())
        .send(c)
        .await
        .unwrap();
    assert_eq!(one.id, events.data[0].id);
}

#[tokio::test]
async fn auth_errors_idempotency_and_unknown_routes() {
    let h = Harness::start().await;
    // No key / a live key: 401 in Stripe's shape, parsed by async-stripe.
    let live = stripe::ClientBuilder::new("sk_live_nope")
        .url(h.emulator.base_url.clone())
        .build()
        .unwrap();
    let (e, status) = stripe_error(ListCustomer::new().send(&live).await.unwrap_err());
    assert_eq!(status, 401);
    assert_eq!(e.type_, stripe_shared::ApiErrorsType::InvalidRequestError);
    let raw = h.http.get(h.url("/v1/customers")).send().await.unwrap();
    assert_eq!(raw.status(), 401);

    // Same Idempotency-Key and body: the same customer back, replayed.
    let post = |key: &'static str, email: &'static str| {
        h.http
            .post(h.url("/v1/customers"))
            .bearer_auth(KEY)
            .header("Idempotency-Key", key)
            .form(&[("email", email)])
            .send()
    };
    let first: serde_json::Value = post("k1", "idem@example.com")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = post("k1", "idem@example.com").await.unwrap();
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: serde_json::Value = second.json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    let other = post("k1", "different@example.com").await.unwrap();
    assert_eq!(other.status(), 400);
    let other: serde_json::Value = other.json().await.unwrap();
    assert_eq!(other["error"]["type"], "idempotency_error");
    let listed = ListCustomer::new()
        .email("idem@example.com")
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(listed.data.len(), 1);

    let unknown = h
        .http
        .get(h.url("/v1/nope"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let health = h.http.get(h.url("/_emulator/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn remaining_endpoints_parse_with_async_stripe() {
    use stripe_billing::invoice::{ListInvoice, RetrieveInvoice};
    use stripe_core::charge::ListCharge;
    use stripe_core::customer::{DeleteCustomer, ListPaymentMethodsCustomer, UpdateCustomer};
    use stripe_core::payment_intent::ListPaymentIntent;
    use stripe_core::refund::{CreateRefund, ListRefund, RetrieveRefund};
    use stripe_payment::payment_method::RetrievePaymentMethod;
    use stripe_product::product::DeleteProduct;

    let h = Harness::start().await;
    let c = &h.client;
    let start = stripe_emulator_now() - 1;
    let customer = CreateCustomer::new()
        .email("rest@example.com")
        .send(c)
        .await
        .unwrap();
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .customer(customer.id.as_str())
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some("price_seed_tier_starter_yearly".into()),
            quantity: Some(1),
            ..CreateCheckoutSessionLineItems::new()
        }])
        .send(c)
        .await
        .unwrap();
    let paid = h
        .control(&format!("/checkout/sessions/{}/pay", session.id), json!({}))
        .await;
    assert_eq!(paid["status"], "complete");

    let methods = ListPaymentMethodsCustomer::new(customer.id.clone())
        .send(c)
        .await
        .unwrap();
    assert_eq!(methods.data.len(), 1);
    let pm = RetrievePaymentMethod::new(methods.data[0].id.clone())
        .send(c)
        .await
        .unwrap();
    assert_eq!(pm.customer.unwrap().id(), &customer.id);
    let updated = UpdateCustomer::new(customer.id.clone())
        .name("Rest")
        .invoice_settings(stripe_core::customer::UpdateCustomerInvoiceSettings {
            default_payment_method: Some(pm.id.as_str().to_owned()),
            ..stripe_core::customer::UpdateCustomerInvoiceSettings::new()
        })
        .send(c)
        .await
        .unwrap();
    assert_eq!(updated.name.as_deref(), Some("Rest"));

    let intents = ListPaymentIntent::new()
        .customer(customer.id.as_str())
        .send(c)
        .await
        .unwrap();
    assert_eq!(intents.data.len(), 1);
    assert_eq!(intents.data[0].amount, 19_000);
    let charges = ListCharge::new()
        .customer(customer.id.as_str())
        .send(c)
        .await
        .unwrap();
    assert_eq!(charges.data.len(), 1);
    let invoices = ListInvoice::new()
        .customer(customer.id.as_str())
        .send(c)
        .await
        .unwrap();
    let invoice = RetrieveInvoice::new(invoices.data[0].id.clone().unwrap())
        .send(c)
        .await
        .unwrap();
    assert_eq!(invoice.amount_paid, 19_000);
    assert_eq!(invoice.lines.data.len(), 1);

    let refund = CreateRefund::new()
        .payment_intent(intents.data[0].id.as_str())
        .amount(100)
        .send(c)
        .await
        .unwrap();
    let got = RetrieveRefund::new(refund.id.clone())
        .send(c)
        .await
        .unwrap();
    assert_eq!(got.amount, 100);
    let by_pi = ListRefund::new()
        .payment_intent(intents.data[0].id.as_str())
        .send(c)
        .await
        .unwrap();
    assert_eq!(by_pi.data.len(), 1);

    let recent = ListEvent::new()
        .created(stripe_types::RangeQueryTs::gte(start))
        .limit(100)
        .send(c)
        .await
        .unwrap();
    assert!(
        recent
            .data
            .iter()
            .any(|e| e.type_.as_str() == "invoice.paid")
    );
    let none = ListEvent::new()
        .created(stripe_types::RangeQueryTs::gt(start + 3600))
        .send(c)
        .await
        .unwrap();
    assert!(none.data.is_empty());

    let product = CreateProduct::new("Temporary").send(c).await.unwrap();
    let deleted = DeleteProduct::new(product.id.clone())
        .send(c)
        .await
        .unwrap();
    assert_eq!(deleted.id, product.id);
    let gone = DeleteCustomer::new(customer.id.clone())
        .send(c)
        .await
        .unwrap();
    assert_eq!(gone.id, customer.id);

    // Reset forgets everything but the seed.
    let reset = h.control("/reset", json!({})).await;
    assert_eq!(reset["seeded"], true);
    assert!(ListCustomer::new().send(c).await.unwrap().data.is_empty());
    RetrievePrice::new("price_seed_credits_starter")
        .send(c)
        .await
        .unwrap();
    assert!(ListEvent::new().send(c).await.unwrap().data.is_empty());

    // curl-style Basic auth works too.
    let basic = h
        .http
        .get(h.url("/v1/products"))
        .basic_auth(KEY, Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
}

fn stripe_emulator_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
