-- The wallet: every credit in a balance belongs to a grant, every debit
-- records the grants that funded it, holds reserve credits for work whose
-- cost is known only at the end, and the spend API's idempotency keys.
--
-- The ledger stays the one source of the balance. Grants are kept by an
-- AFTER INSERT trigger on credit_ledger, in the same transaction as the
-- ledger row, whatever code wrote it:
--   * a positive row is a new grant (its kind from the row or its source),
--     which first repays any open debt of the user;
--   * a negative row takes from grants: an expiry row from its one grant;
--     a refund or dispute from the purchase's own grant first; then (and
--     every other debit) the soonest-expiring grant first, granted kinds
--     before paid at the same expiry. A refund, dispute or adjustment that
--     finds too little leaves a debt; a spend never does (it is refused).
-- Locks are always taken in the same order: the user's credit_balances row
-- (by the BEFORE trigger or the wallet functions), then their grants.
-- Invariants (backend::wallet::audit checks them):
--   balance = sum(grant remaining) - sum(open debt)
--   grant.remaining = grant.amount - sum(its uses)
--   a debit's uses + its open debt = -amount

alter table credit_ledger drop constraint credit_ledger_source_check;
alter table credit_ledger add constraint credit_ledger_source_check
    check (source in ('purchase', 'refund', 'adjustment', 'usage', 'dispute',
                      'subscription_allowance', 'promotional', 'expiry'));

alter table credit_ledger
    -- a positive row's grant kind when its source does not say it
    add column grant_kind text,
    -- a positive row's grant expiry
    add column expires_at timestamptz,
    -- an expiry row: the grant whose remainder it takes back
    add column grant_id uuid,
    -- a captured hold's debit
    add column hold_id uuid,
    -- the service that spent (metadata.service, else its client id)
    add column service text,
    add column metadata jsonb;

-- the activity list: newest first by time
create index credit_ledger_user_created_idx on credit_ledger (user_id, created_at desc, id desc);
create index credit_ledger_user_service_idx on credit_ledger (user_id, service, id desc)
    where service is not null;

alter table subscription_tiers
    add column allowance_rolls_over boolean not null default false;
update subscription_tiers set allowance_rolls_over = true where tier_code = 'enterprise';

create table credit_grants (
    id          uuid primary key default gen_random_uuid(),
    user_id     uuid not null references users (id),
    kind        text not null,
    amount      bigint not null,
    remaining   bigint not null,
    expires_at  timestamptz,
    -- the row that granted it; null only for the opening balance below
    ledger_id   bigint references credit_ledger (id),
    purchase_id uuid references credit_purchases (id),
    created_at  timestamptz not null default now(),
    constraint credit_grants_ledger_key unique (ledger_id),
    constraint credit_grants_kind_check check (kind in ('paid', 'allowance', 'promotional', 'adjustment')),
    constraint credit_grants_amount_check check (amount > 0),
    constraint credit_grants_remaining_check check (remaining >= 0 and remaining <= amount)
);

-- debit order, for the grants that still hold credits
create index credit_grants_open_idx on credit_grants (user_id, expires_at, (kind = 'paid'), created_at, id)
    where remaining > 0;
create index credit_grants_due_idx on credit_grants (expires_at)
    where remaining > 0 and expires_at is not null;
create index credit_grants_purchase_idx on credit_grants (purchase_id) where purchase_id is not null;

alter table credit_ledger add constraint credit_ledger_grant_fkey
    foreign key (grant_id) references credit_grants (id);

-- Which grants funded which debit, and by how much.
create table credit_grant_uses (
    ledger_id bigint not null references credit_ledger (id),
    grant_id  uuid not null references credit_grants (id),
    amount    bigint not null,
    primary key (ledger_id, grant_id),
    constraint credit_grant_uses_amount_check check (amount > 0)
);
create index credit_grant_uses_grant_idx on credit_grant_uses (grant_id);

