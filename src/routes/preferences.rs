//! `POST /preferences/theme`: the footer's theme switch. The choice is kept
//! in a cookie for a year (none at all for "system"), and the browser goes
//! back to the page it came from.

use app::theme::{COOKIE, Theme};
use axum::{
    extract::State,
    http::header::SET_COOKIE,
    response::{IntoResponse, Redirect, Response},
};
use backend::AppState;
use serde::Deserialize;

use crate::{
    error::{AppError, ErrorCode},
    extract::Form,
    routes::auth::safe_next,
};

const A_YEAR: u32 = 365 * 24 * 3600;

#[derive(Deserialize)]
pub struct ThemeForm {
    theme: String,
    /// The page to return to: a path on this site, else `/`.
    next: Option<String>,
}

pub async fn set_theme(
    State(state): State<AppState>,
    Form(form): Form<ThemeForm>,
) -> Result<Response, AppError> {
    let theme = Theme::parse(&form.theme).ok_or_else(|| {
        AppError::new(
            ErrorCode::InvalidBody,
            "theme must be light, dark or system.",
        )
    })?;
    let secure = if state.config.app_base_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let cookie = match theme.attribute() {
        Some(value) => format!("{COOKIE}={value}; Path=/; Max-Age={A_YEAR}; SameSite=Lax{secure}"),
        None => format!("{COOKIE}=; Path=/; Max-Age=0; SameSite=Lax{secure}"),
    };
    let next = safe_next(&state.config.app_base_url, form.next.as_deref());
    Ok(([(SET_COOKIE, cookie)], Redirect::to(&next)).into_response())
}
