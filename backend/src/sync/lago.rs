//! Subscriptions mirrored into Lago (usage billing), through a thin client
//! over its REST API (contracts/lago-openapi.yaml).
//!
//! Mirror only: Stripe collects. A Lago customer is never given a payment
//! provider, or Lago would charge its own invoices through Stripe and the
//! user would pay twice. Plans are `<tier>_<cycle>`, priced at zero.
//!
//! Lago's answers: 2xx done; 5xx, 429 and transport errors retryable; any
//! other 4xx (422 `validation_errors` with `error_details`, 404
//! `*_not_found`, 401) is a request retrying cannot fix, except where noted.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgConnection;
use url::Url;

use super::SyncError;
use crate::{Config, Secret, ids::UserId};

const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Lago {
    http: reqwest::Client,
    /// `…/api/v1`.
    base: Url,
    api_key: Secret,
}

/// What Lago answered that was not a success.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: String,
    details: String,
}

impl Lago {
    /// The client, when `LAGO_API_URL` and `LAGO_API_KEY` are set. The URL
    /// may be the server (`https://api.getlago.com`) or its `/api/v1`.
    pub fn new(config: &Config) -> Option<Self> {
        let lago = config.lago.as_ref()?;
        let url = lago.api_url.as_str().trim_end_matches('/');
        let base = if url.ends_with("/api/v1") {
            url.to_owned()
        } else {
            format!("{url}/api/v1")
        };
        Some(Lago {
            http: crate::http::client_builder()
                .timeout(TIMEOUT)
                .build()
                .ok()?,
            base: Url::parse(&format!("{base}/")).ok()?,
            api_key: lago.api_key.clone(),
        })
    }

    fn url(&self, segments: &[&str]) -> Result<Url, SyncError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| SyncError::Permanent("bad LAGO_API_URL".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// One call: `Ok(Ok(body))` on 2xx, `Ok(Err(refusal))` on a 4xx the
    /// caller may expect (404 on terminate), `Err` retryable trouble.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Result<Value, Refusal>, SyncError> {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(self.api_key.expose());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| SyncError::Retryable(format!("Lago unreachable: {e}")))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(Ok(json));
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(SyncError::Retryable(format!(
                "Lago {method} {} answered {status}",
                url.path()
            )));
        }
        Ok(Err(Refusal {
            status,
            code: json["code"].as_str().unwrap_or_default().to_owned(),
            details: match &json["error_details"] {
                Value::Null => json["error"].as_str().unwrap_or(&text).to_owned(),
                details => details.to_string(),
            },
        }))
    }

    /// Creates or updates the customer `external_id` (Lago upserts on it).
    pub async fn upsert_customer(
        &self,
        external_id: &str,
        email: Option<&str>,
        name: Option<&str>,
    ) -> Result<(), SyncError> {
        let mut customer = json!({ "external_id": external_id });
        if let Some(email) = email {
            customer["email"] = json!(email);
        }
        if let Some(name) = name {
            customer["name"] = json!(name);
        }
        let body = json!({ "customer": customer });
        self.call(Method::POST, self.url(&["customers"])?, Some(&body))
            .await?
            .map(drop)
            .map_err(|r| r.fail("create customer"))
    }

    /// Subscribes, or moves the subscription `external_id` to `plan_code`
    /// (Lago's upgrade or downgrade); the plan is created if Lago lacks it.
    pub async fn subscribe(
        &self,
        customer: &str,
        external_id: &str,
        plan_code: &str,
    ) -> Result<(), SyncError> {
        let body = json!({ "subscription": {
            "external_customer_id": customer,
            "external_id": external_id,
            "plan_code": plan_code,
            "billing_time": "anniversary",
        }});
        let url = self.url(&["subscriptions"])?;
        match self.call(Method::POST, url.clone(), Some(&body)).await? {
            Ok(_) => Ok(()),
            Err(refusal) if refusal.code == "plan_not_found" => {
                self.ensure_plan(plan_code, None).await?;
                self.call(Method::POST, url, Some(&body))
                    .await?
                    .map(drop)
                    .map_err(|r| r.fail("create subscription"))
            }
            Err(refusal) => Err(refusal.fail("create subscription")),
        }
    }

    /// Terminates the subscription; one Lago no longer has is done already.
    pub async fn terminate(&self, external_id: &str) -> Result<(), SyncError> {
        match self
            .call(
                Method::DELETE,
                self.url(&["subscriptions", external_id])?,
                None,
            )
            .await?
        {
            Ok(_) => Ok(()),
            Err(refusal) if refusal.status == StatusCode::NOT_FOUND => Ok(()),
            Err(refusal) => Err(refusal.fail("terminate subscription")),
        }
    }

    /// Creates the zero-priced plan `<tier>_<cycle>` unless Lago has it.
    /// Returns whether it was created.
    pub async fn ensure_plan(&self, code: &str, name: Option<&str>) -> Result<bool, SyncError> {
        match self
            .call(Method::GET, self.url(&["plans", code])?, None)
            .await?
        {
            Ok(_) => return Ok(false),
            Err(refusal) if refusal.status == StatusCode::NOT_FOUND => {}
            Err(refusal) => return Err(refusal.fail("read plan")),
        }
        let Some((tier, cycle)) = code.rsplit_once('_') else {
            return Err(SyncError::Permanent(format!(
                "{code:?} is not <tier>_<cycle>"
            )));
        };
        let interval = match cycle {
            "monthly" => "monthly",
            "yearly" => "yearly",
            other => {
                return Err(SyncError::Permanent(format!(
                    "unknown billing cycle {other:?}"
                )));
            }
        };
        let body = json!({ "plan": {
            "name": name.map_or_else(|| format!("{tier} ({cycle})"), str::to_owned),
            "code": code,
            "interval": interval,
            "amount_cents": 0,
            "amount_currency": "USD",
            "pay_in_advance": true,
            "description": "Mirror of the Stripe subscription (Stripe collects; this plan is free in Lago)",
        }});
        match self
            .call(Method::POST, self.url(&["plans"])?, Some(&body))
            .await?
        {
            Ok(_) => Ok(true),
            // Created meanwhile by another instance.
            Err(refusal) if refusal.details.contains("value_already_exist") => Ok(false),
            Err(refusal) => Err(refusal.fail("create plan")),
        }
    }
}

