//! An error as the user should read it: what happened and what to do. An
//! expired session offers to log in again and come back to this page; our
//! or a peer's failure (5xx) offers to try again, and a page rendered
//! around one answers with that status, not 200.

use leptos::prelude::*;

use crate::{
    credits::error_message,
    error::{ApiError, ErrorCode},
};

#[component]
pub fn ErrorNotice(
    error: ApiError,
    /// Smaller, without the box: under a button or a form.
    #[prop(optional)]
    inline: bool,
) -> impl IntoView {
    let expired = matches!(
        error.code,
        ErrorCode::NotAuthenticated | ErrorCode::InvalidToken
    );
    let failed = error.code.status() >= 500;
    #[cfg(feature = "ssr")]
    if failed
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(error.code.status())
    {
        response.set_status(status);
    }
    let here = super::current_path();
    let login = move || crate::auth::login_href(&here());
    let class = if inline {
        "mt-2 text-sm text-red-700"
    } else {
        "mt-6 rounded-lg bg-red-50 p-4 text-red-700"
    };
    view! {
        <p class=class role="alert" data-error=error.code.as_str()>
            {error_message(&error)}
            {expired
                .then(|| {
                    view! {
                        " "
                        <a href=login rel="external" class="font-semibold underline">
                            "Log in again"
                        </a>
                    }
                })}
            {failed
                .then(|| {
                    view! {
                        " "
                        <a href=here rel="external" class="font-semibold underline">
                            "Try again"
                        </a>
                    }
                })}
        </p>
    }
}
