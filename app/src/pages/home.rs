use leptos::prelude::*;

use crate::{components::package_card::PackageCard, packages::list_packages};

#[component]
pub fn HomePage() -> impl IntoView {
    let packages = Resource::new(|| (), |_| list_packages());
    view! {
        <section>
            <h1 class="text-3xl font-bold tracking-tight">"Credit packs"</h1>
            <p class="mt-2 text-slate-600">
                "Credits pay for AI models and services across Ops-Center. Bigger packs cost less per credit."
            </p>
            <Suspense fallback=|| {
                view! { <p class="mt-8 text-slate-500">"Loading packages…"</p> }
            }>
                {move || Suspend::new(async move {
                    match packages.await {
                        Ok(list) => {
                            view! {
                                <div
                                    id="packages"
                                    class="mt-8 grid gap-6 sm:grid-cols-2 lg:grid-cols-4"
                                >
                                    {list
                                        .into_iter()
                                        .map(|package| view! { <PackageCard package /> })
                                        .collect_view()}
                                </div>
                            }
                                .into_any()
                        }
                        Err(error) => {
                            view! {
                                <p class="mt-8 rounded-lg bg-red-50 p-4 text-red-700" role="alert">
                                    {error.to_string()}
                                </p>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}
