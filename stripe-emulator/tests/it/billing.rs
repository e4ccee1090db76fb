//! Subscription billing as Stripe does it: invoice previews, prorations as of a date, pending
//! proration items on the next renewal, the customer's credit balance, hosted invoice pages,
//! paying an open invoice, a card that fails its renewals, the portal's plan switch.

use serde_json::{Value, json};
use stripe_billing::invoice::{
    CreatePreviewInvoice, CreatePreviewInvoiceSubscriptionDetails,
    CreatePreviewInvoiceSubscriptionDetailsItems,
    CreatePreviewInvoiceSubscriptionDetailsProrationBehavior as PreviewProration, ListInvoice,
    PayInvoice, RetrieveInvoice,
};
use stripe_billing::subscription::{
    ListSubscription, RetrieveSubscription, UpdateSubscription, UpdateSubscriptionItems,
    UpdateSubscriptionProrationBehavior as Proration,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, RetrieveCheckoutSession,
};
use stripe_core::customer::{RetrieveCustomer, RetrieveCustomerReturned};
use stripe_core::event::ListEvent;
use stripe_shared::{
    CheckoutSessionMode, Invoice, InvoiceStatus, Subscription, SubscriptionStatus,
};
use stripe_webhook::Webhook;

use crate::common::{Harness, SECRET};

const DAY: i64 = 86_400;
const STARTER: &str = "price_seed_tier_starter_monthly"; // $19
const PRO: &str = "price_seed_tier_professional_monthly"; // $49

/// A subscription bought through Checkout (paid with 4242).
async fn subscribe(h: &Harness, price: &str) -> Subscription {
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some(price.into()),
            quantity: Some(1),
            ..CreateCheckoutSessionLineItems::new()
        }])
        .customer_email("sub@example.com")
        .send(&h.client)
        .await
        .unwrap();
    h.control(&format!("/checkout/sessions/{}/pay", session.id), json!({}))
        .await;
    let cs = RetrieveCheckoutSession::new(session.id.clone())
        .send(&h.client)
        .await
        .unwrap();
    RetrieveSubscription::new(cs.subscription.unwrap().id().clone())
        .send(&h.client)
        .await
        .unwrap()
}

fn switch_to(sub: &Subscription, price: &str) -> UpdateSubscriptionItems {
    UpdateSubscriptionItems {
        id: Some(sub.items.data[0].id.as_str().to_owned()),
        price: Some(price.into()),
        ..UpdateSubscriptionItems::new()
    }
}

fn preview_switch(
    sub: &Subscription,
    price: &str,
    behavior: PreviewProration,
    at: i64,
) -> CreatePreviewInvoice {
    CreatePreviewInvoice::new()
        .subscription(sub.id.as_str())
        .subscription_details(CreatePreviewInvoiceSubscriptionDetails {
            items: Some(vec![CreatePreviewInvoiceSubscriptionDetailsItems {
                id: Some(sub.items.data[0].id.as_str().to_owned()),
                price: Some(price.into()),
                ..CreatePreviewInvoiceSubscriptionDetailsItems::new()
            }]),
            proration_behavior: Some(behavior),
            proration_date: Some(at),
            ..CreatePreviewInvoiceSubscriptionDetails::new()
        })
}

fn is_proration(line: &stripe_shared::InvoiceLineItem) -> bool {
    line.parent
        .as_ref()
        .and_then(|p| p.subscription_item_details.as_ref())
        .is_some_and(|d| d.proration)
}

async fn latest_invoice(h: &Harness, sub_id: &stripe_shared::SubscriptionId) -> Invoice {
    let sub = RetrieveSubscription::new(sub_id.clone())
        .send(&h.client)
        .await
        .unwrap();
    let id = sub.latest_invoice.unwrap().id().clone().unwrap();
    RetrieveInvoice::new(id).send(&h.client).await.unwrap()
}

async fn event_count(h: &Harness) -> usize {
    ListEvent::new()
        .limit(100)
        .send(&h.client)
        .await
        .unwrap()
        .data
        .len()
}

