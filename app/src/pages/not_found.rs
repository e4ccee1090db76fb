use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <StatusPage
            id="not-found"
            code="404"
            title="Page not found"
            body="There is nothing at this address. It may have moved, or the link may be mistyped."
            back=("/credits", "Back to your credits")
        />
    }
}

/// A full-page refusal or failure in the app's style: 403, 404, 500.
#[component]
pub fn StatusPage(
    id: &'static str,
    code: &'static str,
    title: &'static str,
    body: &'static str,
    back: (&'static str, &'static str),
) -> impl IntoView {
    view! {
        <section
            id=id
            class="mx-auto mt-8 max-w-lg rounded-2xl bg-surface p-8 text-center shadow-sm ring-1 ring-slate-200"
        >
            <p class="text-sm font-semibold text-indigo-700">{code}</p>
            <h1 class="mt-2 text-2xl font-bold tracking-tight">{title}</h1>
            <p class="mt-2 text-slate-600">{body}</p>
            <a
                href=back.0
                class="mt-6 inline-block rounded-lg bg-indigo-600 px-4 py-2 text-sm font-semibold text-white hover:bg-indigo-500"
            >
                {back.1}
            </a>
        </section>
    }
}