-- What a refund, dispute or adjustment took beyond the user's credits:
-- repaid by the next grants, oldest debt first; spending waits until then.
create table credit_debts (
    ledger_id  bigint primary key references credit_ledger (id),
    user_id    uuid not null references users (id),
    amount     bigint not null,
    outstanding bigint not null,
    created_at timestamptz not null default now(),
    constraint credit_debts_amount_check check (amount > 0),
    constraint credit_debts_outstanding_check check (outstanding >= 0 and outstanding <= amount)
);
create index credit_debts_open_idx on credit_debts (user_id, ledger_id) where outstanding > 0;

create table credit_holds (
    id          uuid primary key default gen_random_uuid(),
    user_id     uuid not null references users (id),
    client_id   text not null,
    amount      bigint not null,
    status      text not null default 'open',
    captured    bigint,
    ledger_id   bigint references credit_ledger (id),
    service     text not null,
    description text not null default '',
    metadata    jsonb not null default '{}',
    expires_at  timestamptz not null,
    created_at  timestamptz not null default now(),
    settled_at  timestamptz,
    constraint credit_holds_amount_check check (amount > 0),
    constraint credit_holds_status_check check (status in ('open', 'captured', 'released', 'expired')),
    constraint credit_holds_captured_check check (captured is null or (captured >= 0 and captured <= amount)),
    constraint credit_holds_settled_check check ((status = 'open') = (settled_at is null))
);
create index credit_holds_open_idx on credit_holds (user_id) include (amount, expires_at) where status = 'open';
create index credit_holds_due_idx on credit_holds (expires_at) where status = 'open';
create index credit_holds_user_idx on credit_holds (user_id, created_at desc, id desc);

alter table credit_ledger add constraint credit_ledger_hold_fkey
    foreign key (hold_id) references credit_holds (id);

-- The first answer to each (client, Idempotency-Key): replayed for the
-- same request, refused for another. Kept at least 24 hours.
create table wallet_requests (
    client_id    text not null,
    key          text not null,
    operation    text not null,
    request_hash text not null,
    outcome      text not null default 'pending',
    ledger_id    bigint references credit_ledger (id),
    hold_id      uuid references credit_holds (id),
    available    bigint,
    created_at   timestamptz not null default now(),
    primary key (client_id, key),
    constraint wallet_requests_operation_check check (operation in ('spend', 'hold')),
    constraint wallet_requests_outcome_check check (outcome in ('pending', 'done', 'insufficient', 'in_debt'))
);
create index wallet_requests_created_idx on wallet_requests (created_at);

-- Ledger rows up to here predate grants (backend::wallet::audit checks
-- the rows after it).
create table wallet_epoch (first_ledger_id bigint not null);
insert into wallet_epoch select coalesce(max(id), 0) from credit_ledger;

-- Opening balances: what users hold now becomes one paid grant each (a
-- negative balance one debt on their latest debit).
insert into credit_grants (user_id, kind, amount, remaining)
select user_id, 'paid', balance, balance from credit_balances where balance > 0;
insert into credit_debts (ledger_id, user_id, amount, outstanding)
select (select max(l.id) from credit_ledger l where l.user_id = b.user_id and l.amount < 0),
       b.user_id, -b.balance, -b.balance
from credit_balances b where b.balance < 0;

create function credit_ledger_fund() returns trigger
language plpgsql as $$
declare
    need  bigint;
    take  bigint;
    granted uuid;
    g     record;
