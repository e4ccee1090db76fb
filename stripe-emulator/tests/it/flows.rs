//! End-to-end flows over plain HTTP (the hosted pages) with webhooks at a test receiver.

use serde_json::{Value, json};
use stripe_billing::invoice::ListInvoice;
use stripe_billing::subscription::{
    CancelSubscription, ListSubscription, RetrieveSubscription, UpdateSubscription,
    UpdateSubscriptionItems,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
    RetrieveCheckoutSession,
};
use stripe_core::charge::RetrieveCharge;
use stripe_core::event::ListEvent;
use stripe_core::payment_intent::RetrievePaymentIntent;
use stripe_core::refund::{CreateRefund, ListRefund};
use stripe_payment::payment_method::ListPaymentMethod;
use stripe_shared::{
    CheckoutSession, CheckoutSessionMode, CheckoutSessionPaymentStatus, CheckoutSessionStatus,
    DisputeStatus, PaymentIntentStatus, SubscriptionStatus,
};
use stripe_webhook::{EventObject, Webhook};

use crate::common::{Harness, Received, SECRET, SLOW};

async fn payment_session(h: &Harness, price: &str) -> CheckoutSession {
    CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some(price.into()),
            quantity: Some(1),
            ..CreateCheckoutSessionLineItems::new()
        }])
        .customer_email("buyer@example.com")
        .success_url("http://app.test/credits?session_id={CHECKOUT_SESSION_ID}")
        .cancel_url("http://app.test/credits?canceled=1")
        .send(&h.client)
        .await
        .unwrap()
}

/// Every delivered event verifies and parses with async-stripe's webhook code.
fn verify_all(received: &[Received]) {
    for r in received {
        let event = Webhook::construct_event(&r.body, &r.signature, SECRET).unwrap_or_else(|e| {
            panic!("{} did not verify/parse: {e:?}\n{}", r.event_type(), r.body)
        });
        assert_eq!(event.type_.as_str(), r.event_type());
    }
}

fn completed_session(r: &Received) -> CheckoutSession {
    match Webhook::construct_event(&r.body, &r.signature, SECRET)
        .unwrap()
        .data
        .object
    {
        EventObject::CheckoutSessionCompleted(s) => *s,
        other => panic!("unexpected object {other:?}"),
    }
}

#[tokio::test]
async fn pay_with_4242_sends_signed_completed_event_and_redirects() {
    let h = Harness::start().await;
    let session = payment_session(&h, "price_seed_credits_starter").await;
    let url = session.url.clone().unwrap();

    let page = h.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for id in [
        "id=\"email\"",
        "id=\"cardNumber\"",
        "id=\"cardExpiry\"",
        "id=\"cardCvc\"",
        "id=\"billingName\"",
        "id=\"submit\"",
        "id=\"cancel\"",
    ] {
        assert!(html.contains(id), "pay page lacks {id}");
    }
    assert!(html.contains("10.00 USD"));

    let response = h.pay(&url, "4242 4242 4242 4242").await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("http://app.test/credits?session_id={}", session.id).as_str()
    );

    let completed = h.receiver.wait_for("checkout.session.completed", 1).await;
    let event_session = completed_session(&completed[0]);
    assert_eq!(event_session.id, session.id);
    assert_eq!(
        event_session.payment_status,
        CheckoutSessionPaymentStatus::Paid
    );
    assert_eq!(event_session.status, Some(CheckoutSessionStatus::Complete));
    h.receiver.wait_for("payment_intent.succeeded", 1).await;
    h.receiver.wait_for("charge.succeeded", 1).await;
    verify_all(&h.receiver.all());

    let got = RetrieveCheckoutSession::new(session.id.clone())
        .expand(vec!["payment_intent".to_owned(), "line_items".to_owned()])
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(got.payment_status, CheckoutSessionPaymentStatus::Paid);
    let pi = match got.payment_intent.unwrap() {
        stripe_types::Expandable::Object(pi) => *pi,
        stripe_types::Expandable::Id(id) => panic!("not expanded: {id}"),
    };
    assert_eq!(pi.status, PaymentIntentStatus::Succeeded);
    assert_eq!(pi.amount_received, 1000);
    assert_eq!(
        got.customer_details.unwrap().email.as_deref(),
        Some("buyer@example.com")
    );
    let pi2 = RetrievePaymentIntent::new(pi.id.clone())
        .send(&h.client)
        .await
        .unwrap();
    let charge = RetrieveCharge::new(pi2.latest_charge.unwrap().id().clone())
        .send(&h.client)
        .await
        .unwrap();
    assert!(charge.paid);
    assert_eq!(charge.amount, 1000);

    // Paying again shows the "already paid" page rather than charging twice.
    let again = h.pay(&url, "4242424242424242").await;
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("already been paid"));
}

