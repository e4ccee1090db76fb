-- Keycloak and Lago syncs (backend::sync). The jobs themselves live in the
-- job crate's own schema (`underway`, migrated by the app after these);
-- here is what we remember about what reached each system.

-- What Lago holds for each subscription: the plan code it was last given
-- (null: never created there) and whether it was terminated there.
alter table subscriptions
    add column lago_plan_code text,
    add column lago_terminated boolean not null default false;

-- The last outcome of each user's sync to each system, for the admin views.
create table user_syncs (
    user_id        uuid        not null references users (id),
    target         text        not null check (target in ('keycloak', 'lago')),
    last_synced_at timestamptz,
    last_error     text,
    last_error_at  timestamptz,
    primary key (user_id, target)
);

-- Each reconcile run: when, and what it changed.
create table reconcile_runs (
    id          bigserial   primary key,
    started_at  timestamptz not null default now(),
    finished_at timestamptz,
    changes     jsonb       not null default '[]'::jsonb,
    error       text
);
create index reconcile_runs_recent on reconcile_runs (started_at desc);

-- The reconcile job's look for purchases still pending (few, among many).
create index credit_purchases_pending on credit_purchases (created_at)
    where status = 'pending';