fn verify_all(h: &Harness) {
    for r in h.receiver.all() {
        Webhook::construct_event(&r.body, &r.signature, SECRET).unwrap_or_else(|e| {
            panic!("{} did not verify/parse: {e:?}\n{}", r.event_type(), r.body)
        });
    }
}

/// Waits (up to 10 s) for an event of this type that `matches`.
async fn wait_for_match(h: &Harness, event_type: &str, matches: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(r) = h
            .receiver
            .of_type(event_type)
            .into_iter()
            .find(|r| matches(&r.json))
        {
            return r.json;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no matching {event_type}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn customer_balance(h: &Harness, sub: &Subscription) -> i64 {
    match RetrieveCustomer::new(sub.customer.id().clone())
        .send(&h.client)
        .await
        .unwrap()
    {
        RetrieveCustomerReturned::Customer(c) => c.balance.unwrap_or(0),
        other => panic!("deleted customer {other:?}"),
    }
}

#[tokio::test]
async fn preview_equals_the_upgrade_invoice_for_the_same_proration_date() {
    let h = Harness::start().await;
    let sub = subscribe(&h, STARTER).await;
    let item = &sub.items.data[0];
    let (start, end) = (item.current_period_start, item.current_period_end);
    assert_eq!(end - start, 30 * DAY);
    let at = start + 10 * DAY;

    let events_before = event_count(&h).await;
    let preview = preview_switch(&sub, PRO, PreviewProration::AlwaysInvoice, at)
        .send(&h.client)
        .await
        .unwrap();
    assert!(
        preview
            .id
            .as_ref()
            .is_some_and(|id| id.as_str().starts_with("upcoming_in")),
        "{:?}",
        preview.id
    );
    assert_eq!(preview.lines.data.len(), 2);
    assert!(preview.lines.data.iter().all(is_proration));
    // 20 of 30 days left: −$19 × 2/3 = −1267, +$49 × 2/3 = 3267.
    let amounts: Vec<i64> = preview.lines.data.iter().map(|l| l.amount).collect();
    assert_eq!(amounts, vec![-1267, 3267]);
    assert_eq!(preview.total, 2000);
    assert_eq!(preview.amount_due, 2000);
    // Nothing stored, nothing emitted.
    assert_eq!(event_count(&h).await, events_before);
    let customer = sub.customer.id().clone();
    let stored = ListInvoice::new()
        .customer(customer.as_str())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(stored.data.len(), 1);

    // The default (create_prorations) preview is the next renewal: the new price plus prorations.
    let upcoming = preview_switch(&sub, PRO, PreviewProration::CreateProrations, at)
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(upcoming.total, 4900 + 2000);
    assert_eq!(upcoming.period_start, end);
    assert_eq!(upcoming.period_end, end);
    assert_eq!(upcoming.next_payment_attempt, Some(end));
    assert_eq!(upcoming.lines.data.len(), 3);
    assert_eq!(
        upcoming
            .lines
            .data
            .iter()
            .filter(|l| is_proration(l))
            .count(),
        2
    );

    let updated = UpdateSubscription::new(sub.id.clone())
        .items(vec![switch_to(&sub, PRO)])
        .proration_behavior(Proration::AlwaysInvoice)
        .proration_date(at)
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(updated.items.data[0].price.id.as_str(), PRO);
    let invoice = latest_invoice(&h, &sub.id).await;
    assert_eq!(
        invoice.billing_reason.as_ref().unwrap().as_str(),
        "subscription_update"
    );
    assert_eq!(invoice.total, preview.total);
    assert_eq!(invoice.amount_due, preview.amount_due);
    assert_eq!(invoice.amount_paid, preview.amount_due);
    assert_eq!(invoice.status, Some(InvoiceStatus::Paid));
    let billed: Vec<i64> = invoice.lines.data.iter().map(|l| l.amount).collect();
    assert_eq!(billed, amounts);
    let paid = h.receiver.wait_for("invoice.paid", 2).await;
    assert!(
        paid.iter()
            .any(|r| r.json["data"]["object"]["billing_reason"] == "subscription_update")
    );
    h.receiver.wait_for("invoice.payment_succeeded", 2).await;
    let updated = h
        .receiver
        .wait_for("customer.subscription.updated", 1)
        .await;
    assert!(updated[0].json["data"]["previous_attributes"]["items"].is_object());
    verify_all(&h);
}

#[tokio::test]
async fn downgrade_with_create_prorations_credits_the_next_renewal() {
    let h = Harness::start().await;
    let sub = subscribe(&h, PRO).await;
    let item = &sub.items.data[0];
    let (start, end) = (item.current_period_start, item.current_period_end);
    let at = start + 15 * DAY;
    let customer = sub.customer.id().clone();

    let preview = preview_switch(&sub, STARTER, PreviewProration::CreateProrations, at)
        .send(&h.client)
        .await
        .unwrap();
    UpdateSubscription::new(sub.id.clone())
        .items(vec![switch_to(&sub, STARTER)])
        .proration_date(at)
        .send(&h.client)
        .await
        .unwrap();
    // Nothing billed now: two pending proration items.
    let invoices = ListInvoice::new()
        .customer(customer.as_str())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(invoices.data.len(), 1);
    let items = h.receiver.wait_for("invoiceitem.created", 2).await;
    let mut pending: Vec<i64> = items
        .iter()
        .map(|r| r.json["data"]["object"]["amount"].as_i64().unwrap())
        .collect();
    pending.sort();
    assert_eq!(pending, vec![-2450, 950]);

    // The renewal bills the new price and the pending credit: 1900 − 2450 + 950.
    let renewed = h
        .control(&format!("/subscriptions/{}/advance", sub.id), json!({}))
        .await;
    assert_eq!(renewed["status"], "active");
    let invoice = latest_invoice(&h, &sub.id).await;
    assert_eq!(
        invoice.billing_reason.as_ref().unwrap().as_str(),
        "subscription_cycle"
    );
    assert_eq!(invoice.total, 400);
    assert_eq!(invoice.amount_paid, 400);
    assert_eq!(invoice.total, preview.total);
    assert_eq!(
        invoice
            .lines
            .data
            .iter()
            .filter(|l| is_proration(l))
            .count(),
        2
    );
    assert_eq!(
        invoice
            .lines
            .data
            .iter()
            .find(|l| !is_proration(l))
            .unwrap()
            .period
            .start,
        end
    );
    // Billed once: the next renewal is the plain price.
    h.control(&format!("/subscriptions/{}/advance", sub.id), json!({}))
        .await;
    assert_eq!(latest_invoice(&h, &sub.id).await.total, 1900);
    verify_all(&h);
}

#[tokio::test]
async fn downgrade_with_always_invoice_becomes_customer_credit() {
    let h = Harness::start().await;
    let sub = subscribe(&h, PRO).await;
    let at = sub.items.data[0].current_period_start + 15 * DAY;
    let preview = preview_switch(&sub, STARTER, PreviewProration::AlwaysInvoice, at)
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(preview.total, -1500);
    assert_eq!(preview.amount_due, 0);
    UpdateSubscription::new(sub.id.clone())
        .items(vec![switch_to(&sub, STARTER)])
        .proration_behavior(Proration::AlwaysInvoice)
        .proration_date(at)
        .send(&h.client)
        .await
        .unwrap();
    let invoice = latest_invoice(&h, &sub.id).await;
    assert_eq!(invoice.total, -1500);
    assert_eq!(invoice.amount_due, 0);
    assert_eq!(invoice.amount_paid, 0);
    assert_eq!(invoice.status, Some(InvoiceStatus::Paid));
    assert_eq!(invoice.ending_balance, Some(-1500));
    assert_eq!(customer_balance(&h, &sub).await, -1500);
    // The credit pays part of the renewal.
    h.control(&format!("/subscriptions/{}/advance", sub.id), json!({}))
        .await;
    let renewal = latest_invoice(&h, &sub.id).await;
    assert_eq!(renewal.total, 1900);
    assert_eq!(renewal.starting_balance, -1500);
    assert_eq!(renewal.amount_due, 400);
    assert_eq!(renewal.amount_paid, 400);
    assert_eq!(customer_balance(&h, &sub).await, 0);
    verify_all(&h);
}

#[tokio::test]
async fn checkout_creates_the_subscription_once_paid_and_invoices_have_a_hosted_page() {
    let h = Harness::start().await;
    let none = ListSubscription::new().send(&h.client).await.unwrap();
    assert!(none.data.is_empty());
    let sub = subscribe(&h, STARTER).await;
    let completed = h.receiver.wait_for("checkout.session.completed", 1).await;
    let session = &completed[0].json["data"]["object"];
    assert_eq!(session["subscription"], sub.id.as_str());
    let invoice_id = session["invoice"].as_str().unwrap().to_owned();
    h.receiver
        .wait_for("customer.subscription.created", 1)
        .await;
    h.receiver.wait_for("invoice.paid", 1).await;

    let invoice = RetrieveInvoice::new(invoice_id.as_str())
        .send(&h.client)
        .await
        .unwrap();
    let url = invoice.hosted_invoice_url.clone().unwrap();
    assert_eq!(url, h.url(&format!("/i/{invoice_id}")));
    let page = h.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"id="invoice-status" data-status="paid""#));
    assert!(html.contains(invoice.number.as_deref().unwrap()));
    assert!(html.contains("19.00 USD"));
    assert!(html.contains(r#"class="line""#));
    let missing = h.http.get(h.url("/i/in_nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    verify_all(&h);
}

#[tokio::test]
async fn failing_card_fails_the_renewal_and_paying_with_a_new_card_recovers() {
    let h = Harness::start().await;
    let sub = subscribe(&h, STARTER).await;
    let customer = sub.customer.id().clone();
    let pm = h
        .control(
            &format!("/customers/{customer}/payment_method"),
            json!({ "card": "4000000000000341" }),
        )
        .await;
    assert_eq!(pm["card"]["last4"], "0341");
    h.receiver.wait_for("payment_method.attached", 2).await;
    let updated = h.receiver.wait_for("customer.updated", 1).await;
    assert!(
        updated[0].json["data"]["previous_attributes"]["invoice_settings"].is_object(),
        "{}",
        updated[0].json
    );

    // The renewal fails by itself.
    let renewed = h
        .control(&format!("/subscriptions/{}/advance", sub.id), json!({}))
        .await;
    assert_eq!(renewed["status"], "past_due");
    h.receiver.wait_for("invoice.payment_failed", 1).await;
    let invoice = latest_invoice(&h, &sub.id).await;
    assert_eq!(invoice.status, Some(InvoiceStatus::Open));
    let invoice_id = invoice.id.clone().unwrap();

    // Paying with the same card: Stripe's 402, the invoice stays open.
    let err = PayInvoice::new(invoice_id.clone())
        .send(&h.client)
        .await
        .unwrap_err();
    match err {
        stripe::StripeError::Stripe(e, 402) => {
            assert_eq!(e.code.as_ref().map(|c| c.as_str()), Some("card_declined"))
        }
        other => panic!("expected a 402 card error, got {other:?}"),
    }
    let still = RetrieveInvoice::new(invoice_id.clone())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(still.status, Some(InvoiceStatus::Open));
    h.receiver.wait_for("invoice.payment_failed", 2).await;

    // A new good card, then pay: paid, and the subscription is active again.
    h.control(
        &format!("/customers/{customer}/payment_method"),
        json!({ "card": "4242424242424242" }),
    )
    .await;
    let paid = PayInvoice::new(invoice_id.clone())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(paid.status, Some(InvoiceStatus::Paid));
    assert_eq!(paid.amount_paid, 1900);
    assert_eq!(paid.amount_remaining, 0);
    assert!(paid.status_transitions.paid_at.is_some());
    let sub = RetrieveSubscription::new(sub.id.clone())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(sub.status, SubscriptionStatus::Active);
    let recovered = wait_for_match(&h, "customer.subscription.updated", |e| {
        e["data"]["previous_attributes"]["status"] == "past_due"
    })
    .await;
    assert_eq!(recovered["data"]["object"]["status"], "active");
    let succeeded = h.receiver.wait_for("invoice.payment_succeeded", 2).await;
    assert!(
        succeeded
            .iter()
            .any(|r| r.json["data"]["object"]["id"] == invoice_id.as_str())
    );
    // Paid twice is refused.
    let again = PayInvoice::new(invoice_id.clone())
        .send(&h.client)
        .await
        .unwrap_err();
    assert!(matches!(again, stripe::StripeError::Stripe(_, 400)));
    // The hosted page shows it paid.
    let html = h
        .http
        .get(paid.hosted_invoice_url.unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"data-status="paid""#));
    // `advance {"fail": true}` still fails a renewal with a good card.
    let failed = h
        .control(
            &format!("/subscriptions/{}/advance", sub.id),
            json!({ "fail": true }),
        )
        .await;
    assert_eq!(failed["status"], "past_due");
    verify_all(&h);
}

#[tokio::test]
async fn portal_switch_cancel_and_renew_emit_subscription_updated() {
    let h = Harness::start().await;
    let sub = subscribe(&h, STARTER).await;
    let portal = stripe_billing::billing_portal_session::CreateBillingPortalSession::new()
        .customer(sub.customer.id().as_str())
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
    assert!(html.contains(&format!(r#"<option value="{STARTER}" selected>"#)));
    assert!(html.contains(PRO));
    assert!(
        !html.contains("price_seed_credits_"),
        "one-time prices listed"
    );

    let post = |form: Vec<(&'static str, String)>| {
        let h = &h;
        let url = portal.url.clone();
        async move {
            let r = h.http.post(&url).form(&form).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    let sub_id = sub.id.as_str().to_owned();
    post(vec![
        ("subscription", sub_id.clone()),
        ("action", "switch".into()),
        ("price", PRO.into()),
    ])
    .await;
    let updated = h
        .receiver
        .wait_for("customer.subscription.updated", 1)
        .await;
    let previous = &updated[0].json["data"]["previous_attributes"];
    assert_eq!(previous["items"]["data"][0]["price"]["id"], STARTER);
    assert_eq!(
        updated[0].json["data"]["object"]["items"]["data"][0]["price"]["id"],
        PRO
    );
    // create_prorations: pending items, nothing billed now.
    h.receiver.wait_for("invoiceitem.created", 2).await;
    let invoices = ListInvoice::new()
        .subscription(sub.id.as_str())
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(invoices.data.len(), 1);

    post(vec![
        ("subscription", sub_id.clone()),
        ("action", "cancel".into()),
    ])
    .await;
    post(vec![
        ("subscription", sub_id.clone()),
        ("action", "renew".into()),
    ])
    .await;
    let updated = h
        .receiver
        .wait_for("customer.subscription.updated", 3)
        .await;
    let previous: Vec<&Value> = updated
        .iter()
        .map(|r| &r.json["data"]["previous_attributes"])
        .collect();
    assert!(
        previous
            .iter()
            .any(|p| p["cancel_at_period_end"] == false && p["cancel_at"].is_null())
    );
    assert!(previous.iter().any(|p| p["cancel_at_period_end"] == true));
    verify_all(&h);
}

#[tokio::test]
async fn switching_to_a_yearly_price_resets_the_cycle_and_invoices_at_once() {
    let h = Harness::start().await;
    let sub = subscribe(&h, STARTER).await;
    let at = sub.items.data[0].current_period_start + 10 * DAY;
    let yearly = "price_seed_tier_starter_yearly"; // $190
    // Even with the default create_prorations, the preview is the immediate invoice.
    let preview = preview_switch(&sub, yearly, PreviewProration::CreateProrations, at)
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(preview.total, 19_000 - 1267);
    let updated = UpdateSubscription::new(sub.id.clone())
        .items(vec![switch_to(&sub, yearly)])
        .proration_date(at)
        .send(&h.client)
        .await
        .unwrap();
    assert_eq!(updated.items.data[0].current_period_start, at);
    assert_eq!(updated.items.data[0].current_period_end, at + 365 * DAY);
    let invoice = latest_invoice(&h, &sub.id).await;
    assert_eq!(
        invoice.billing_reason.as_ref().unwrap().as_str(),
        "subscription_update"
    );
    assert_eq!(invoice.total, preview.total);
    assert_eq!(invoice.amount_paid, preview.amount_due);
    verify_all(&h);
}
