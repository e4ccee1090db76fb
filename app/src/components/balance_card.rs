//! The balance at the top of `/credits`: what can be spent now, and where
//! the credits come from (paid, granted, expiring soon, owed).

use leptos::prelude::*;

use crate::wallet::WalletView;

#[component]
pub fn BalanceCard(wallet: WalletView) -> impl IntoView {
    let WalletView {
        balance,
        available,
        held,
        paid,
        granted,
        debt,
        expiring,
        expiring_soon,
    } = wallet;
    let in_debt = debt.get() > 0;
    let figure = |id: &'static str, label: &'static str, value: String| {
        view! {
            <div>
                <dt class="text-xs font-medium uppercase tracking-wide text-white/80">{label}</dt>
                <dd id=id class="mt-0.5 text-lg font-semibold tabular-nums">{value}</dd>
            </div>
        }
    };
    view! {
        <section
            aria-labelledby="balance-heading"
            class="rounded-2xl bg-gradient-to-br from-indigo-600 to-indigo-800 p-6 text-white shadow-sm"
        >
            <h2 id="balance-heading" class="text-sm font-medium text-white/80">
                "Your balance"
            </h2>
            <p class="mt-2 flex items-baseline gap-2">
                <span id="balance" class="text-4xl font-bold tracking-tight">
                    {balance.to_string()}
                </span>
                <span class="text-white/80">"credits"</span>
            </p>
            <dl id="balance-breakdown" class="mt-4 grid grid-cols-2 gap-4 sm:grid-cols-4">
                {figure("balance-available", "Available", available.to_string())}
                {figure("balance-paid", "Paid", paid.to_string())}
                {figure("balance-granted", "Granted", granted.to_string())}
                {figure("balance-held", "Reserved", held.to_string())}
            </dl>
            {in_debt
                .then(|| {
                    view! {
                        <p id="balance-debt" role="alert" class="mt-4 rounded-lg bg-white/15 p-3 text-sm">
                            {format!(
                                "You owe {debt} credits: a refund took back credits that were already spent. Spending resumes once new credits repay it.",
                            )}
                        </p>
                    }
                })}
            {if expiring.is_empty() {
                view! {
                    <p class="mt-4 text-sm text-white/80">
                        "Paid credits never expire; plan and promotional credits are used first."
                    </p>
                }
                    .into_any()
            } else {
                view! {
                    <div id="balance-expiring" class="mt-4 text-sm text-white/90">
                        <p class="font-medium">
                            {format!("{expiring_soon} credits expire in the next 30 days:")}
                        </p>
                        <ul class="mt-1 space-y-0.5">
                            {expiring
                                .into_iter()
                                .map(|e| {
                                    view! {
                                        <li>{format!("{} {} on {}", e.credits, e.kind.to_lowercase(), e.expires_at)}</li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    </div>
                }
                    .into_any()
            }}
        </section>
    }
}
