//! Typed configuration, read once at startup from the environment
//! (.env.example). Every problem names the variable at fault.

use std::net::SocketAddr;

use url::Url;

use crate::{Secret, rate_limit::RateLimitConfig};

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Secret,
    pub site_addr: SocketAddr,
    /// Where cargo-leptos put the site: the stylesheet, scripts and wasm
    /// under `pkg/`, and `public/`'s files (`LEPTOS_SITE_ROOT`, default
    /// `target/site`; cargo-leptos sets it when it runs the server).
    pub site_root: String,
    /// Public origin with no trailing slash, e.g. `https://billing.example.com`.
    pub app_base_url: Url,
    pub stripe: StripeConfig,
    pub oidc: OidcConfig,
    pub keycloak_admin: Option<KeycloakAdminConfig>,
    pub lago: Option<LagoConfig>,
    /// Per-user limits (`RATE_LIMIT_BURST`, `RATE_LIMIT_PERIOD_SECS`).
    pub rate_limit: RateLimitConfig,
    /// How often each instance tries to reconcile with Stripe
    /// (`RECONCILE_INTERVAL_SECS`, default 300; one instance runs at a time).
    pub reconcile_every: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub secret_key: Secret,
    pub publishable_key: Option<String>,
    /// Unset in production; the emulator's URL in development and tests.
    pub api_base: Option<Url>,
    pub webhook_secrets_credits: Vec<Secret>,
    pub webhook_secrets_subscriptions: Vec<Secret>,
}

impl StripeConfig {
    /// Whether the secret key is a live one (`sk_live_…`, `rk_live_…`).
    pub fn is_live(&self) -> bool {
        let key = self.secret_key.expose();
        key.starts_with("sk_live_") || key.starts_with("rk_live_")
    }

    /// Where Stripe's dashboard shows this account's objects: `…/test` for
    /// test keys, none when talking to the emulator (`STRIPE_API_BASE` set).
    /// Payments are at `{base}/payments/{payment_intent_id}`.
    pub fn dashboard_base(&self) -> Option<&'static str> {
        if self.api_base.is_some() {
            return None;
        }
        let key = self.secret_key.expose();
        if key.starts_with("sk_live_") || key.starts_with("rk_live_") {
            Some("https://dashboard.stripe.com")
        } else if key.starts_with("sk_test_") || key.starts_with("rk_test_") {
            Some("https://dashboard.stripe.com/test")
        } else {
            None
        }
    }
}

#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer_url: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub admin_role: String,
    /// The realm role a service's client needs to spend credits.
    pub spender_role: String,
}

#[derive(Debug, Clone)]
pub struct KeycloakAdminConfig {
    pub client_id: String,
    pub client_secret: Secret,
}

