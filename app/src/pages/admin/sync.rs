use crate::components::skeleton::PageSkeleton;
use leptos::prelude::*;

use super::{AdminNav, refusal};
use crate::{
    admin::{ReconcileRunView, RetryFailedSyncs, RetrySync, SyncJobView, SyncPageView, admin_sync},
    credits::error_message,
};

/// `/admin/credits/sync`: Keycloak and Lago jobs that are not done, with
/// retry buttons, and the last reconcile with Stripe.
#[component]
pub fn AdminSyncPage() -> impl IntoView {
    let retry = ServerAction::<RetrySync>::new();
    let retry_all = ServerAction::<RetryFailedSyncs>::new();
    let page = Resource::new(
        move || (retry.version().get(), retry_all.version().get()),
        |_| admin_sync(),
    );
    view! {
        <Suspense fallback=|| view! { <PageSkeleton /> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <Sync page retry retry_all /> }.into_any(),
                    Err(error) => refusal(&error, "/admin/credits/sync"),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Sync(
    page: SyncPageView,
    retry: ServerAction<RetrySync>,
    retry_all: ServerAction<RetryFailedSyncs>,
) -> impl IntoView {
    let outcome = move || {
        let error = match (retry.value().get(), retry_all.value().get()) {
            (Some(Err(e)), _) | (_, Some(Err(e))) => Some(error_message(&e)),
            _ => None,
        };
        error.map(|m| view! { <p class="mt-3 text-sm text-red-700" role="alert">{m}</p> })
    };
    let systems = if page.systems.is_empty() {
        "Neither Keycloak nor Lago is configured here: nothing is synced.".to_owned()
    } else {
        format!("Synced here: {}.", page.systems.join(" and "))
    };
    let summary = format!(
        "{} failed, {} retrying, {} waiting",
        page.failed, page.retrying, page.pending
    );
    let dropped = (!page.dropped_attributes.is_empty()).then(|| {
        view! {
            <p id="dropped-attributes" class="mt-4 rounded-lg bg-amber-50 p-3 text-sm text-amber-900" role="alert">
                "Keycloak dropped these attributes when they were written: "
                <span class="font-mono">{page.dropped_attributes.join(", ")}</span>
                ". Declare them in the realm's user profile (admin-editable only); see the README."
            </p>
        }
    });
    let has_failed = page.failed > 0;
    view! {
        <AdminNav active="sync" />
        <h1 class="text-3xl font-bold tracking-tight">"Sync"</h1>
        <p class="mt-1 text-sm text-slate-600">
            {systems}
            " Each subscription change queues a job per system; failed tries are retried with growing pauses, and given up after the last attempt."
        </p>
        {dropped}
        <div class="mt-4 flex flex-wrap items-center gap-4">
            <p id="sync-summary" class="font-medium">{summary}</p>
            <ActionForm action=retry_all>
                <button
                    type="submit"
                    id="retry-all-failed"
                    disabled=!has_failed
                    class="rounded-lg bg-ink px-3 py-1.5 text-sm font-semibold text-white hover:bg-ink-hover disabled:opacity-50"
                >
                    "Retry all failed"
                </button>
            </ActionForm>
        </div>
        {outcome}
        <JobTable jobs=page.jobs retry />
        <LastReconcile run=page.last_reconcile />
    }
}

#[component]
fn JobTable(jobs: Vec<SyncJobView>, retry: ServerAction<RetrySync>) -> impl IntoView {
    if jobs.is_empty() {
        return view! {
            <p id="sync-jobs-empty" class="mt-6 rounded-xl bg-surface p-6 text-center text-slate-600 shadow-sm ring-1 ring-slate-200">
                "Everything is in sync: no job is waiting or failed."
            </p>
        }
        .into_any();
    }
    view! {
        <div class="mt-6 rounded-xl bg-surface shadow-sm ring-1 ring-slate-200 sm:overflow-x-auto" tabindex="0" role="region" aria-label="Sync jobs">
            <table id="sync-jobs" class="cards min-w-full divide-y divide-slate-200 text-sm">
                <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                    <tr>
                        <th scope="col" class="px-3 py-2">"System"</th>
                        <th scope="col" class="px-3 py-2">"User"</th>
                        <th scope="col" class="px-3 py-2">"State"</th>
                        <th scope="col" class="px-3 py-2 text-right">"Attempts"</th>
                        <th scope="col" class="px-3 py-2">"Next try"</th>
                        <th scope="col" class="px-3 py-2">"Last error"</th>
                        <th scope="col" class="px-3 py-2"><span class="sr-only">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">
                    {jobs.into_iter().map(|job| view! { <JobRow job retry /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn JobRow(job: SyncJobView, retry: ServerAction<RetrySync>) -> impl IntoView {
    let chip = match job.state.as_str() {
        "failed" => "bg-red-100 text-red-800",
        "retrying" => "bg-amber-100 text-amber-900",
        _ => "bg-slate-100 text-slate-700",
    };
    let who = job
        .user_email
        .clone()
        .unwrap_or_else(|| job.user_id.clone());
    let (form_system, form_user) = (job.system.clone(), job.user_id.clone());
    view! {
        <tr data-system=job.system.clone() data-user=job.user_id.clone() data-state=job.state.clone()>
            <td data-label="System" class="px-3 py-2 font-medium capitalize">{job.system.clone()}</td>
            <td data-label="User" class="px-3 py-2">{who}</td>
            <td data-label="State" class="px-3 py-2"><span class=format!("rounded-full px-2 py-0.5 text-xs font-semibold {chip}")>{job.state.clone()}</span></td>
            <td data-label="Attempts" class="whitespace-nowrap px-3 py-2 text-right tabular-nums">{format!("{} / {}", job.attempts, job.max_attempts)}</td>
            <td data-label="Next try" class="whitespace-nowrap px-3 py-2 text-slate-600">{job.next_try_at.clone().unwrap_or_default()}</td>
            <td data-label="Last error" class="max-w-md px-3 py-2 text-slate-700">{job.last_error.clone().unwrap_or_default()}</td>
            <td class="px-3 py-2">
                <ActionForm action=retry>
                    <input type="hidden" name="system" value=form_system.clone() />
                    <input type="hidden" name="user_id" value=form_user.clone() />
                    <button type="submit" data-role="retry" class="rounded-lg border border-slate-300 px-2 py-1 text-xs font-semibold hover:bg-slate-50">
                        "Retry now"
                    </button>
                </ActionForm>
            </td>
        </tr>
    }
}

#[component]
fn LastReconcile(run: Option<ReconcileRunView>) -> impl IntoView {
    let body = match run {
        None => view! { <p class="mt-1 text-sm text-slate-600">"No reconcile has run yet."</p> }
            .into_any(),
        Some(run) => {
            let when = match &run.finished_at {
                Some(finished) => {
                    format!("Started {} UTC, finished {} UTC.", run.started_at, finished)
                }
                None => format!("Started {} UTC; still running.", run.started_at),
            };
            let changes = if run.changes.is_empty() {
                view! { <p class="mt-2 text-sm text-slate-600">"Nothing needed correcting."</p> }
                    .into_any()
            } else {
                view! {
                    <ul class="mt-2 list-disc space-y-1 pl-5 text-sm">
                        {run.changes.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}
                    </ul>
                }
                .into_any()
            };
            view! {
                <p class="mt-1 text-sm text-slate-600">{when}</p>
                {run.error.map(|e| view! { <p class="mt-2 text-sm text-red-700" role="alert">{e}</p> })}
                {changes}
            }
            .into_any()
        }
    };
    view! {
        <section id="last-reconcile" aria-labelledby="reconcile-heading" class="mt-10 rounded-xl bg-surface p-4 shadow-sm ring-1 ring-slate-200">
            <h2 id="reconcile-heading" class="font-semibold">"Last reconcile with Stripe"</h2>
            {body}
        </section>
    }
}