#[tokio::test]
async fn declined_cards_keep_the_session_open() {
    let h = Harness::start().await;
    let session = payment_session(&h, "price_seed_credits_pro").await;
    let url = session.url.clone().unwrap();

    let declined = h.pay(&url, "4000000000000002").await;
    assert_eq!(declined.status(), 200);
    let html = declined.text().await.unwrap();
    assert!(html.contains("id=\"error\""));
    assert!(html.contains("Your card was declined."));

    let poor = h.pay(&url, "4000000000009995").await;
    assert!(
        poor.text()
            .await
            .unwrap()
            .contains("Your card has insufficient funds.")
    );

    let got = RetrieveCheckoutSession::new(session.id.clone())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(got.status, Some(CheckoutSessionStatus::Open));
    assert_eq!(got.payment_status, CheckoutSessionPaymentStatus::Unpaid);
    h.receiver
        .wait_for("payment_intent.payment_failed", 2)
        .await;
    assert!(h.receiver.of_type("checkout.session.completed").is_empty());

    // A good card afterwards still completes, on the same payment intent.
    let ok = h.pay(&url, "4242424242424242").await;
    assert_eq!(ok.status(), 303);
    h.receiver.wait_for("checkout.session.completed", 1).await;
    let got = RetrieveCheckoutSession::new(session.id.clone())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(got.payment_status, CheckoutSessionPaymentStatus::Paid);
    verify_all(&h.receiver.all());
}

#[tokio::test]
async fn card_requiring_authentication_asks_for_confirmation() {
    let h = Harness::start().await;
    let session = payment_session(&h, "price_seed_credits_starter").await;
    let url = session.url.clone().unwrap();
    let step = h.pay(&url, "4000002500003155").await;
    assert_eq!(step.status(), 200);
    let html = step.text().await.unwrap();
    assert!(html.contains("id=\"confirm\""));

    let form = [
        ("email", "buyer@example.com"),
        ("cardNumber", "4000002500003155"),
        ("cardExpiry", "12 / 34"),
        ("cardCvc", "123"),
        ("billingName", "Ada"),
    ];
    let mut failed = form.to_vec();
    failed.push(("action", "fail"));
    let page = h
        .http
        .post(format!("{url}/confirm"))
        .form(&failed)
        .send()
        .await
        .unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("unable to authenticate")
    );

    let mut confirmed = form.to_vec();
    confirmed.push(("action", "complete"));
    let done = h
        .http
        .post(format!("{url}/confirm"))
        .form(&confirmed)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    h.receiver.wait_for("checkout.session.completed", 1).await;
}