#[derive(Debug, Clone)]
pub struct LagoConfig {
    pub api_url: Url,
    pub api_key: Secret,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let site_addr = match env.optional("LEPTOS_SITE_ADDR") {
            Some(addr) => addr.parse().map_err(|_| {
                err(
                    "LEPTOS_SITE_ADDR",
                    format!("must be host:port such as 127.0.0.1:3000, got {addr:?}"),
                )
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };
        let app_base_url = match env.optional("APP_BASE_URL") {
            Some(url) => parse_origin("APP_BASE_URL", &url)?,
            None => parse_origin("APP_BASE_URL", &format!("http://{site_addr}"))?,
        };
        Ok(Config {
            database_url: database_url(&env)?,
            site_addr,
            site_root: env
                .optional("LEPTOS_SITE_ROOT")
                .unwrap_or_else(|| "target/site".to_owned()),
            app_base_url,
            stripe: stripe(&env)?,
            oidc: oidc(&env)?,
            keycloak_admin: env
                .pair("KEYCLOAK_ADMIN_CLIENT_ID", "KEYCLOAK_ADMIN_CLIENT_SECRET")?
                .map(|(client_id, secret)| KeycloakAdminConfig {
                    client_id,
                    client_secret: Secret::new(secret),
                }),
            lago: match env.pair("LAGO_API_URL", "LAGO_API_KEY")? {
                Some((url, key)) => Some(LagoConfig {
                    api_url: parse_http_url("LAGO_API_URL", &url)?,
                    api_key: Secret::new(key),
                }),
                None => None,
            },
            rate_limit: rate_limit(&env)?,
            reconcile_every: std::time::Duration::from_secs(
                match env.optional("RECONCILE_INTERVAL_SECS") {
                    Some(secs) => secs.parse().ok().filter(|s| *s >= 10).ok_or_else(|| {
                        err(
                            "RECONCILE_INTERVAL_SECS",
                            format!("must be a whole number of seconds, at least 10, got {secs:?}"),
                        )
                    })?,
                    None => 300,
                },
            ),
        })
    }

    /// Whether cookies must carry `Secure`.
    pub fn is_https(&self) -> bool {
        self.app_base_url.scheme() == "https"
    }
}

struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name)
            .ok_or_else(|| err(name, "is not set".into()))
    }

    /// Two variables that only make sense together: both or neither.
    fn pair(
        &self,
        a: &'static str,
        b: &'static str,
    ) -> Result<Option<(String, String)>, ConfigError> {
        match (self.optional(a), self.optional(b)) {
            (Some(x), Some(y)) => Ok(Some((x, y))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(err(
                b,
                format!("is not set, but {a} is (set both or neither)"),
            )),
            (None, Some(_)) => Err(err(
                a,
                format!("is not set, but {b} is (set both or neither)"),
            )),
        }
    }
}

/// `RATE_LIMIT_BURST` requests per user and action at once (default 10),
/// refilled over `RATE_LIMIT_PERIOD_SECS` seconds (default 10).
fn rate_limit(env: &Env<'_>) -> Result<RateLimitConfig, ConfigError> {
    let number = |name: &'static str, default: u64, max: u64| match env.optional(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                err(
                    name,
                    format!("must be a whole number from 1 to {max}, got {text:?}"),
                )
            }),
    };
    let burst = number(
        "RATE_LIMIT_BURST",
        u64::from(RateLimitConfig::DEFAULT_BURST),
        100_000,
    )?;
    let period = number(
        "RATE_LIMIT_PERIOD_SECS",
        RateLimitConfig::DEFAULT_PERIOD_SECS,
        86_400,
    )?;
    Ok(RateLimitConfig {
        burst: u32::try_from(burst)
            .ok()
            .and_then(std::num::NonZeroU32::new)
            .ok_or_else(|| err("RATE_LIMIT_BURST", "is out of range".into()))?,
        period: std::time::Duration::from_secs(period),
    })
}

fn err(variable: &'static str, problem: String) -> ConfigError {
    ConfigError { variable, problem }
}

