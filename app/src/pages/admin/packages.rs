use crate::components::skeleton::PageSkeleton;
use leptos::prelude::*;

use super::{AdminNav, refusal};
use crate::{
    admin::{AdminPackageView, MovePackage, SavePackage, admin_packages},
    billing::{SetTierAllowance, TierView, admin_tiers, money},
    credits::error_message,
};

/// `/admin/credits/packages`: the catalogue. Create, edit (a price change
/// makes a new Stripe price), deactivate (untick Active) and reorder.
#[component]
pub fn AdminPackagesPage() -> impl IntoView {
    let create = ServerAction::<SavePackage>::new();
    let shift = ServerAction::<MovePackage>::new();
    let packages = Resource::new(
        move || (create.version().get(), shift.version().get()),
        |_| admin_packages(),
    );
    view! {
        <Suspense fallback=|| view! { <PageSkeleton /> }>
            {move || Suspend::new(async move {
                match packages.await {
                    Ok(list) => view! { <Catalogue list create shift /> }.into_any(),
                    Err(error) => refusal(&error, "/admin/credits/packages"),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Catalogue(
    list: Vec<AdminPackageView>,
    create: ServerAction<SavePackage>,
    shift: ServerAction<MovePackage>,
) -> impl IntoView {
    let shift_error = move || match shift.value().get() {
        Some(Err(error)) => Some(error_message(&error)),
        _ => None,
    };
    view! {
        <AdminNav active="packages" />
        <h1 class="text-3xl font-bold tracking-tight">"Packages"</h1>
        <p class="mt-1 text-sm text-slate-600">
            "Prices are sent to Stripe when saved; a changed price becomes a new Stripe price and the old one is archived. Purchases keep the package as it was when they started."
        </p>
        {move || shift_error().map(|m| view! { <p class="mt-3 text-sm text-red-700" role="alert">{m}</p> })}
        <div id="package-list" class="mt-6 space-y-4">
            {list.into_iter().map(|package| view! { <PackageEditor package shift /> }).collect_view()}
        </div>
        <section class="mt-10 rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200">
            <h2 class="font-semibold">"New package"</h2>
            <PackageForm action=create package=None form_id="new-package" />
        </section>
        <Tiers />
    }
}

/// The subscription tiers' monthly allowances.
#[component]
fn Tiers() -> impl IntoView {
    let save = ServerAction::<SetTierAllowance>::new();
    let tiers = Resource::new(move || save.version().get(), |_| admin_tiers());
    let error = move || match save.value().get() {
        Some(Err(error)) => Some(error_message(&error)),
        _ => None,
    };
    view! {
        <section id="tiers" aria-labelledby="tiers-heading" class="mt-10 rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200">
            <h2 id="tiers-heading" class="font-semibold">"Subscription tiers"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Each paid period grants the tier's monthly allowance (twelve months' worth for a yearly plan). A change applies from the next paid invoice."
            </p>
            {move || error().map(|m| view! { <p class="mt-3 text-sm text-red-700" role="alert">{m}</p> })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    tiers
                        .await
                        .map(|list| {
                            list.into_iter()
                                .map(|tier| view! { <TierRow tier save /> })
                                .collect_view()
                        })
                        .ok()
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn TierRow(tier: TierView, save: ServerAction<SetTierAllowance>) -> impl IntoView {
    let prices = match tier.price_yearly_cents {
        Some(yearly) => format!(
            "{} / month, {} / year",
            money(tier.price_monthly_cents),
            money(yearly)
        ),
        None => format!("{} / month", money(tier.price_monthly_cents)),
    };
    let input_id = format!("allowance-{}", tier.tier);
    let label_for = input_id.clone();
    let code = tier.tier.clone();
    view! {
        <ActionForm action=save attr:class="mt-3 flex flex-wrap items-end gap-3 border-t border-slate-100 pt-3" attr:data-tier=code>
            <input type="hidden" name="tier" value=tier.tier />
            <div class="min-w-40">
                <p class="font-medium">{tier.name.clone()}</p>
                <p class="text-xs text-slate-500">{prices}</p>
            </div>
            <label for=label_for class="text-sm">
                "Credits a month"
                <input
                    id=input_id
                    name="monthly_allowance"
                    type="number"
                    min="0"
                    max="100000000"
                    value=tier.monthly_allowance.to_string()
                    class="mt-1 block w-36 rounded-lg border border-slate-300 px-2 py-1.5 text-sm"
                />
            </label>
            <button type="submit" class="rounded-lg bg-ink px-3 py-1.5 text-sm font-semibold text-white hover:bg-ink-hover">
                "Save"
            </button>
        </ActionForm>
    }
}

#[component]
fn PackageEditor(package: AdminPackageView, shift: ServerAction<MovePackage>) -> impl IntoView {
    let save = ServerAction::<SavePackage>::new();
    let id = package.id.clone();
    let code = package.code.clone();
    let mover = move |direction: &'static str, label: &'static str| {
        let id = id.clone();
        view! {
            <ActionForm action=shift>
                <input type="hidden" name="id" value=id />
                <input type="hidden" name="direction" value=direction />
                <button type="submit" data-role=format!("move-{direction}") aria-label=format!("Move {direction}") class="rounded border border-slate-300 px-2 text-sm hover:bg-slate-50">{label}</button>
            </ActionForm>
        }
    };
    view! {
        <article data-package=code class="rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200">
            <div class="flex items-center justify-between gap-2">
                <h2 class="font-semibold">
                    {package.name.clone()}
                    <span class="ml-2 font-mono text-xs text-slate-500">{package.code.clone()}</span>
                    {(!package.is_active).then(|| view! { <span class="ml-2 rounded-full bg-slate-200 px-2 py-0.5 text-xs">"inactive"</span> })}
                </h2>
                <div class="flex gap-1">{mover("up", "↑")}{mover("down", "↓")}</div>
            </div>
            <p class="mt-1 font-mono text-xs text-slate-500">{package.stripe_price_id.clone().unwrap_or_else(|| "not in Stripe yet".into())}</p>
            <PackageForm action=save package=Some(package) form_id="" />
        </article>
    }
}

#[component]
fn PackageForm(
    action: ServerAction<SavePackage>,
    package: Option<AdminPackageView>,
    form_id: &'static str,
) -> impl IntoView {
    let input = "mt-1 block w-full rounded-lg border border-slate-300 px-2 py-1.5 text-sm";
    let label = "text-xs font-medium text-slate-600";
    let existing = package.is_some();
    let p = package.clone();
    let value = move |f: fn(&AdminPackageView) -> String| p.as_ref().map(f).unwrap_or_default();
    let result = move || {
        action.value().get().map(|result| match result {
            Ok(message) => view! { <p data-ok="true" class="text-sm text-emerald-700" role="status">{message}</p> }.into_any(),
            Err(error) => view! { <p data-ok="false" class="text-sm text-red-700" role="alert">{error_message(&error)}</p> }.into_any(),
        })
    };
    view! {
        <ActionForm action attr:id=form_id attr:class="mt-3 grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
            <input type="hidden" name="id" value=value(|p| p.id.clone()) />
            <label class=label>"Code"
                <input name="package_code" value=value(|p| p.code.clone()) readonly=existing required class=input />
            </label>
            <label class=label>"Name"
                <input name="package_name" value=value(|p| p.name.clone()) required class=input />
            </label>
            <label class=label>"Credits"
                <input name="credits" inputmode="numeric" value=value(|p| p.credits.get().to_string()) required class=input />
            </label>
            <label class=label>"Price (USD)"
                <input name="price" inputmode="decimal" value=value(|p| p.price.to_string()) required class=input />
            </label>
            <label class=format!("{label} sm:col-span-2")>"Description"
                <input name="description" value=value(|p| p.description.clone()) class=input />
            </label>
            <label class=label>"Discount %"
                <input name="discount_percentage" inputmode="numeric" value=value(|p| p.discount_percentage.to_string()) class=input />
            </label>
            <div class="flex items-end gap-4 text-sm">
                <label><input type="checkbox" name="is_popular" checked=package.as_ref().is_some_and(|p| p.is_popular) />" Popular"</label>
                <label><input type="checkbox" name="is_active" checked=package.as_ref().is_none_or(|p| p.is_active) />" Active"</label>
                <button type="submit" class="rounded-lg bg-indigo-600 px-3 py-1.5 font-semibold text-white hover:bg-indigo-500">
                    {if existing { "Save" } else { "Create" }}
                </button>
            </div>
            <div class="sm:col-span-2 lg:col-span-4">{result}</div>
        </ActionForm>
    }
}