impl Refusal {
    fn fail(self, what: &str) -> SyncError {
        let hint = match self.status {
            StatusCode::UNAUTHORIZED => " (check LAGO_API_KEY)",
            _ => "",
        };
        SyncError::Permanent(format!(
            "Lago refused to {what}: {} {} {}{hint}",
            self.status.as_u16(),
            self.code,
            self.details
        ))
    }
}

/// The Lago plan of a tier and cycle.
pub fn plan_code(tier: &str, cycle: domain::BillingCycle) -> String {
    format!("{tier}_{}", cycle.as_str())
}

/// The catalogue's Lago side: a plan for each tier and cycle it is sold
/// in. Returns the codes created.
pub async fn sync_plans(pool: &sqlx::PgPool, lago: &Lago) -> Result<Vec<String>, SyncError> {
    let tiers = crate::subscriptions::tiers::list(pool)
        .await
        .map_err(|e| SyncError::Retryable(e.to_string()))?;
    let mut created = Vec::new();
    for tier in tiers.iter().filter(|t| t.is_active) {
        for cycle in domain::BillingCycle::ALL {
            if tier.price(cycle).is_none() {
                continue;
            }
            let code = plan_code(&tier.code, cycle);
            let name = format!("{} ({cycle})", tier.name);
            if lago.ensure_plan(&code, Some(&name)).await? {
                created.push(code);
            }
        }
    }
    Ok(created)
}

/// A subscription of ours and what Lago holds of it.
#[derive(sqlx::FromRow)]
struct Mirrored {
    stripe_subscription_id: String,
    status: String,
    tier_code: Option<String>,
    billing_cycle: Option<String>,
    lago_plan_code: Option<String>,
    lago_terminated: bool,
}

/// The job: `user` and each of their subscriptions into Lago. Each
/// subscription's Lago state is remembered as soon as Lago confirms it, so a
/// retry after a partial failure redoes only what is left (and what it
/// redoes, Lago takes as a no-op).
pub async fn sync_user(
    conn: &mut PgConnection,
    lago: &Lago,
    user: UserId,
) -> Result<(), SyncError> {
    let Some((email, name)) = sqlx::query_as::<_, (Option<String>, Option<String>)>(
        "select email, name from users where id = $1",
    )
    .bind(user)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Err(SyncError::Permanent(format!(
            "user {user} does not exist here"
        )));
    };
    let customer = user.to_string();
    lago.upsert_customer(&customer, email.as_deref(), name.as_deref())
        .await?;
    let subscriptions: Vec<Mirrored> = sqlx::query_as(
        "select stripe_subscription_id, status, tier_code, billing_cycle, lago_plan_code, lago_terminated \
         from subscriptions where user_id = $1 order by started_at",
    )
    .bind(user)
    .fetch_all(&mut *conn)
    .await?;
    for Mirrored {
        stripe_subscription_id: id,
        status,
        tier_code: tier,
        billing_cycle: cycle,
        lago_plan_code: mirrored,
        lago_terminated: terminated,
    } in subscriptions
    {
        let live = status
            .parse::<domain::SubscriptionStatus>()
            .is_ok_and(|s| s.is_live());
        let wanted = match (
            live,
            tier,
            cycle.as_deref().map(str::parse::<domain::BillingCycle>),
        ) {
            (true, Some(tier), Some(Ok(cycle))) => Some(plan_code(&tier, cycle)),
            _ => None,
        };
        match wanted {
            Some(plan) if mirrored.as_deref() != Some(plan.as_str()) || terminated => {
                lago.subscribe(&customer, &id, &plan).await?;
                sqlx::query(
                    "update subscriptions set lago_plan_code = $2, lago_terminated = false \
                     where stripe_subscription_id = $1",
                )
                .bind(&id)
                .bind(&plan)
                .execute(&mut *conn)
                .await?;
            }
            None if mirrored.is_some() && !terminated => {
                lago.terminate(&id).await?;
                sqlx::query(
                    "update subscriptions set lago_terminated = true where stripe_subscription_id = $1",
                )
                .bind(&id)
                .execute(&mut *conn)
                .await?;
            }
            _ => {}
        }
    }
    Ok(())
}