begin
    if new.amount > 0 then
        insert into credit_grants (user_id, kind, amount, remaining, expires_at, ledger_id, purchase_id, created_at)
        values (new.user_id,
                coalesce(new.grant_kind, case new.source
                    when 'purchase' then 'paid'
                    when 'refund' then 'paid'
                    when 'dispute' then 'paid'
                    when 'subscription_allowance' then 'allowance'
                    when 'promotional' then 'promotional'
                    else 'adjustment' end),
                new.amount, new.amount, new.expires_at, new.id, new.purchase_id, new.created_at)
        returning id into granted;
        need := new.amount;
        for g in select ledger_id, outstanding from credit_debts
                 where user_id = new.user_id and outstanding > 0 order by ledger_id for update
        loop
            take := least(need, g.outstanding);
            update credit_debts set outstanding = outstanding - take where ledger_id = g.ledger_id;
            insert into credit_grant_uses (ledger_id, grant_id, amount) values (g.ledger_id, granted, take);
            need := need - take;
            exit when need = 0;
        end loop;
        if need < new.amount then
            update credit_grants set remaining = need where id = granted;
        end if;
        return null;
    end if;

    need := -new.amount;
    if new.grant_id is not null then
        select remaining into take from credit_grants
        where id = new.grant_id and user_id = new.user_id for update;
        if take is distinct from need then
            raise exception 'expiry of grant % takes %, but it holds %', new.grant_id, need, take;
        end if;
        update credit_grants set remaining = 0 where id = new.grant_id;
        insert into credit_grant_uses (ledger_id, grant_id, amount) values (new.id, new.grant_id, need);
        return null;
    end if;

    for g in select id, remaining from credit_grants
             where user_id = new.user_id and remaining > 0
               -- a spend never uses an expired grant (the sweep takes it
               -- back); a take-back may
               and (new.source <> 'usage' or expires_at is null or expires_at > now())
             order by (new.source in ('refund', 'dispute') and new.purchase_id is not null
                       and purchase_id is not distinct from new.purchase_id) desc,
                      expires_at, (kind = 'paid'), created_at, id
             for update
    loop
        take := least(need, g.remaining);
        update credit_grants set remaining = remaining - take where id = g.id;
        insert into credit_grant_uses (ledger_id, grant_id, amount) values (new.id, g.id, take);
        need := need - take;
        exit when need = 0;
    end loop;
    if need > 0 then
        if new.source = 'usage' then
            raise exception 'a spend of % by user % is not covered by their grants', -new.amount, new.user_id;
        end if;
        insert into credit_debts (ledger_id, user_id, amount, outstanding, created_at)
        values (new.id, new.user_id, need, need, new.created_at);
    end if;
    return null;
end;
$$;

create trigger credit_ledger_fund
    after insert on credit_ledger
    for each row execute function credit_ledger_fund();

-- What the user can spend now, with their balance row already locked:
-- unexpired grants, less open unexpired holds (other than `except_hold`),
-- less open debt.
create function wallet_available(p_user uuid, p_except_hold uuid default null) returns bigint
language sql stable as $$
    select coalesce((select sum(remaining) from credit_grants
                     where user_id = p_user and remaining > 0
                       and (expires_at is null or expires_at > now())), 0)
         - coalesce((select sum(amount) from credit_holds
                     where user_id = p_user and status = 'open' and expires_at > now()
                       and id is distinct from p_except_hold), 0)
         - coalesce((select sum(outstanding) from credit_debts where user_id = p_user and outstanding > 0), 0)
$$;

-- Locks the user's balance row (creating it at zero), the first lock of
-- every wallet change.
create function wallet_lock(p_user uuid) returns void
language sql as $$
    insert into credit_balances as b (user_id, balance) values (p_user, 0)
    on conflict (user_id) do update set balance = b.balance
$$;

-- Claims (client, key) for a request of `p_user`. Answers the row with
-- outcome `claimed` (go on), `unknown_user`, `mismatch` (the key was first
-- used for another request), or the first request's stored outcome
-- (replay it).
create function wallet_claim(p_client text, p_key text, p_operation text, p_hash text, p_user uuid)
returns wallet_requests
language plpgsql as $$
declare
    r wallet_requests;
begin
    -- An unknown user is refused here, in the same round trip; nothing is kept.
    if not exists (select 1 from users u where u.id = p_user) then
        r.outcome := 'unknown_user';
        return r;
    end if;
    insert into wallet_requests (client_id, key, operation, request_hash)
    values (p_client, p_key, p_operation, p_hash)
    on conflict do nothing
    returning * into r;
    if found then
        r.outcome := 'claimed';
        return r;
    end if;
    -- another request took this key (and committed: the insert waited)
    select * into r from wallet_requests where client_id = p_client and key = p_key;
    if r.operation <> p_operation or r.request_hash <> p_hash then
        r.outcome := 'mismatch';
        r.ledger_id := null;
        r.hold_id := null;
        r.available := null;
    end if;
    return r;
end;
$$;

