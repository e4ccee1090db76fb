//! Stripe's error shape: `{"error": {"type", "code", "message", "param"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: String,
    pub param: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn invalid(message: impl Into<String>, param: Option<&str>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            code: None,
            decline_code: None,
            message: message.into(),
            param: param.map(str::to_owned),
        }
    }

    pub fn with_code(mut self, code: &str) -> Self {
        self.code = Some(code.to_owned());
        self
    }

    pub fn with_param(mut self, param: &str) -> Self {
        self.param = Some(param.to_owned());
        self
    }

    pub fn with_param_none(mut self) -> Self {
        self.param = None;
        self
    }

    pub fn missing_param(param: &str) -> Self {
        Self::invalid(format!("Missing required param: {param}."), Some(param))
            .with_code("parameter_missing")
    }

    pub fn invalid_param(param: &str, message: impl Into<String>) -> Self {
        Self::invalid(message, Some(param)).with_code("parameter_invalid")
    }

    /// 404 `resource_missing`, as Stripe words it: "No such price: 'price_123'".
    pub fn no_such(what: &str, id: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            kind: "invalid_request_error",
            code: Some("resource_missing".into()),
            decline_code: None,
            message: format!("No such {what}: '{id}'"),
            param: Some("id".into()),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            kind: "invalid_request_error",
            code: None,
            decline_code: None,
            message: message.into(),
            param: None,
        }
    }

    /// 402 `card_error`.
    pub fn card(code: &str, decline_code: Option<&str>, message: &str) -> Self {
        Self {
            status: StatusCode::PAYMENT_REQUIRED,
            kind: "card_error",
            code: Some(code.into()),
            decline_code: decline_code.map(str::to_owned),
            message: message.into(),
            param: None,
        }
    }

    pub fn to_json(&self) -> Value {
        let mut error = json!({
            "type": self.kind,
            "message": self.message,
            "code": self.code,
            "param": self.param,
            "doc_url": self.code.as_ref().map(|c| format!("https://stripe.com/docs/error-codes/{}", c.replace('_', "-"))),
            "request_log_url": null,
        });
        if let Some(decline) = &self.decline_code {
            error["decline_code"] = json!(decline);
        }
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.to_json())).into_response()
    }
}
