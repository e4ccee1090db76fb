//! `stripe-emulator`: see README.md for flags, environment variables and controls.

use std::net::SocketAddr;

use stripe_emulator::{Config, Emulator, EndpointConfig};

const USAGE: &str = "\
stripe-emulator — a Stripe-compatible emulator for development and tests

USAGE: stripe-emulator [OPTIONS]

OPTIONS (environment variable in brackets):
  --addr <host:port>          listen address, port 0 picks one [STRIPE_EMULATOR_ADDR] (127.0.0.1:12111)
  --public-url <url>          origin put into `url` fields [STRIPE_EMULATOR_PUBLIC_URL] (http://<addr>)
  --seed                      create the project's products and prices [STRIPE_EMULATOR_SEED=1]
  --webhook <url|whsec_…[|type,type]>
                              deliver events to this endpoint; repeatable
                              [STRIPE_EMULATOR_WEBHOOKS, several separated by whitespace or ';']
  --retry-base-secs <s>       first retry delay, doubling each time [STRIPE_EMULATOR_RETRY_BASE_SECS] (5)
  --max-attempts <n>          automatic attempts per event and endpoint [STRIPE_EMULATOR_MAX_ATTEMPTS] (6)
  --delivery-timeout-secs <s> a slower endpoint counts as failed [STRIPE_EMULATOR_DELIVERY_TIMEOUT_SECS] (10)
  -h, --help                  this text
";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config::default();
    if let Some(addr) = env("STRIPE_EMULATOR_ADDR") {
        config.addr = addr
            .parse()
            .map_err(|e| format!("STRIPE_EMULATOR_ADDR={addr}: {e}"))?;
    }
    config.public_url = env("STRIPE_EMULATOR_PUBLIC_URL");
    config.seed = env("STRIPE_EMULATOR_SEED").is_some_and(|v| v == "1" || v == "true");
    if let Some(list) = env("STRIPE_EMULATOR_WEBHOOKS") {
        for spec in list
            .split(|c: char| c == ';' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            config.webhooks.push(spec.parse::<EndpointConfig>()?);
        }
    }
    let number = |name: &str, v: &str| {
        v.parse::<f64>()
            .map_err(|_| format!("{name}: not a number: {v}"))
    };
    if let Some(v) = env("STRIPE_EMULATOR_RETRY_BASE_SECS") {
        config.retry_base_secs = number("STRIPE_EMULATOR_RETRY_BASE_SECS", &v)?;
    }
    if let Some(v) = env("STRIPE_EMULATOR_MAX_ATTEMPTS") {
        config.max_attempts = v
            .parse()
            .map_err(|_| format!("STRIPE_EMULATOR_MAX_ATTEMPTS: {v}"))?;
    }
    if let Some(v) = env("STRIPE_EMULATOR_DELIVERY_TIMEOUT_SECS") {
        config.delivery_timeout_secs = number("STRIPE_EMULATOR_DELIVERY_TIMEOUT_SECS", &v)?;
    }
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--addr" => {
                let v = value()?;
                config.addr = v
                    .parse::<SocketAddr>()
                    .map_err(|e| format!("--addr {v}: {e}"))?;
            }
            "--public-url" => config.public_url = Some(value()?),
            "--seed" => config.seed = true,
            "--webhook" => {
                let spec = value()?;
                config.webhooks.push(spec.parse::<EndpointConfig>()?);
            }
            "--retry-base-secs" => config.retry_base_secs = number("--retry-base-secs", &value()?)?,
            "--max-attempts" => {
                let v = value()?;
                config.max_attempts = v.parse().map_err(|_| format!("--max-attempts: {v}"))?;
            }
            "--delivery-timeout-secs" => {
                config.delivery_timeout_secs = number("--delivery-timeout-secs", &value()?)?;
            }
            other => return Err(format!("unknown argument: {other}\n\n{USAGE}")),
        }
    }
    Ok(config)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "stripe_emulator=info".into()),
        )
        .init();
    let config = match parse_args() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("stripe-emulator: {message}");
            std::process::exit(2);
        }
    };
    let endpoints: Vec<String> = config.webhooks.iter().map(|w| w.url.clone()).collect();
    let emulator = match Emulator::start(config).await {
        Ok(emulator) => emulator,
        Err(err) => {
            eprintln!("stripe-emulator: cannot start: {err}");
            std::process::exit(1);
        }
    };
    println!("stripe-emulator listening on {}", emulator.base_url);
    println!("  public url: {}", emulator.state.public_url);
    for url in endpoints {
        println!("  webhook endpoint: {url}");
    }
    tokio::select! {
        _ = emulator.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