#[tokio::test]
async fn cancel_link_returns_to_cancel_url_and_leaves_session_open() {
    let h = Harness::start().await;
    let session = payment_session(&h, "price_seed_credits_starter").await;
    let html = h
        .http
        .get(session.url.unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<a id="cancel" href="http://app.test/credits?canceled=1">"#));
    let got = RetrieveCheckoutSession::new(session.id)
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(got.status, Some(CheckoutSessionStatus::Open));
}

#[tokio::test]
async fn failing_receiver_gets_the_event_retried() {
    let h = Harness::start().await;
    h.receiver.answer_with(&[500]);
    let session = payment_session(&h, "price_seed_credits_starter").await;
    // The first request the receiver sees (whatever its type) fails; hold the others back
    // by paying only after the plan is set: every event type is retried the same way.
    h.pay(session.url.as_ref().unwrap(), "4242424242424242")
        .await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let deliveries = h.control_get("/deliveries").await;
        let data = deliveries["data"].as_array().unwrap().clone();
        let failed: Vec<&Value> = data.iter().filter(|a| a["status"] == 500).collect();
        if let Some(failed) = failed.first() {
            let event_id = failed["event_id"].clone();
            let retried = data
                .iter()
                .any(|a| a["event_id"] == event_id && a["attempt"] == 2 && a["success"] == true);
            if retried {
                let same: Vec<Received> = h
                    .receiver
                    .all()
                    .into_iter()
                    .filter(|r| r.json["id"] == event_id)
                    .collect();
                assert_eq!(same.len(), 2, "delivered twice: once failed, once retried");
                assert_eq!(same[0].body, same[1].body);
                verify_all(&same);
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no retry seen: {data:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Once delivered, the event has no pending webhooks left.
    let events = ListEvent::new()
        .delivery_success(false)
        .send(&h.client)
        .await
        .unwrap();
    assert!(
        events.data.is_empty(),
        "undelivered: {:?}",
        events
            .data
            .iter()
            .map(|e| e.type_.as_str().to_owned())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn refunds_emit_charge_refunded() {
    let h = Harness::start().await;
    let session = payment_session(&h, "price_seed_credits_standard").await;
    h.pay(session.url.as_ref().unwrap(), "4242424242424242")
        .await;
    let got = RetrieveCheckoutSession::new(session.id.clone())
        .send(&h.client)
        .await
        .unwrap();
    let pi_id = got.payment_intent.unwrap().id().clone();

    let partial = CreateRefund::new()
        .payment_intent(pi_id.as_str())
        .amount(1500)
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(partial.amount, 1500);
    let charge_id = partial.charge.clone().unwrap().id().clone();
    let charge = RetrieveCharge::new(charge_id.clone())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(charge.amount_refunded, 1500);
    assert!(!charge.refunded);

    let refunded = h.receiver.wait_for("charge.refunded", 1).await;
    match Webhook::construct_event(&refunded[0].body, &refunded[0].signature, SECRET)
        .unwrap()
        .data
        .object
    {
        EventObject::ChargeRefunded(c) => assert_eq!(c.amount_refunded, 1500),
        other => panic!("unexpected {other:?}"),
    }
    h.receiver.wait_for("refund.created", 1).await;

    let rest = CreateRefund::new()
        .charge(charge_id.as_str())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(rest.amount, 3000);
    let charge = RetrieveCharge::new(charge_id.clone())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(charge.amount_refunded, 4500);
    assert!(charge.refunded);
    let too_much = CreateRefund::new()
        .charge(charge_id.as_str())
        .send(&h.client)
        .await
        .unwrap_err();
    assert!(matches!(too_much, stripe::StripeError::Stripe(_, 400)));
    let refunds = ListRefund::new()
        .charge(charge_id.as_str())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(refunds.data.len(), 2);
    h.receiver.wait_for("charge.refunded", 2).await;
    verify_all(&h.receiver.all());
}

#[tokio::test]
async fn subscription_create_renew_fail_cancel() {
    let h = Harness::start().await;
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some("price_seed_tier_starter_monthly".into()),
            quantity: Some(1),
            ..CreateCheckoutSessionLineItems::new()
        }])
        .customer_email("sub@example.com")
        .subscription_data(CreateCheckoutSessionSubscriptionData {
            metadata: Some([("tier".to_owned(), "starter".to_owned())].into()),
            ..CreateCheckoutSessionSubscriptionData::new()
        })
        .success_url("http://app.test/ok?s={CHECKOUT_SESSION_ID}")
        .send(&h.client)
        .await
        .unwrap();
    let paid = h
        .pay(session.url.as_ref().unwrap(), "4242424242424242")
        .await;
    assert_eq!(paid.status(), 303);
    let completed = h.receiver.wait_for("checkout.session.completed", 1).await;
    let cs = completed_session(&completed[0]);
    let sub_id = cs.subscription.clone().unwrap().id().clone();
    let customer_id = cs.customer.clone().unwrap().id().clone();
    h.receiver.wait_for("customer.created", 1).await;
    h.receiver
        .wait_for("customer.subscription.created", 1)
        .await;
    let first_paid = h.receiver.wait_for("invoice.paid", 1).await;
    assert_eq!(
        first_paid[0].json["data"]["object"]["billing_reason"],
        "subscription_create"
    );

    let got = RetrieveCheckoutSession::new(session.id.clone())
        .expand(vec!["subscription".to_owned()])
        .send(&h.client)
        .await
        .unwrap();
    let sub = match got.subscription.unwrap() {
        stripe_types::Expandable::Object(s) => *s,
        stripe_types::Expandable::Id(_) => panic!("not expanded"),
    };
    assert_eq!(sub.status, SubscriptionStatus::Active);
    assert_eq!(sub.metadata["tier"], "starter");
    let period_end = sub.items.data[0].current_period_end;

    // Renewal.
    let renewed = h
        .control(&format!("/subscriptions/{sub_id}/advance"), json!({}))
        .await;
    assert_eq!(renewed["current_period_start"], period_end);
    let cycle = h.receiver.wait_for("invoice.paid", 2).await;
    assert!(
        cycle
            .iter()
            .any(|r| r.json["data"]["object"]["billing_reason"] == "subscription_cycle")
    );
    h.receiver
        .wait_for("customer.subscription.updated", 1)
        .await;

    // A failed renewal: past_due.
    h.control(&format!("/subscriptions/{sub_id}/fail_renewal"), json!({}))
        .await;
    h.receiver.wait_for("invoice.payment_failed", 1).await;
    let sub = RetrieveSubscription::new(sub_id.clone())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(sub.status, SubscriptionStatus::PastDue);

    let invoices = ListInvoice::new()
        .customer(customer_id.as_str())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(invoices.data.len(), 3);
    let methods = ListPaymentMethod::new()
        .customer(customer_id.as_str())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(methods.data.len(), 1);
    assert_eq!(methods.data[0].card.as_ref().unwrap().last4, "4242");

    // Switch plan, then cancel at period end, then the period ends.
    let item_id = sub.items.data[0].id.clone();
    let switched = UpdateSubscription::new(sub_id.clone())
        .items(vec![UpdateSubscriptionItems {
            id: Some(item_id.as_str().to_owned()),
            price: Some("price_seed_tier_professional_monthly".into()),
            ..UpdateSubscriptionItems::new()
        }])
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(
        switched.items.data[0].price.id.as_str(),
        "price_seed_tier_professional_monthly"
    );
    let canceling = UpdateSubscription::new(sub_id.clone())
        .cancel_at_period_end(true)
        .send(&h.client)
        .await
        .unwrap();
    assert!(canceling.cancel_at_period_end);
    let listed = ListSubscription::new()
        .customer(customer_id.as_str())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(listed.data.len(), 1);
    h.control(&format!("/subscriptions/{sub_id}/advance"), json!({}))
        .await;
    let deleted = h
        .receiver
        .wait_for("customer.subscription.deleted", 1)
        .await;
    assert_eq!(deleted[0].json["data"]["object"]["status"], "canceled");
    let err = CancelSubscription::new(sub_id.clone())
        .send(&h.client)
        .await
        .unwrap_err();
    assert!(matches!(err, stripe::StripeError::Stripe(_, 400)));
    verify_all(&h.receiver.all());
}

#[tokio::test]
async fn subscription_cancel_now_and_portal_page() {
    let h = Harness::start().await;
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some("price_seed_tier_trial_monthly".into()),
            quantity: Some(1),
            ..CreateCheckoutSessionLineItems::new()
        }])
        .send(&h.client)
        .await
        .unwrap();
    h.pay(session.url.as_ref().unwrap(), "4242424242424242")
        .await;
    let cs = RetrieveCheckoutSession::new(session.id.clone())
        .send(&h.client)
        .await
        .unwrap();
    let sub_id = cs.subscription.unwrap().id().clone();
    let customer = cs.customer.unwrap().id().clone();

    let portal = stripe_billing::billing_portal_session::CreateBillingPortalSession::new()
        .customer(customer.as_str())
        .return_url("http://app.test/account")
        .send(&h.client)
        .await
        .unwrap();
    let html = h
        .http
        .get(&portal.url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(sub_id.as_str()));
    assert!(html.contains("id=\"cancel-subscription\""));
    assert!(html.contains("id=\"switch-plan\""));
    let after = h
        .http
        .post(&portal.url)
        .form(&[("subscription", sub_id.as_str()), ("action", "cancel")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(after.contains("id=\"renew\""));
    let sub = RetrieveSubscription::new(sub_id.clone())
        .send(&h.client)
        .await
        .unwrap();
    assert!(sub.cancel_at_period_end);
    h.http
        .post(&portal.url)
        .form(&[
            ("subscription", sub_id.as_str()),
            ("action", "switch"),
            ("price", "price_seed_tier_enterprise_monthly"),
        ])
        .send()
        .await
        .unwrap();
    let sub = RetrieveSubscription::new(sub_id.clone())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(
        sub.items.data[0].price.id.as_str(),
        "price_seed_tier_enterprise_monthly"
    );

    let canceled = CancelSubscription::new(sub_id.clone())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(canceled.status, SubscriptionStatus::Canceled);
    h.receiver
        .wait_for("customer.subscription.deleted", 1)
        .await;
    let updated = h
        .receiver
        .wait_for("customer.subscription.updated", 2)
        .await;
    assert!(
        updated
            .iter()
            .any(|r| r.json["data"]["previous_attributes"]["cancel_at_period_end"] == false)
    );
    verify_all(&h.receiver.all());
}

#[tokio::test]
async fn delayed_payment_completes_unpaid_then_settles() {
    let h = Harness::start().await;
    let ok = payment_session(&h, "price_seed_credits_starter").await;
    let bad = payment_session(&h, "price_seed_credits_starter").await;
    assert_eq!(
        h.pay(ok.url.as_ref().unwrap(), "4000000000000077")
            .await
            .status(),
        303
    );
    assert_eq!(
        h.pay(bad.url.as_ref().unwrap(), "4000000000000085")
            .await
            .status(),
        303
    );
    let completed = h.receiver.wait_for("checkout.session.completed", 2).await;
    for r in &completed {
        assert_eq!(
            completed_session(r).payment_status,
            CheckoutSessionPaymentStatus::Unpaid
        );
    }
    let settled = h
        .control(&format!("/checkout/sessions/{}/settle", ok.id), json!({}))
        .await;
    assert_eq!(settled["payment_status"], "paid");
    h.control(&format!("/checkout/sessions/{}/settle", bad.id), json!({}))
        .await;
    h.receiver
        .wait_for("checkout.session.async_payment_succeeded", 1)
        .await;
    let failed = h
        .receiver
        .wait_for("checkout.session.async_payment_failed", 1)
        .await;
    assert_eq!(failed[0].json["data"]["object"]["id"], bad.id.as_str());
    verify_all(&h.receiver.all());
}

#[tokio::test]
async fn hold_release_reorders_and_deliver_twice_concurrently() {
    let h = Harness::start().await;
    h.control("/webhooks/hold", json!({})).await;
    let first = payment_session(&h, "price_seed_credits_starter").await;
    let second = payment_session(&h, "price_seed_credits_starter").await;
    stripe_checkout::checkout_session::ExpireCheckoutSession::new(first.id.clone())
        .send(&h.client)
        .await
        .unwrap();
    stripe_checkout::checkout_session::ExpireCheckoutSession::new(second.id.clone())
        .send(&h.client)
        .await
        .unwrap();
    let held = h.control_get("/webhooks/held").await;
    let ids: Vec<String> = held["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["event_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(h.receiver.all().is_empty());

    let released = h
        .control("/webhooks/release", json!({ "order": [ids[1]] }))
        .await;
    assert_eq!(released["data"].as_array().unwrap().len(), 2);
    let got = h.receiver.all();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].json["id"],
        ids[1].as_str(),
        "released in the asked order"
    );
    assert_eq!(got[1].json["id"], ids[0].as_str());

    let twice = h
        .control(
            &format!("/events/{}/deliver", ids[0]),
            json!({ "times": 2, "concurrent": true }),
        )
        .await;
    assert_eq!(twice["data"].as_array().unwrap().len(), 2);
    let copies = h
        .receiver
        .all()
        .into_iter()
        .filter(|r| r.json["id"] == ids[0].as_str())
        .count();
    assert_eq!(copies, 3);

    let types = ListEvent::new()
        .types(vec![
            "checkout.session.expired".to_owned(),
            "nothing.else".to_owned(),
        ])
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(types.data.len(), 2);
}

#[tokio::test]
async fn timed_out_delivery_is_retried() {
    let h = Harness::start_with(|c| c.delivery_timeout_secs = 0.3).await;
    h.receiver.answer_with(&[SLOW]);
    let customer = stripe_core::customer::CreateCustomer::new()
        .email("slow@example.com")
        .send(&h.client)
        .await
        .unwrap();
    let got = h.receiver.wait_for("customer.created", 2).await;
    assert_eq!(got[0].json["data"]["object"]["id"], customer.id.as_str());
    assert_eq!(got[0].body, got[1].body);
    let attempts = h.control_get("/deliveries?type=customer.created").await;
    let data = attempts["data"].as_array().unwrap();
    assert_eq!(data[0]["error"], "timed out");
    assert_eq!(data[0]["success"], false);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let attempts = h.control_get("/deliveries?type=customer.created").await;
        if attempts["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["attempt"] == 2 && a["success"] == true)
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{attempts}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn endpoints_added_at_runtime_get_only_the_types_they_want() {
    let h = Harness::start().await;
    let second = crate::common::Receiver::start().await;
    let added = h
        .control(
            "/webhooks",
            json!({ "url": second.url, "secret": "whsec_second", "events": ["checkout.session.expired"] }),
        )
        .await;
    assert!(added["id"].as_str().unwrap().starts_with("we_"));
    let listed = h.control_get("/webhooks").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);

    let session = payment_session(&h, "price_seed_credits_starter").await;
    stripe_core::customer::CreateCustomer::new()
        .email("x@example.com")
        .send(&h.client)
        .await
        .unwrap();
    stripe_checkout::checkout_session::ExpireCheckoutSession::new(session.id.clone())
        .send(&h.client)
        .await
        .unwrap();
    let got = second.wait_for("checkout.session.expired", 1).await;
    Webhook::construct_event(&got[0].body, &got[0].signature, "whsec_second").unwrap();
    h.receiver.wait_for("customer.created", 1).await;
    assert!(second.of_type("customer.created").is_empty());

    // Sequential manual redelivery to one endpoint.
    let event_id = got[0].json["id"].as_str().unwrap().to_owned();
    let again = h
        .control(
            &format!("/events/{event_id}/deliver"),
            json!({ "times": 3, "endpoint_id": added["id"] }),
        )
        .await;
    let attempts = again["data"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    assert!(
        attempts
            .iter()
            .all(|a| a["success"] == true && a["kind"] == "manual")
    );
    assert_eq!(second.of_type("checkout.session.expired").len(), 4);
}

#[tokio::test]
async fn plan_switch_with_always_invoice_bills_the_difference() {
    let h = Harness::start().await;
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some("price_seed_tier_starter_monthly".into()),
            quantity: Some(1),
            ..CreateCheckoutSessionLineItems::new()
        }])
        .send(&h.client)
        .await
        .unwrap();
    h.control(&format!("/checkout/sessions/{}/pay", session.id), json!({}))
        .await;
    let cs = RetrieveCheckoutSession::new(session.id.clone())
        .send(&h.client)
        .await
        .unwrap();
    let sub = RetrieveSubscription::new(cs.subscription.unwrap().id().clone())
        .send(&h.client)
        .await
        .unwrap();
    let updated = UpdateSubscription::new(sub.id.clone())
        .items(vec![UpdateSubscriptionItems {
            id: Some(sub.items.data[0].id.as_str().to_owned()),
            price: Some("price_seed_tier_professional_monthly".into()),
            ..UpdateSubscriptionItems::new()
        }])
        .proration_behavior(
            stripe_billing::subscription::UpdateSubscriptionProrationBehavior::AlwaysInvoice,
        )
        .send(&h.client)
        .await
        .unwrap();
    let latest = updated.latest_invoice.unwrap().id().clone().unwrap();
    let invoice = stripe_billing::invoice::RetrieveInvoice::new(latest)
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(
        invoice.billing_reason.unwrap().as_str(),
        "subscription_update"
    );
    // Nearly the whole period remains: about $49 - $19.
    assert!(
        (2990..=3000).contains(&invoice.amount_paid),
        "{}",
        invoice.amount_paid
    );
}

