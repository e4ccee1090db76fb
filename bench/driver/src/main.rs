//! Delivers one validly signed `checkout.session.completed` per pending
//! purchase to a webhook endpoint, at a fixed concurrency, and prints what it
//! measured as one JSON object. A load generator cannot do this: every
//! delivery has its own body, and Stripe signs each one with a timestamp.
//!
//! Usage: `bench-driver URL SECRET SESSIONS_FILE CONCURRENCY`
//! where SESSIONS_FILE has one purchase a line: `session_id amount_total currency`.
//! Signature (Stripe's scheme): `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256
//! of "t.body">`, keyed by the whole `whsec_…` secret.
//!
//! Or `bench-driver checkout URL TOKEN COUNT CONCURRENCY`: COUNT credit-pack
//! checkouts (`POST /credits/purchase` with a bearer token), each answer's
//! `Server-Timing` splitting its latency into Stripe's part and ours.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

struct Purchase {
    session: String,
    amount_total: i64,
    currency: String,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("checkout") {
        return checkout_main(&args[1..]);
    }
    let [url, secret, sessions, concurrency] = args.as_slice() else {
        eprintln!("usage: bench-driver URL SECRET SESSIONS_FILE CONCURRENCY");
        std::process::exit(2);
    };
    let concurrency: usize = concurrency.parse().expect("CONCURRENCY is a number");
    let text = std::fs::read_to_string(sessions).expect("SESSIONS_FILE readable");
    let purchases: Vec<Purchase> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace();
            let mut next = |what: &str| {
                fields
                    .next()
                    .unwrap_or_else(|| panic!("{what} missing in {line:?}"))
                    .to_owned()
            };
            Purchase {
                session: next("session id"),
                amount_total: next("amount_total").parse().expect("amount_total"),
                currency: next("currency"),
            }
        })
        .collect();
    // Two worker threads, like the 2-core machine; the driver is I/O bound.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime.block_on(run(url, secret, purchases, concurrency));
    println!("{report}");
}