-- Locks the user's balance row and answers what they can spend; when that
-- is less than `p_amount`, also the refusal (`in_debt` while a debt is
-- open, else `insufficient`), stored for replays of the claimed key.
create function wallet_check(p_client text, p_key text, p_user uuid, p_amount bigint,
                             out refusal text, out available bigint)
language plpgsql as $$
begin
    perform wallet_lock(p_user);
    available := wallet_available(p_user);
    if available >= p_amount then
        return;
    end if;
    refusal := case when exists (select 1 from credit_debts d where d.user_id = p_user and d.outstanding > 0)
                    then 'in_debt' else 'insufficient' end;
    available := greatest(available, 0);
    update wallet_requests w set outcome = refusal, available = wallet_check.available
    where w.client_id = p_client and w.key = p_key;
end;
$$;

-- The grants that funded a debit, as the API shows them.
create function wallet_funding(p_ledger bigint) returns jsonb
language sql stable as $$
    select coalesce(jsonb_agg(jsonb_build_object('grant_id', u.grant_id, 'kind', g.kind, 'amount', u.amount)
                              order by g.expires_at, (g.kind = 'paid'), g.created_at, g.id), '[]')
    from credit_grant_uses u join credit_grants g on g.id = u.grant_id
    where u.ledger_id = p_ledger
$$;

-- One spend, in one statement. Outcomes: done, insufficient, in_debt,
-- mismatch (the key was used for another request), each possibly replayed;
-- unknown_user.
create function wallet_spend(
    p_client text, p_key text, p_hash text, p_user uuid, p_amount bigint,
    p_description text, p_service text, p_metadata jsonb,
    out outcome text, out replayed boolean, out ledger_id bigint,
    out balance_after bigint, out available bigint, out funded_by jsonb)
language plpgsql as $$
declare
    r wallet_requests;
begin
    r := wallet_claim(p_client, p_key, 'spend', p_hash, p_user);
    outcome := r.outcome;
    replayed := outcome not in ('claimed', 'unknown_user');
    if outcome <> 'claimed' then
        ledger_id := r.ledger_id;
        available := r.available;
        if ledger_id is not null then
            select l.balance_after into balance_after from credit_ledger l where l.id = ledger_id;
            funded_by := wallet_funding(ledger_id);
        end if;
        return;
    end if;

    select c.refusal, c.available into outcome, available
    from wallet_check(p_client, p_key, p_user, p_amount) c;
    if outcome is not null then
        return;
    end if;
    insert into credit_ledger (user_id, amount, source, reference, description, service, metadata)
    values (p_user, -p_amount, 'usage', 'spend:' || p_client || ':' || p_key, p_description, p_service, p_metadata)
    returning id, credit_ledger.balance_after into ledger_id, balance_after;
    available := available - p_amount;
    outcome := 'done';
    funded_by := wallet_funding(ledger_id);
    update wallet_requests w set outcome = 'done', ledger_id = wallet_spend.ledger_id,
                                 available = wallet_spend.available
    where w.client_id = p_client and w.key = p_key;
end;
$$;

-- Reserves credits for `p_ttl_seconds`. Outcomes as wallet_spend.
create function wallet_hold(
    p_client text, p_key text, p_hash text, p_user uuid, p_amount bigint, p_ttl_seconds integer,
    p_description text, p_service text, p_metadata jsonb,
    out outcome text, out replayed boolean, out hold_id uuid, out expires_at timestamptz,
    out available bigint)
language plpgsql as $$
declare
    r wallet_requests;
begin
    r := wallet_claim(p_client, p_key, 'hold', p_hash, p_user);
    outcome := r.outcome;
    replayed := outcome not in ('claimed', 'unknown_user');
    if outcome <> 'claimed' then
        hold_id := r.hold_id;
        available := r.available;
        select h.expires_at into expires_at from credit_holds h where h.id = hold_id;
        return;
    end if;

    select c.refusal, c.available into outcome, available
    from wallet_check(p_client, p_key, p_user, p_amount) c;
    if outcome is not null then
        return;
    end if;
    insert into credit_holds (user_id, client_id, amount, service, description, metadata, expires_at)
    values (p_user, p_client, p_amount, p_service, p_description, p_metadata,
            now() + make_interval(secs => p_ttl_seconds))
    returning id, credit_holds.expires_at into hold_id, expires_at;
    available := available - p_amount;
    outcome := 'done';
    update wallet_requests w set outcome = 'done', hold_id = wallet_hold.hold_id,
                                 available = wallet_hold.available
    where w.client_id = p_client and w.key = p_key;
