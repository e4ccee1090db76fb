//! In-memory state: every Stripe object as JSON, the events, the webhook endpoints and deliveries.

use std::collections::{HashMap, HashSet};

use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use crate::EndpointConfig;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::webhooks::{Attempt, Endpoint, Job, RetryPolicy};

/// The Stripe API version stamped on events (the one async-stripe 1.0.0-rc.10 is generated from).
pub const API_VERSION: &str = "2026-09-30.endive";

pub struct Store {
    objects: HashMap<String, Value>,
    /// Object ids per `object` type, oldest first.
    order: HashMap<String, Vec<String>>,
    /// Checkout line items per session id.
    pub line_items: HashMap<String, Vec<Value>>,
    /// Creation parameters a session keeps but does not show (`payment_intent_data`, `subscription_data`).
    pub session_extras: HashMap<String, Value>,
    /// Idempotency-Key → (request fingerprint, status, response body).
    pub idempotency: HashMap<String, (String, u16, Vec<u8>)>,
    /// Events emitted since the last dispatch.
    pending_events: Vec<String>,
    pub endpoints: Vec<Endpoint>,
    pub attempts: Vec<Attempt>,
    /// While true, new deliveries wait in `held` until released.
    pub hold: bool,
    pub held: Vec<Job>,
    pub retry: RetryPolicy,
    /// Checkout sessions paid with a delayed-notification card: session id → planned outcome.
    pub async_payments: HashMap<String, bool>,
    /// Payment methods that attach but whose every charge fails (test card `4000 0000 0000 0341`).
    pub failing_cards: HashSet<String>,
    /// The origin of the hosted pages (`hosted_invoice_url`).
    pub public_url: String,
}

impl Store {
    pub fn new(retry: RetryPolicy) -> Self {
        Self {
            objects: HashMap::new(),
            order: HashMap::new(),
            line_items: HashMap::new(),
            session_extras: HashMap::new(),
            idempotency: HashMap::new(),
            pending_events: Vec::new(),
            endpoints: Vec::new(),
            attempts: Vec::new(),
            hold: false,
            held: Vec::new(),
            retry,
            async_payments: HashMap::new(),
            failing_cards: HashSet::new(),
            public_url: String::new(),
        }
    }

    /// Clears every object and event; endpoints and the retry policy stay.
    pub fn reset(&mut self) {
        let endpoints = std::mem::take(&mut self.endpoints);
        let retry = self.retry;
        let public_url = std::mem::take(&mut self.public_url);
        *self = Self::new(retry);
        self.endpoints = endpoints;
        self.public_url = public_url;
    }

    /// A fresh id such as `cus_T3kq…` (24 random characters after the prefix).
    pub fn new_id(&self, prefix: &str) -> String {
        let random: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(24)
            .map(char::from)
            .collect();
        format!("{prefix}_{random}")
    }

    /// Stores a new object under its `object` type, keeping creation order.
    pub fn insert(&mut self, object: Value) -> Value {
        let id = object["id"].as_str().unwrap_or_default().to_owned();
        let kind = object["object"].as_str().unwrap_or_default().to_owned();
        if !self.objects.contains_key(&id) {
            self.order.entry(kind).or_default().push(id.clone());
        }
        self.objects.insert(id, object.clone());
        object
    }

    pub fn exists(&self, id: &str) -> bool {
        self.objects.contains_key(id)
    }

    pub fn find(&self, id: &str) -> Option<&Value> {
        self.objects.get(id)
    }

    /// The object with this id and `object` type, or Stripe's 404.
    pub fn get(&self, kind: &str, id: &str) -> ApiResult<Value> {
        match self.objects.get(id) {
            Some(v) if v["object"] == kind => Ok(v.clone()),
            _ => Err(ApiError::no_such(&kind.replace(['.', '_'], " "), id)),
        }
    }

    /// Changes a stored object in place and returns the new version.
    pub fn update(&mut self, id: &str, f: impl FnOnce(&mut Value)) -> Value {
        match self.objects.get_mut(id) {
            Some(object) => {
                f(object);
                object.clone()
            }
            None => Value::Null,
        }
    }

    pub fn remove(&mut self, id: &str) -> Option<Value> {
        let removed = self.objects.remove(id)?;
        if let Some(ids) = removed["object"]
            .as_str()
            .and_then(|k| self.order.get_mut(k))
        {
            ids.retain(|x| x != id);
        }
        Some(removed)
    }

