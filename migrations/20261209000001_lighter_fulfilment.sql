-- Less database work per paid checkout (issue #13). pg_waldump and
-- auto_explain on one-item `fulfil_checkouts` calls showed three writes that
-- change nothing anyone reads:
--
-- 1. The ledger's BEFORE trigger locked the user's balance row with a no-op
--    upsert (`on conflict do update set balance = b.balance`), and so did
--    `wallet_lock`, the first step of every spend, capture and expiry
--    sweep. That writes a new version of the row (a lock record, an update
--    record and later a prune), and because that version is the
--    transaction's own, the AFTER trigger's real update then re-ran the
--    foreign-key check on users. `wallet_lock` now takes the same lock with
--    `select … for update`, which writes only the lock, and answers the
--    balance; the trigger calls it.
-- 2. Two AFTER INSERT triggers on the ledger (`credit_ledger_count`, then
--    `credit_ledger_fund`) are one now: one trigger call per row, not two.
-- 3. `fulfil_checkouts` locked the purchase (`select … for update`), then
--    updated it: a lock record, then the update. The update now finds,
--    checks and changes the row in one statement; when no row matches, the
--    item falls back exactly as before, with nothing written.

-- Locks the user's balance row, creating it at zero first if the user has
-- none, and answers their balance.
drop function wallet_lock(uuid);
create function wallet_lock(p_user uuid) returns bigint
language plpgsql as $$
declare
    current bigint;
begin
    select balance into current from credit_balances where user_id = p_user for update;
    if not found then
        insert into credit_balances (user_id, balance) values (p_user, 0)
        on conflict (user_id) do nothing;
        select balance into current from credit_balances where user_id = p_user for update;
    end if;
    return current;
end;
$$;

create or replace function credit_ledger_apply() returns trigger
language plpgsql as $$
begin
    -- Serialises this user's appends.
    new.balance_after := wallet_lock(new.user_id) + new.amount;
    return new;
end;
$$;

-- The balance moves in the AFTER trigger that makes the grant: only for a
-- row really inserted (not one `on conflict do nothing` skipped).
drop trigger credit_ledger_count on credit_ledger;
drop function credit_ledger_count();

create or replace function credit_ledger_fund() returns trigger
language plpgsql as $$
declare
    need  bigint;
    take  bigint;
    granted uuid;
    g     record;
begin
    update credit_balances set balance = balance + new.amount, updated_at = now()
    where user_id = new.user_id;

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

-- (Generic plans, as `…_fulfilment_costs.sql` set: a replaced function
-- keeps only the settings its definition names.)
create or replace function fulfil_checkouts(
    p_events     text[],
    p_types      text[],
    p_sessions   text[],
    p_intents    text[],
    p_amounts    bigint[],
    p_currencies text[],
    p_livemodes  boolean[],
    p_our_livemode boolean
) returns table (item int, outcome text, purchase uuid, buyer uuid, credits bigint)
language plpgsql
set plan_cache_mode = force_generic_plan
as $$
declare
    i int;
    p record;
    v_ledger bigint;
begin
    for i in
        select s.i::int
        from unnest(p_sessions) with ordinality as s(session, i)
        left join credit_purchases c on c.stripe_checkout_session_id = s.session
        order by c.user_id nulls last, s.session, p_events[s.i::int], s.i
    loop
        item := i;
        purchase := null;
        buyer := null;
        credits := null;
        insert into stripe_webhook_events (event_id, event_type, endpoint)
        values (p_events[i], p_types[i], 'credits')
        on conflict (event_id, endpoint) do nothing;
        if not found then
            outcome := 'duplicate';
            return next;
            continue;
        end if;

        update credit_purchases c
           set status = 'completed', completed_at = now(), updated_at = now(),
               stripe_payment_intent_id = coalesce(p_intents[i], c.stripe_payment_intent_id)
         where c.stripe_checkout_session_id = p_sessions[i]
           and c.status = 'pending'
           and p_livemodes[i] is not distinct from p_our_livemode
           and lower(p_currencies[i]) = lower(c.currency)
           and p_amounts[i] = c.amount_paid_cents
        returning c.id, c.user_id, c.amount_credits, c.package_name into p;
        if not found then
            -- Not the common case: leave no trace for the one-event path.
            delete from stripe_webhook_events
             where event_id = p_events[i] and endpoint = 'credits';
            outcome := 'fallback';
            return next;
            continue;
        end if;

        purchase := p.id;
        buyer := p.user_id;
        v_ledger := null;
        insert into credit_ledger (user_id, amount, source, reference, purchase_id, description)
        values (p.user_id, p.amount_credits, 'purchase', 'checkout_session:' || p_sessions[i],
                p.id, 'Purchase of ' || p.package_name)
        on conflict on constraint credit_ledger_reference_key do nothing
        returning id into v_ledger;
        if v_ledger is null then
            -- Granted before (an admin's review wrote it): complete, no grant.
            outcome := 'already_settled';
            return next;
            continue;
        end if;
        insert into audit_log (actor, action, user_id, purchase_id, ledger_id, stripe_event_id, details)
        values ('stripe_webhook', 'purchase.completed', p.user_id, p.id, v_ledger, p_events[i],
                jsonb_build_object('session', p_sessions[i], 'payment_intent', p_intents[i],
                                   'credits', p.amount_credits));
        credits := p.amount_credits;
        outcome := 'applied';
        return next;
    end loop;
end;
$$;