#[tokio::test]
async fn failed_refunds_and_disputes_emit_stripe_shaped_events() {
    let h = Harness::start().await;
    let session = payment_session(&h, "price_seed_credits_standard").await;
    h.pay(session.url.as_ref().unwrap(), "4242424242424242")
        .await;
    let got = RetrieveCheckoutSession::new(session.id.clone())
        .send(&h.client)
        .await
        .unwrap();
    let pi_id = got.payment_intent.unwrap().id().clone();
    let refund = CreateRefund::new()
        .payment_intent(pi_id.as_str())
        .amount(1500)
        .send(&h.client)
        .await
        .unwrap();
    let charge_id = refund.charge.clone().unwrap().id().clone();

    let failed = h
        .control(&format!("/refunds/{}/fail", refund.id), json!({}))
        .await;
    assert_eq!(failed["status"], "failed");
    let updated = h.receiver.wait_for("charge.refund.updated", 1).await;
    match Webhook::construct_event(&updated[0].body, &updated[0].signature, SECRET)
        .unwrap()
        .data
        .object
    {
        EventObject::ChargeRefundUpdated(r) => {
            assert_eq!(r.id, refund.id);
            assert_eq!(r.amount, 1500);
            assert_eq!(r.status.as_deref(), Some("failed"));
            assert_eq!(r.payment_intent.unwrap().id(), &pi_id);
        }
        other => panic!("unexpected {other:?}"),
    }
    h.receiver.wait_for("refund.failed", 1).await;
    let charge = RetrieveCharge::new(charge_id.clone())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(
        charge.amount_refunded, 0,
        "the failed refund's money is back"
    );

    let dispute = h
        .control(&format!("/charges/{charge_id}/dispute"), json!({}))
        .await;
    let created = h.receiver.wait_for("charge.dispute.created", 1).await;
    match Webhook::construct_event(&created[0].body, &created[0].signature, SECRET)
        .unwrap()
        .data
        .object
    {
        EventObject::ChargeDisputeCreated(d) => {
            assert_eq!(d.id.as_str(), dispute["id"].as_str().unwrap());
            assert_eq!(d.amount, 4500);
            assert_eq!(d.charge.id(), &charge_id);
            assert_eq!(d.payment_intent.unwrap().id(), &pi_id);
            assert_eq!(d.status, DisputeStatus::NeedsResponse);
        }
        other => panic!("unexpected {other:?}"),
    }
    h.control(
        &format!("/disputes/{}/close", dispute["id"].as_str().unwrap()),
        json!({ "outcome": "won" }),
    )
    .await;
    let closed = h.receiver.wait_for("charge.dispute.closed", 1).await;
    match Webhook::construct_event(&closed[0].body, &closed[0].signature, SECRET)
        .unwrap()
        .data
        .object
    {
        EventObject::ChargeDisputeClosed(d) => assert_eq!(d.status, DisputeStatus::Won),
        other => panic!("unexpected {other:?}"),
    }
    verify_all(&h.receiver.all());
}
