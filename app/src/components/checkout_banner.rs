use leptos::prelude::*;

use crate::credits::CheckoutReturn;

/// What the buyer sees after coming back from Checkout.
#[component]
pub fn CheckoutBanner(outcome: CheckoutReturn) -> impl IntoView {
    let (kind, colours, title, body) = match outcome {
        CheckoutReturn::Completed {
            package_name,
            credits,
        } => (
            "success",
            "border-emerald-200 bg-emerald-50 text-emerald-900",
            "Payment received".to_owned(),
            format!(
                "Thank you! {credits} credits from the {package_name} were added to your balance."
            ),
        ),
        CheckoutReturn::Processing { package_name } => (
            "processing",
            "border-amber-200 bg-amber-50 text-amber-900",
            "Payment processing".to_owned(),
            format!(
                "Your payment for the {package_name} is still being confirmed. The credits are added as soon as it clears; you can leave this page."
            ),
        ),
        CheckoutReturn::UnderReview { package_name } => (
            "review",
            "border-amber-200 bg-amber-50 text-amber-900",
            "Payment received, being checked".to_owned(),
            format!(
                "Your payment for the {package_name} could not be matched to your order automatically, so our team is checking it. You will get the credits or a full refund; there is nothing you need to do."
            ),
        ),
        CheckoutReturn::Unsuccessful {
            package_name,
            status,
        } => (
            "unsuccessful",
            "border-red-200 bg-red-50 text-red-900",
            "Payment not completed".to_owned(),
            format!(
                "The checkout for the {package_name} {}. You were not charged; please try again.",
                if status == domain::PurchaseStatus::Expired {
                    "expired"
                } else {
                    "failed"
                }
            ),
        ),
        CheckoutReturn::Unknown => (
            "unknown",
            "border-slate-200 bg-surface text-slate-800",
            "We are confirming your payment".to_owned(),
            "If you completed a payment, its credits appear in your balance within a few minutes."
                .to_owned(),
        ),
    };
    view! {
        <Notice kind colours title body />
    }
}

/// Checkout was left without paying.
#[component]
pub fn CancelledBanner() -> impl IntoView {
    view! {
        <Notice
            kind="cancelled"
            colours="border-slate-200 bg-surface text-slate-800"
            title="Checkout cancelled".to_owned()
            body="No payment was taken and your balance is unchanged. You can pick a pack again whenever you like."
                .to_owned()
        />
    }
}

#[component]
fn Notice(kind: &'static str, colours: &'static str, title: String, body: String) -> impl IntoView {
    view! {
        <div
            id="checkout-banner"
            data-kind=kind
            role="status"
            class=format!("mb-6 rounded-xl border p-4 {colours}")
        >
            <p class="font-semibold">{title}</p>
            <p class="mt-1 text-sm">{body}</p>
        </div>
    }
}
