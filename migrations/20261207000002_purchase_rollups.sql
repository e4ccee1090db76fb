-- Daily rollups of credit_purchases for the admin figures and counts
-- (issue #13): a 90-day period reads a few thousand rollup rows instead of
-- scanning every purchase in it, and the table's count reads them too.
--
-- Each purchase contributes, under its (package code, package name, status):
--   - on the UTC day it was created: `started` = 1;
--   - if it was paid (completed, partially refunded, refunded, disputed) and
--     has completed: on the UTC day it completed, `paid` = 1 and its amount
--     paid, refunded and credits.
-- Statement triggers write the change of every insert, update and delete
-- as signed deltas into `purchase_rollup_deltas` (insert only: concurrent
-- purchases never wait on a shared counter row), grouped per statement, so a
-- bulk insert of a million rows writes a few thousand deltas. A periodic
-- `purchase_rollups_compact()` folds the deltas into `purchase_rollups`.
-- Readers sum both (`purchase_rollup_totals`), so they are exact at any time
-- and equal a recomputation from credit_purchases (a test checks it).

create table purchase_rollups (
    day             date   not null,
    package_code    text   not null,
    package_name    text   not null,
    status          text   not null,
    started         bigint not null,
    paid            bigint not null,
    revenue_cents   bigint not null,
    refunded_cents  bigint not null,
    credits         bigint not null,
    primary key (day, package_code, package_name, status)
);

-- The same columns, no key: rows are only ever appended and folded away.
create table purchase_rollup_deltas (like purchase_rollups);

-- What one purchase row adds (p_sign 1) or takes away (p_sign -1): its
-- start, and its sale if it was paid.
create function purchase_rollup_rows(p_sign int, r credit_purchases)
returns table (day date, package_code text, package_name text, status text,
               started bigint, paid bigint, revenue_cents bigint,
               refunded_cents bigint, credits bigint)
language sql immutable as $$
    select k.*
    from (values
        ((r.created_at at time zone 'UTC')::date, r.package_code, r.package_name, r.status,
         p_sign::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint),
        (case when r.status in ('completed', 'partially_refunded', 'refunded', 'disputed')
              then (r.completed_at at time zone 'UTC')::date end,
         r.package_code, r.package_name, r.status,
         0::bigint, p_sign::bigint, p_sign * r.amount_paid_cents,
         p_sign * r.refunded_cents, p_sign * r.amount_credits)
    ) k (day, package_code, package_name, status, started, paid, revenue_cents, refunded_cents, credits)
    where k.day is not null
$$;

-- The triggers: old rows out, new rows in, netted per key, nothing written
-- when nothing counted changed. The same statement three times, because a
-- transition table is visible only in its own trigger's function (and
-- static SQL keeps its plan; a bulk insert's rows are never copied into an
-- array).
create function purchase_rollup_inserted() returns trigger language plpgsql as $$
begin
    insert into purchase_rollup_deltas
    select k.day, k.package_code, k.package_name, k.status,
           sum(k.started), sum(k.paid), sum(k.revenue_cents), sum(k.refunded_cents), sum(k.credits)
    from new_rows n
    cross join lateral purchase_rollup_rows(1, n) k
    group by 1, 2, 3, 4;
    return null;
end $$;

create function purchase_rollup_updated() returns trigger language plpgsql as $$
begin
    insert into purchase_rollup_deltas
    select k.day, k.package_code, k.package_name, k.status,
           sum(k.started), sum(k.paid), sum(k.revenue_cents), sum(k.refunded_cents), sum(k.credits)
    from (
        select k.* from old_rows o cross join lateral purchase_rollup_rows(-1, o) k
        union all
        select k.* from new_rows n cross join lateral purchase_rollup_rows(1, n) k
    ) k
    group by 1, 2, 3, 4
    having sum(k.started) <> 0 or sum(k.paid) <> 0 or sum(k.revenue_cents) <> 0
        or sum(k.refunded_cents) <> 0 or sum(k.credits) <> 0;
    return null;
end $$;

create function purchase_rollup_deleted() returns trigger language plpgsql as $$
begin
    insert into purchase_rollup_deltas
    select k.day, k.package_code, k.package_name, k.status,
           sum(k.started), sum(k.paid), sum(k.revenue_cents), sum(k.refunded_cents), sum(k.credits)
    from old_rows o
    cross join lateral purchase_rollup_rows(-1, o) k
    group by 1, 2, 3, 4;
    return null;
end $$;

create function purchase_rollup_truncated() returns trigger language plpgsql as $$
begin
    delete from purchase_rollups;
    delete from purchase_rollup_deltas;
    return null;
end $$;

create trigger purchase_rollup_insert after insert on credit_purchases
    referencing new table as new_rows
    for each statement execute function purchase_rollup_inserted();
create trigger purchase_rollup_update after update on credit_purchases
    referencing old table as old_rows new table as new_rows
    for each statement execute function purchase_rollup_updated();
create trigger purchase_rollup_delete after delete on credit_purchases
    referencing old table as old_rows
    for each statement execute function purchase_rollup_deleted();
create trigger purchase_rollup_truncate after truncate on credit_purchases
    for each statement execute function purchase_rollup_truncated();

-- Folds every delta into the rollups, in one statement (so a reader sees
-- either the deltas or their sum); returns how many deltas it folded.
-- Instances may run it at once: each delta is folded by exactly one.
create function purchase_rollups_compact() returns bigint language sql as $$
    with moved as (
        delete from purchase_rollup_deltas returning *
    ), merged as (
        insert into purchase_rollups as r
        select day, package_code, package_name, status,
               sum(started), sum(paid), sum(revenue_cents), sum(refunded_cents), sum(credits)
        from moved
        group by 1, 2, 3, 4
        on conflict (day, package_code, package_name, status) do update
           set started = r.started + excluded.started,
               paid = r.paid + excluded.paid,
               revenue_cents = r.revenue_cents + excluded.revenue_cents,
               refunded_cents = r.refunded_cents + excluded.refunded_cents,
               credits = r.credits + excluded.credits
        returning 1
    )
    select count(*) from moved
$$;

create view purchase_rollup_totals as
select day, package_code, package_name, status,
       sum(started)::bigint as started,
       sum(paid)::bigint as paid,
       sum(revenue_cents)::bigint as revenue_cents,
       sum(refunded_cents)::bigint as refunded_cents,
       sum(credits)::bigint as credits
from (
    select * from purchase_rollups
    union all
    select * from purchase_rollup_deltas
) r
group by 1, 2, 3, 4;

-- What exists already.
insert into purchase_rollups
select k.day, k.package_code, k.package_name, k.status,
       sum(k.started), sum(k.paid), sum(k.revenue_cents), sum(k.refunded_cents), sum(k.credits)
from credit_purchases p
cross join lateral purchase_rollup_rows(1, p) k
group by 1, 2, 3, 4;
