//! Leptos components and server functions.
use leptos::prelude::*;

#[component]
pub fn App() -> impl IntoView {
    view! { <main>"Ops-Center Credits"</main> }
}
