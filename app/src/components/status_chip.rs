use domain::PurchaseStatus;
use leptos::prelude::*;

/// A purchase status as a coloured pill; `data-status` carries the machine value.
#[component]
pub fn StatusChip(status: PurchaseStatus) -> impl IntoView {
    let (label, colours) = match status {
        PurchaseStatus::Completed => ("Completed", "bg-emerald-100 text-emerald-800"),
        PurchaseStatus::Pending => ("Pending", "bg-amber-100 text-amber-800"),
        PurchaseStatus::Failed => ("Failed", "bg-red-100 text-red-800"),
        PurchaseStatus::Expired => ("Expired", "bg-slate-200 text-slate-700"),
        PurchaseStatus::Refunded => ("Refunded", "bg-violet-100 text-violet-800"),
        PurchaseStatus::PartiallyRefunded => ("Partially refunded", "bg-violet-50 text-violet-700"),
        PurchaseStatus::NeedsReview => ("Needs review", "bg-orange-100 text-orange-800"),
        PurchaseStatus::Disputed => ("Disputed", "bg-orange-100 text-orange-800"),
    };
    view! {
        <span
            data-status=status.as_str()
            class=format!(
                "inline-flex items-center whitespace-nowrap rounded-full px-2.5 py-0.5 text-xs font-semibold {colours}",
            )
        >
            {label}
        </span>
    }
}
