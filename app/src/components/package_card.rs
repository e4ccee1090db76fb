use leptos::prelude::*;

use crate::packages::PackageView;

#[component]
pub fn PackageCard(package: PackageView) -> impl IntoView {
    let per_thousand = package.price_per_thousand();
    let ring = if package.is_popular {
        "ring-2 ring-indigo-600"
    } else {
        "ring-1 ring-slate-200"
    };
    view! {
        <article
            class=format!("relative flex flex-col rounded-2xl bg-white p-6 shadow-sm {ring}")
            data-package=package.code.clone()
        >
            <div class="flex h-6 flex-wrap gap-1">
                {package
                    .is_popular
                    .then(|| {
                        view! {
                            <span class="rounded-full bg-indigo-600 px-2.5 py-0.5 text-xs font-semibold text-white">
                                "Popular"
                            </span>
                        }
                    })}
                {(package.discount_percentage > 0)
                    .then(|| {
                        view! {
                            <span class="rounded-full bg-emerald-100 px-2.5 py-0.5 text-xs font-semibold text-emerald-800">
                                {format!("Save {}%", package.discount_percentage)}
                            </span>
                        }
                    })}
            </div>
            <h3 class="mt-2 text-lg font-semibold">{package.name.clone()}</h3>
            <p class="mt-1 text-sm text-slate-500">{package.description.clone()}</p>
            <p class="mt-6 text-4xl font-bold tracking-tight" data-role="price">
                {package.price.to_string()}
            </p>
            <p class="mt-1 text-sm font-medium text-slate-700" data-role="credits">
                {format!("{} credits", package.credits)}
            </p>
            {per_thousand
                .map(|cost| {
                    view! {
                        <p class="mt-1 text-xs text-slate-500">{format!("{cost} per 1,000 credits")}</p>
                    }
                })}
        </article>
    }
}