fn database_url(env: &Env) -> Result<Secret, ConfigError> {
    let url = env.required("DATABASE_URL")?;
    let parsed =
        Url::parse(&url).map_err(|e| err("DATABASE_URL", format!("is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(err("DATABASE_URL", "must be a postgres:// URL".into()));
    }
    if parsed.path().trim_start_matches('/').is_empty() {
        return Err(err(
            "DATABASE_URL",
            "must name a database, e.g. postgres://user@host:5432/credits".into(),
        ));
    }
    Ok(Secret::new(url))
}

fn stripe(env: &Env) -> Result<StripeConfig, ConfigError> {
    let (variable, secret_key) = match env.optional("STRIPE_SECRET_KEY") {
        Some(key) => ("STRIPE_SECRET_KEY", key),
        None => match env.optional("STRIPE_API_KEY") {
            Some(key) => ("STRIPE_API_KEY", key),
            None => {
                return Err(err(
                    "STRIPE_SECRET_KEY",
                    "is not set (STRIPE_API_KEY is accepted too)".into(),
                ));
            }
        },
    };
    if !["sk_test_", "sk_live_", "rk_test_", "rk_live_"]
        .iter()
        .any(|p| secret_key.starts_with(p))
    {
        return Err(err(
            variable,
            "must be a Stripe secret key starting with sk_test_ or sk_live_".into(),
        ));
    }
    let publishable_key = env.optional("STRIPE_PUBLISHABLE_KEY");
    if let Some(key) = &publishable_key
        && !key.starts_with("pk_")
    {
        return Err(err("STRIPE_PUBLISHABLE_KEY", "must start with pk_".into()));
    }
    let api_base = match env.optional("STRIPE_API_BASE") {
        Some(url) => Some(parse_http_url("STRIPE_API_BASE", &url)?),
        None => None,
    };
    Ok(StripeConfig {
        secret_key: Secret::new(secret_key),
        publishable_key,
        api_base,
        webhook_secrets_credits: webhook_secrets(env, "STRIPE_WEBHOOK_SECRET_CREDITS")?,
        webhook_secrets_subscriptions: webhook_secrets(env, "STRIPE_WEBHOOK_SECRET")?,
    })
}

/// A comma-separated list, so a secret can be rotated without downtime.
fn webhook_secrets(env: &Env, name: &'static str) -> Result<Vec<Secret>, ConfigError> {
    let list = env.required(name)?;
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.starts_with("whsec_") {
                Ok(Secret::new(s))
            } else {
                Err(err(
                    name,
                    "must be a comma-separated list of signing secrets starting with whsec_".into(),
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|secrets| {
            if secrets.is_empty() {
                Err(err(name, "holds no signing secret".into()))
            } else {
                Ok(secrets)
            }
        })
}

fn oidc(env: &Env) -> Result<OidcConfig, ConfigError> {
    let issuer_url = parse_http_url("OIDC_ISSUER_URL", &env.required("OIDC_ISSUER_URL")?)?;
    Ok(OidcConfig {
        issuer_url,
        client_id: env.required("OIDC_CLIENT_ID")?,
        client_secret: Secret::new(env.required("OIDC_CLIENT_SECRET")?),
        admin_role: env
            .optional("OIDC_ADMIN_ROLE")
            .unwrap_or_else(|| "admin".into()),
        spender_role: env
            .optional("OIDC_SPENDER_ROLE")
            .unwrap_or_else(|| "credits-spender".into()),
    })
}

fn parse_http_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| err(name, format!("is not a URL ({e}): {value:?}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(err(name, format!("must be an http(s) URL, got {value:?}")));
    }
    Ok(url)
}

/// An origin: scheme, host and port only.
fn parse_origin(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = parse_http_url(name, value)?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(err(
            name,
            format!("must be an origin such as https://billing.example.com, got {value:?}"),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn valid() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/credits"),
            ("STRIPE_SECRET_KEY", "sk_test_emulator"),
            ("STRIPE_WEBHOOK_SECRET_CREDITS", "whsec_one, whsec_two"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_subs"),
            ("OIDC_ISSUER_URL", "http://127.0.0.1:8180/realms/ops-center"),
            ("OIDC_CLIENT_ID", "ops-center-credits"),
            ("OIDC_CLIENT_SECRET", "secret"),
        ])
    }

    fn load(vars: &HashMap<&'static str, &'static str>) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.get(name).map(|v| v.to_string()))
    }

    fn failing_variable(
        change: impl FnOnce(&mut HashMap<&'static str, &'static str>),
    ) -> &'static str {
        let mut vars = valid();
        change(&mut vars);
        load(&vars)
            .expect_err("configuration should be refused")
            .variable
    }

    #[test]
    fn a_complete_environment_loads_with_defaults() {
        let config = load(&valid()).unwrap();
        assert_eq!(config.site_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(config.app_base_url.as_str(), "http://127.0.0.1:3000/");
        assert_eq!(config.stripe.webhook_secrets_credits.len(), 2);
        assert_eq!(config.oidc.admin_role, "admin");
        assert_eq!(config.oidc.spender_role, "credits-spender");
        assert!(config.keycloak_admin.is_none() && config.lago.is_none());
        assert!(!config.is_https());
        assert_eq!(config.rate_limit, RateLimitConfig::default());
    }

    #[test]
    fn rate_limits_are_read_and_checked() {
        let mut vars = valid();
        vars.insert("RATE_LIMIT_BURST", "3");
        vars.insert("RATE_LIMIT_PERIOD_SECS", "60");
        let config = load(&vars).unwrap();
        assert_eq!(config.rate_limit.burst.get(), 3);
        assert_eq!(config.rate_limit.period.as_secs(), 60);
        for (name, bad) in [
            ("RATE_LIMIT_BURST", "0"),
            ("RATE_LIMIT_BURST", "-1"),
            ("RATE_LIMIT_BURST", "lots"),
            ("RATE_LIMIT_PERIOD_SECS", "0"),
            ("RATE_LIMIT_PERIOD_SECS", "86401"),
        ] {
            assert_eq!(
                failing_variable(|v| {
                    v.insert(name, bad);
                }),
                name,
                "{name}={bad}"
            );
        }
    }

    #[test]
    fn each_missing_required_variable_is_named() {
        for name in [
            "DATABASE_URL",
            "STRIPE_WEBHOOK_SECRET_CREDITS",
            "STRIPE_WEBHOOK_SECRET",
            "OIDC_ISSUER_URL",
            "OIDC_CLIENT_ID",
            "OIDC_CLIENT_SECRET",
        ] {
            assert_eq!(
                failing_variable(|v| {
                    v.remove(name);
                }),
                name
            );
        }
        assert_eq!(
            failing_variable(|v| {
                v.remove("STRIPE_SECRET_KEY");
            }),
            "STRIPE_SECRET_KEY"
        );
    }

    #[test]
    fn malformed_values_are_named() {
        assert_eq!(
            failing_variable(|v| {
                v.insert("DATABASE_URL", "mysql://x/y");
            }),
            "DATABASE_URL"
        );
        assert_eq!(
            failing_variable(|v| {
                v.insert("LEPTOS_SITE_ADDR", "localhost");
            }),
            "LEPTOS_SITE_ADDR"
        );
        assert_eq!(
            failing_variable(|v| {
                v.insert("APP_BASE_URL", "https://x.com/app");
            }),
            "APP_BASE_URL"
        );
        assert_eq!(
            failing_variable(|v| {
                v.insert("STRIPE_SECRET_KEY", "pk_test_1");
            }),
            "STRIPE_SECRET_KEY"
        );
        assert_eq!(
            failing_variable(|v| {
                v.insert("STRIPE_API_BASE", "not a url");
            }),
            "STRIPE_API_BASE"
        );
        assert_eq!(
            failing_variable(|v| {
                v.insert("STRIPE_WEBHOOK_SECRET_CREDITS", "whsec_a,secret");
            }),
            "STRIPE_WEBHOOK_SECRET_CREDITS"
        );
        assert_eq!(
            failing_variable(|v| {
                v.insert("LAGO_API_URL", "http://lago");
            }),
            "LAGO_API_KEY"
        );
    }

    #[test]
    fn stripe_api_key_is_an_alias() {
        let mut vars = valid();
        vars.remove("STRIPE_SECRET_KEY");
        vars.insert("STRIPE_API_KEY", "sk_test_alias");
        assert_eq!(
            load(&vars).unwrap().stripe.secret_key.expose(),
            "sk_test_alias"
        );
        vars.insert("STRIPE_API_KEY", "bogus");
        assert_eq!(load(&vars).unwrap_err().variable, "STRIPE_API_KEY");
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let text = format!("{:?}", load(&valid()).unwrap());
        for secret in ["sk_test_emulator", "whsec_one", "whsec_subs", "postgres://"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
}
