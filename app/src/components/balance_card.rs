use domain::Credits;
use leptos::prelude::*;

#[component]
pub fn BalanceCard(balance: Credits) -> impl IntoView {
    view! {
        <section
            aria-labelledby="balance-heading"
            class="rounded-2xl bg-gradient-to-br from-indigo-600 to-indigo-800 p-6 text-white shadow-sm"
        >
            <h2 id="balance-heading" class="text-sm font-medium text-indigo-100">
                "Your balance"
            </h2>
            <p class="mt-2 flex items-baseline gap-2">
                <span id="balance" class="text-4xl font-bold tracking-tight">
                    {balance.to_string()}
                </span>
                <span class="text-indigo-100">"credits"</span>
            </p>
            <p class="mt-3 text-sm text-indigo-100">
                "Credits never expire. Top up below whenever you run low."
            </p>
        </section>
    }
}