async fn run(
    url: &str,
    secret: &str,
    purchases: Vec<Purchase>,
    concurrency: usize,
) -> serde_json::Value {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client");
    let purchases = Arc::new(purchases);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, purchases, next) = (client.clone(), purchases.clone(), next.clone());
        let (url, secret) = (url.to_owned(), secret.to_owned());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures: Vec<String> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(purchase) = purchases.get(i) else {
                    break;
                };
                let body = event_body(purchase, i);
                let signature = sign(&body, &secret, unix_now());
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .header("Stripe-Signature", signature)
                    .body(body)
                    .send()
                    .await;
                let outcome = match response {
                    Ok(r) => {
                        let status = r.status();
                        let text = r.text().await.unwrap_or_default();
                        if status.is_success() {
                            Ok(())
                        } else {
                            Err(format!("{}: HTTP {status}: {text}", purchase.session))
                        }
                    }
                    Err(e) => Err(format!("{}: {e}", purchase.session)),
                };
                latencies.push(sent.elapsed().as_micros() as u64);
                if let Err(e) = outcome {
                    failures.push(e);
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    for worker in workers {
        let (l, f) = worker.await.expect("worker");
        latencies.extend(l);
        failures.extend(f);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| percentile(&latencies, p);
    for failure in failures.iter().take(5) {
        eprintln!("bench-driver: failed delivery: {failure}");
    }
    json!({
        "deliveries": latencies.len(),
        "failed": failures.len(),
        "concurrency": concurrency,
        "seconds": elapsed,
        "per_second": latencies.len() as f64 / elapsed,
        "p50_ms": pct(50.0),
        "p99_ms": pct(99.0),
        "max_ms": latencies.last().map_or(0.0, |m| *m as f64 / 1000.0),
    })
}

/// The event Stripe sends when a one-time Checkout Session is paid: the
/// session carries the purchase's amount, currency and payment status.
fn event_body(purchase: &Purchase, i: usize) -> String {
    let suffix = purchase
        .session
        .strip_prefix("cs_")
        .unwrap_or(&purchase.session);
    json!({
        "id": format!("evt_bench_{suffix}"),
        "object": "event",
        "api_version": "2026-09-30.endive",
        "created": unix_now(),
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": "checkout.session.completed",
        "data": { "object": {
            "id": purchase.session,
            "object": "checkout.session",
            "mode": "payment",
            "status": "complete",
            "payment_status": "paid",
            "amount_total": purchase.amount_total,
            "amount_subtotal": purchase.amount_total,
            "currency": purchase.currency,
            "payment_intent": format!("pi_bench_{suffix}_{i}"),
            "livemode": false,
            "metadata": {},
        }},
    })
    .to_string()
}

fn sign(body: &str, secret: &str, timestamp: u64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let digest: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={digest}")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn checkout_main(args: &[String]) {
    let [url, token, count, concurrency] = args else {
        eprintln!("usage: bench-driver checkout URL TOKEN COUNT CONCURRENCY");
        std::process::exit(2);
    };
    let count: usize = count.parse().expect("COUNT is a number");
    let concurrency: usize = concurrency.parse().expect("CONCURRENCY is a number");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime.block_on(checkouts(url, token, count, concurrency));
    println!("{report}");
}

/// One checkout: its latency, and the `stripe` and `app` parts its
/// `Server-Timing` header names (microseconds).
struct Timed {
    total: u64,
    stripe: u64,
    app: u64,
}

async fn checkouts(url: &str, token: &str, count: usize, concurrency: usize) -> serde_json::Value {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, next) = (client.clone(), next.clone());
        let (url, token) = (url.to_owned(), token.to_owned());
        workers.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut failures: Vec<String> = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({ "package_code": "starter" }))
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => {
                        let timing = r
                            .headers()
                            .get("server-timing")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let _ = r.bytes().await;
                        samples.push(Timed {
                            total: sent.elapsed().as_micros() as u64,
                            stripe: metric_us(&timing, "stripe"),
                            app: metric_us(&timing, "app"),
                        });
                    }
                    Ok(r) => {
                        let status = r.status();
                        failures.push(format!(
                            "HTTP {status}: {}",
                            r.text().await.unwrap_or_default()
                        ));
                    }
                    Err(e) => failures.push(e.to_string()),
                }
            }
            (samples, failures)
        }));
    }
    let mut samples = Vec::new();
    let mut failures = Vec::new();
    for worker in workers {
        let (s, f) = worker.await.expect("worker");
        samples.extend(s);
        failures.extend(f);
    }
    let elapsed = started.elapsed().as_secs_f64();
    for failure in failures.iter().take(5) {
        eprintln!("bench-driver: failed checkout: {failure}");
    }
    let summary = |pick: fn(&Timed) -> u64| {
        let mut values: Vec<u64> = samples.iter().map(pick).collect();
        values.sort_unstable();
        json!({ "p50_ms": percentile(&values, 50.0), "p99_ms": percentile(&values, 99.0),
                "mean_ms": values.iter().sum::<u64>() as f64 / values.len().max(1) as f64 / 1000.0 })
    };
    json!({
        "requests": samples.len(),
        "failed": failures.len(),
        "concurrency": concurrency,
        "seconds": elapsed,
        "per_second": samples.len() as f64 / elapsed,
        "total": summary(|t| t.total),
        "stripe": summary(|t| t.stripe),
        "app": summary(|t| t.app),
        // Outside the app's own clock: the network and the client.
        "outside": summary(|t| t.total.saturating_sub(t.stripe + t.app)),
    })
}

/// `name;dur=<ms>` in a `Server-Timing` value, in microseconds (0 if absent).
fn metric_us(timing: &str, name: &str) -> u64 {
    timing
        .split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix(name)?.strip_prefix(";dur="))
        .and_then(|rest| rest.split(';').next())
        .and_then(|ms| ms.parse::<f64>().ok())
        .map_or(0, |ms| (ms * 1000.0) as u64)
}

/// The `p`th percentile of sorted microseconds, in milliseconds.
fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}