    /// Every object of a type, newest first.
    pub fn all(&self, kind: &str) -> Vec<Value> {
        self.order
            .get(kind)
            .map(|ids| {
                ids.iter()
                    .rev()
                    .filter_map(|id| self.objects.get(id).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A Stripe list object over `items` (already filtered, newest first), paged by
    /// `limit`, `starting_after`, `ending_before`, and with `expand[]=data.x` applied.
    pub fn list(&self, items: Vec<Value>, params: &Params, url: &str) -> ApiResult<Value> {
        let limit = params.int("limit")?.unwrap_or(10);
        if !(1..=100).contains(&limit) {
            return Err(ApiError::invalid_param(
                "limit",
                "Invalid limit: must be between 1 and 100",
            ));
        }
        let limit = limit as usize;
        let position = |id: &str| items.iter().position(|o| o["id"] == id);
        let (page, has_more) = if let Some(after) = params.str("starting_after") {
            let start = position(&after).ok_or_else(|| ApiError::no_such("object", &after))? + 1;
            let rest = &items[start..];
            (
                rest.iter().take(limit).cloned().collect::<Vec<_>>(),
                rest.len() > limit,
            )
        } else if let Some(before) = params.str("ending_before") {
            let end = position(&before).ok_or_else(|| ApiError::no_such("object", &before))?;
            let head = &items[..end];
            let skip = head.len().saturating_sub(limit);
            (head[skip..].to_vec(), skip > 0)
        } else {
            (
                items.iter().take(limit).cloned().collect(),
                items.len() > limit,
            )
        };
        let data_paths: Vec<String> = params
            .list("expand")
            .iter()
            .filter_map(|p| p.strip_prefix("data.").map(str::to_owned))
            .collect();
        let data: Vec<Value> = page
            .into_iter()
            .map(|o| self.expand(o, &data_paths))
            .collect();
        Ok(json!({ "object": "list", "data": data, "has_more": has_more, "url": url }))
    }

    /// Replaces id strings by their objects along each dotted path (`payment_intent`,
    /// `subscription.latest_invoice`, `data.customer` inside lists).
    pub fn expand(&self, mut object: Value, paths: &[String]) -> Value {
        for path in paths {
            self.expand_path(&mut object, path);
        }
        object
    }

    fn expand_path(&self, value: &mut Value, path: &str) {
        let (head, rest) = match path.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (path, None),
        };
        if head == "data"
            && let Some(Value::Array(items)) = value.get_mut("data")
        {
            if let Some(rest) = rest {
                for item in items {
                    self.expand_path(item, rest);
                }
            }
            return;
        }
        if value["object"] == "checkout.session" && head == "line_items" {
            let id = value["id"].as_str().unwrap_or_default().to_owned();
            let items = self.line_items.get(&id).cloned().unwrap_or_default();
            value["line_items"] = json!({
                "object": "list",
                "data": items,
                "has_more": false,
                "url": format!("/v1/checkout/sessions/{id}/line_items"),
            });
            return;
        }
        let Some(field) = value.get_mut(head) else {
            return;
        };
        if let Some(id) = field.as_str()
            && let Some(found) = self.objects.get(id)
        {
            *field = found.clone();
        }
        if let Some(rest) = rest
            && field.is_object()
        {
            self.expand_path(field, rest);
        }
    }

    // ---------------------------------------------------------------- events

    /// Records an event about `object` (a snapshot) and queues it for delivery.
    pub fn emit(&mut self, event_type: &str, object: &Value, previous: Option<Value>) -> String {
        let id = self.new_id("evt");
        let pending = self
            .endpoints
            .iter()
            .filter(|e| e.enabled && e.wants(event_type))
            .count();
        let mut data = json!({ "object": object });
        if let Some(previous) = previous {
            data["previous_attributes"] = previous;
        }
        let event = json!({
            "id": id,
            "object": "event",
            "api_version": API_VERSION,
            "created": crate::now(),
            "data": data,
            "livemode": false,
            "pending_webhooks": pending,
            "request": { "id": null, "idempotency_key": null },
            "type": event_type,
        });
        self.insert(event);
        self.pending_events.push(id.clone());
        id
    }

    pub fn take_pending_events(&mut self) -> Vec<String> {
        std::mem::take(&mut self.pending_events)
    }

    // ---------------------------------------------------------------- endpoints

    pub fn add_endpoint(&mut self, config: EndpointConfig) -> Endpoint {
        let endpoint = Endpoint {
            id: self.new_id("we"),
            url: config.url,
            secret: config.secret,
            events: config.events,
            enabled: true,
        };
        self.endpoints.push(endpoint.clone());
        endpoint
    }
}
