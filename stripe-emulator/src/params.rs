//! Typed access to decoded form parameters, with Stripe's error messages.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::Method;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::form;

/// Request parameters: the query string merged with a form-encoded body.
#[derive(Clone, Debug, Default)]
pub struct Params(pub Value);

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query = req.uri().query().unwrap_or("").to_owned();
        let method = req.method().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::invalid("Could not read the request body.", None))?;
        let mut merged = form::parse(&query);
        if method != Method::GET && !body.is_empty() {
            let text = std::str::from_utf8(&body)
                .map_err(|_| ApiError::invalid("The request body is not valid UTF-8.", None))?;
            if let (Value::Object(into), Value::Object(from)) = (&mut merged, form::parse(text)) {
                into.extend(from);
            }
        }
        Ok(Self(merged))
    }
}

impl Params {
    pub fn from_value(value: Value) -> Self {
        Self(value)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.get(key).is_some()
    }

    /// A string parameter; an empty string counts as absent.
    pub fn str(&self, key: &str) -> Option<String> {
        str_of(self.0.get(key))
    }

    pub fn required(&self, key: &str) -> ApiResult<String> {
        self.str(key).ok_or_else(|| ApiError::missing_param(key))
    }

    pub fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        int_of(self.0.get(key), key)
    }

    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        bool_of(self.0.get(key), key)
    }

    /// `expand[]=a&expand[]=b`, `expand[0]=a`, or a lone `expand=a`.
    pub fn list(&self, key: &str) -> Vec<String> {
        list_of(self.0.get(key))
    }

    pub fn sub(&self, key: &str) -> Params {
        Params(self.0.get(key).cloned().unwrap_or(Value::Null))
    }

    /// Items of an array parameter (`line_items[0][price]`), each as its own `Params`.
    pub fn items(&self, key: &str) -> Vec<Params> {
        match self.0.get(key) {
            Some(Value::Array(items)) => items.iter().cloned().map(Params).collect(),
            Some(Value::Object(map)) if !map.is_empty() => vec![Params(Value::Object(map.clone()))],
            _ => Vec::new(),
        }
    }

    /// `metadata[k]=v` merged into `existing`; an empty value deletes the key, as in Stripe.
    pub fn metadata_into(&self, key: &str, existing: &mut Value) -> ApiResult<()> {
        let Some(given) = self.0.get(key) else {
            return Ok(());
        };
        if !existing.is_object() {
            *existing = Value::Object(Map::new());
        }
        let target = existing.as_object_mut().expect("just made an object");
        match given {
            Value::String(s) if s.is_empty() => target.clear(),
            Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        Value::String(s) if s.is_empty() => {
                            target.remove(k);
                        }
                        Value::String(s) => {
                            target.insert(k.clone(), Value::String(s.clone()));
                        }
                        _ => {
                            return Err(ApiError::invalid_param(
                                key,
                                format!(
                                    "Invalid value for metadata key `{k}`: it must be a string."
                                ),
                            ));
                        }
                    }
                }
            }
            _ => {
                return Err(ApiError::invalid_param(
                    key,
                    "Invalid metadata: it must be a hash of string keys and values.",
                ));
            }
        }
        Ok(())
    }

    /// Metadata for a new object.
    pub fn metadata(&self, key: &str) -> ApiResult<Value> {
        let mut out = Value::Object(Map::new());
        self.metadata_into(key, &mut out)?;
        Ok(out)
    }

    /// `created[gte]=…` style range filters, or `created=…` for equality.
    pub fn range(&self, key: &str) -> ApiResult<Option<Range>> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => {
                let mut range = Range::default();
                for (op, v) in map {
                    let n = int_of(Some(v), &format!("{key}[{op}]"))?
                        .ok_or_else(|| ApiError::invalid_param(key, "Invalid range."))?;
                    match op.as_str() {
                        "gt" => range.gt = Some(n),
                        "gte" => range.gte = Some(n),
                        "lt" => range.lt = Some(n),
                        "lte" => range.lte = Some(n),
                        other => {
                            return Err(ApiError::invalid_param(
                                key,
                                format!("Received unknown parameter: {key}[{other}]"),
                            ));
                        }
                    }
                }
                Ok(Some(range))
            }
            Some(v) => {
                let n = int_of(Some(v), key)?;
                Ok(n.map(|n| Range {
                    gte: Some(n),
                    lte: Some(n),
                    ..Range::default()
                }))
            }
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Range {
    pub gt: Option<i64>,
    pub gte: Option<i64>,
    pub lt: Option<i64>,
    pub lte: Option<i64>,
}

impl Range {
    pub fn contains(&self, n: i64) -> bool {
        self.gt.is_none_or(|x| n > x)
            && self.gte.is_none_or(|x| n >= x)
            && self.lt.is_none_or(|x| n < x)
            && self.lte.is_none_or(|x| n <= x)
    }
}

pub fn str_of(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

pub fn int_of(v: Option<&Value>, key: &str) -> ApiResult<Option<i64>> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s.parse::<i64>().map(Some).map_err(|_| {
            ApiError::invalid(format!("Invalid integer: {s}"), Some(key))
                .with_code("parameter_invalid_integer")
        }),
        Some(Value::Number(n)) => Ok(n.as_i64()),
        Some(_) => Err(
            ApiError::invalid(format!("Invalid integer for {key}"), Some(key))
                .with_code("parameter_invalid_integer"),
        ),
    }
}

pub fn bool_of(v: Option<&Value>, key: &str) -> ApiResult<Option<bool>> {
    match v {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            "" => Ok(None),
            other => Err(ApiError::invalid(
                format!("Invalid boolean: {other}"),
                Some(key),
            )),
        },
        Some(_) => Err(ApiError::invalid(
            format!("Invalid boolean for {key}"),
            Some(key),
        )),
    }
}

pub fn list_of(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(|i| str_of(Some(i))).collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Object(map)) => {
            // `a[5]=x` alone decodes to an array; mixed keys stay an object: keep the values in key order.
            let sorted: BTreeMap<_, _> = map.iter().collect();
            sorted
                .into_values()
                .filter_map(|i| str_of(Some(i)))
                .collect()
        }
        _ => Vec::new(),
    }
}
