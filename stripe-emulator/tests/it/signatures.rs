//! Webhook signatures verify with async-stripe AND with the official npm `stripe` SDK,
//! and fail with a wrong secret.

use std::path::PathBuf;
use std::process::Command;

use stripe_webhook::{Webhook, WebhookError};

use crate::common::{Harness, SECRET};

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

/// Runs tests/sdk/verify.mjs; returns (success, output).
fn node_verify(payload: &str, signature: &str, secret: &str) -> (bool, String) {
    let dir = sdk_dir();
    assert!(
        dir.join("node_modules/stripe/package.json").exists(),
        "the npm SDK is not installed: run `npm ci --prefix stripe-emulator/tests/sdk` first \
         (this test checks signatures with the official stripe package and never skips)"
    );
    let file = std::env::temp_dir().join(format!("stripe-emulator-payload-{}.json", rand_suffix()));
    std::fs::write(&file, payload).unwrap();
    let output = Command::new("node")
        .arg(dir.join("verify.mjs"))
        .arg(&file)
        .arg(signature)
        .arg(secret)
        .output()
        .expect("node must be installed to run the SDK signature check");
    let _ = std::fs::remove_file(&file);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn rand_suffix() -> String {
    format!("{}-{:?}", std::process::id(), std::time::SystemTime::now())
        .replace(|c: char| !c.is_ascii_alphanumeric(), "")
}

#[tokio::test]
async fn delivered_webhooks_verify_with_async_stripe_and_the_npm_sdk() {
    let h = Harness::start().await;
    let customer = stripe_core::customer::CreateCustomer::new()
        .email("sig@example.com")
        .send(&h.client)
        .await
        .unwrap();
    let got = h.receiver.wait_for("customer.created", 1).await;
    let r = &got[0];
    assert!(r.signature.starts_with("t="));
    assert!(r.signature.contains(",v1="));

    let event = Webhook::construct_event(&r.body, &r.signature, SECRET).unwrap();
    assert_eq!(event.type_.as_str(), "customer.created");
    match event.data.object {
        stripe_webhook::EventObject::CustomerCreated(c) => assert_eq!(c.id, customer.id),
        other => panic!("unexpected {other:?}"),
    }
    let wrong = Webhook::construct_event(&r.body, &r.signature, "whsec_wrong").unwrap_err();
    assert!(matches!(wrong, WebhookError::BadSignature), "{wrong:?}");
    // The key is the whole secret string, prefix included.
    let stripped = SECRET.trim_start_matches("whsec_");
    assert!(Webhook::construct_event(&r.body, &r.signature, stripped).is_err());

    let (ok, out) = node_verify(&r.body, &r.signature, SECRET);
    assert!(ok, "npm stripe SDK rejected the signature: {out}");
    assert!(out.contains("customer.created"), "{out}");
    let (ok, out) = node_verify(&r.body, &r.signature, "whsec_wrong");
    assert!(!ok, "npm SDK accepted a wrong secret: {out}");
    assert!(
        out.contains("No signatures found matching the expected signature"),
        "{out}"
    );
    let tampered = r.body.replace("sig@example.com", "sig@evil.example");
    let (ok, _) = node_verify(&tampered, &r.signature, SECRET);
    assert!(!ok, "npm SDK accepted a tampered body");
}

#[tokio::test]
async fn manual_deliveries_can_be_stale_or_wrongly_signed_and_custom_events_are_signed() {
    let h = Harness::start().await;
    let created = h
        .control(
            "/events",
            serde_json::json!({ "type": "emulator.unknown_type", "object": { "id": "thing_1", "object": "thing" } }),
        )
        .await;
    let event_id = created["id"].as_str().unwrap().to_owned();
    let first = h.receiver.wait_for("emulator.unknown_type", 1).await;
    // Unknown types still verify; async-stripe hands them over as `Unknown`.
    let parsed = Webhook::construct_event(&first[0].body, &first[0].signature, SECRET).unwrap();
    assert!(matches!(
        parsed.data.object,
        stripe_webhook::EventObject::Unknown(_)
    ));

    h.control(
        &format!("/events/{event_id}/deliver"),
        serde_json::json!({ "timestamp_offset_secs": -600 }),
    )
    .await;
    h.control(
        &format!("/events/{event_id}/deliver"),
        serde_json::json!({ "secret": "whsec_not_the_one" }),
    )
    .await;
    let all = h.receiver.wait_for("emulator.unknown_type", 3).await;
    let stale = Webhook::construct_event(&all[1].body, &all[1].signature, SECRET).unwrap_err();
    assert!(matches!(stale, WebhookError::BadTimestamp(_)), "{stale:?}");
    let bad = Webhook::construct_event(&all[2].body, &all[2].signature, SECRET).unwrap_err();
    assert!(matches!(bad, WebhookError::BadSignature), "{bad:?}");
    let (ok, out) = node_verify(&all[1].body, &all[1].signature, SECRET);
    assert!(!ok, "npm SDK accepted a stale timestamp: {out}");
}
