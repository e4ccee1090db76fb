-- Indexes behind the admin dashboard (backend::admin): every filter and sort
-- of the purchase table pages by keyset (sort key, id) on an index, and the
-- figures find completed purchases by completion time. The existing
-- (created_at desc, id desc) and (status, created_at desc, id desc) indexes
-- back the date sort; b-tree indexes are read backwards for ascending sorts.

-- Sorting by amount, with and without a status filter.
create index credit_purchases_amount_idx on credit_purchases (amount_paid_cents desc, id desc);
create index credit_purchases_status_amount_idx
    on credit_purchases (status, amount_paid_cents desc, id desc);

-- Filtering by package, newest first.
create index credit_purchases_package_created_idx
    on credit_purchases (package_code, created_at desc, id desc);

-- Figures, the daily chart and sales by package: purchases completed in a
-- period, and checkouts started in a period (conversion). Covering, so the
-- sums are index-only scans.
create index credit_purchases_completed_idx on credit_purchases (completed_at)
    include (status, amount_paid_cents, refunded_cents, amount_credits, package_code)
    where completed_at is not null;
create index credit_purchases_created_status_idx on credit_purchases (created_at) include (status);

-- User search (e-mail or name substring) uses trigram indexes when the
-- pg_trgm extension can be created (it is a trusted extension from
-- PostgreSQL 13, but the contrib package may be missing). Without it the
-- search scans `users`, which is small next to `credit_purchases`.
do $$
begin
    create extension if not exists pg_trgm;
exception when others then
    raise notice 'pg_trgm is unavailable (%); admin user search will scan users', sqlerrm;
end;
$$;

do $$
begin
    if exists (select 1 from pg_extension where extname = 'pg_trgm') then
        execute 'create index users_email_trgm_idx on users using gin (email gin_trgm_ops)';
        execute 'create index users_name_trgm_idx on users using gin (name gin_trgm_ops)';
    end if;
end;
$$;