end;
$$;

-- Captures `p_amount` of an open hold of `p_client` and releases the rest.
-- Outcomes: done (also for a repeat of the same capture), unknown,
-- not_open, expired, too_much, insufficient.
create function wallet_capture(
    p_client text, p_hold uuid, p_amount bigint,
    out outcome text, out hold_amount bigint, out ledger_id bigint,
    out balance_after bigint, out available bigint, out funded_by jsonb, out status text)
language plpgsql as $$
declare
    h credit_holds;
begin
    select * into h from credit_holds where id = p_hold and client_id = p_client;
    if not found then
        outcome := 'unknown';
        return;
    end if;
    perform wallet_lock(h.user_id);
    select * into h from credit_holds where id = p_hold for update;
    hold_amount := h.amount;
    status := h.status;
    if h.status = 'open' and h.expires_at <= now() then
        update credit_holds set status = 'expired', settled_at = now() where id = p_hold;
        status := 'expired';
        outcome := 'expired';
        return;
    end if;
    if h.status = 'captured' and h.captured = p_amount then
        outcome := 'done';
        ledger_id := h.ledger_id;
        available := greatest(wallet_available(h.user_id), 0);
        if ledger_id is not null then
            select l.balance_after into balance_after from credit_ledger l where l.id = ledger_id;
            funded_by := wallet_funding(ledger_id);
        else
            select b.balance into balance_after from credit_balances b where b.user_id = h.user_id;
            funded_by := '[]';
        end if;
        return;
    end if;
    if h.status <> 'open' then
        outcome := case h.status when 'expired' then 'expired' else 'not_open' end;
        return;
    end if;
    if p_amount > h.amount then
        outcome := 'too_much';
        return;
    end if;
    available := wallet_available(h.user_id, p_hold);
    if available < p_amount then
        outcome := 'insufficient';
        available := greatest(available, 0);
        return;
    end if;
    if p_amount > 0 then
        insert into credit_ledger (user_id, amount, source, reference, description, hold_id, service, metadata)
        values (h.user_id, -p_amount, 'usage', 'hold:' || p_hold, h.description, p_hold, h.service, h.metadata)
        returning id, credit_ledger.balance_after into ledger_id, balance_after;
        funded_by := wallet_funding(ledger_id);
    else
        select b.balance into balance_after from credit_balances b where b.user_id = h.user_id;
        funded_by := '[]';
    end if;
    update credit_holds set status = 'captured', captured = p_amount,
                            ledger_id = wallet_capture.ledger_id, settled_at = now()
    where id = p_hold;
    status := 'captured';
    available := available - p_amount;
    outcome := 'done';
end;
$$;

-- Takes back the unused remainder of one expired grant, once: the
-- ledger reference is unique and the remainder is read under the locks.
-- Answers the credits taken back, or null when there was nothing to do.
create function wallet_expire_grant(p_grant uuid) returns bigint
language plpgsql as $$
declare
    g credit_grants;
    entry bigint;
begin
    select * into g from credit_grants where credit_grants.id = p_grant;
    if not found or g.remaining = 0 or g.expires_at is null or g.expires_at > now() then
        return null;
    end if;
    perform wallet_lock(g.user_id);
    select * into g from credit_grants where credit_grants.id = p_grant for update;
    if g.remaining = 0 then
        return null;
    end if;
    insert into credit_ledger (user_id, amount, source, reference, description, grant_id)
    values (g.user_id, -g.remaining, 'expiry', 'expiry:' || p_grant,
            'Unused credits expired', p_grant)
    on conflict on constraint credit_ledger_reference_key do nothing
    returning credit_ledger.id into entry;
    if entry is null then
        return null;
    end if;
    return g.remaining;
end;
$$;
