-- Group commit for the credits webhook (issue #13): many paid checkouts
-- fulfilled in one transaction, one round trip, one commit.
--
-- `fulfil_checkouts` takes the common case only: a `pending` purchase whose
-- payment matches it (amount, currency, mode). For each item it records the
-- event for the `credits` endpoint, completes the purchase, appends the
-- ledger row (whose triggers move the balance and make the grant) and writes
-- the audit row, exactly as `purchases::fulfil_on` does. Every other item
-- (a duplicate event aside) is answered `fallback` with nothing written, and
-- the caller handles it on the one-event path, which knows every case.
--
-- Items are taken in one global order (the purchase's user, then the
-- session, then the event), so two batches lock the same rows in the same
-- order and never deadlock each other; of one event twice in a batch, the
-- first is applied and the second is a duplicate.
create function fulfil_checkouts(
    p_events     text[],
    p_types      text[],
    p_sessions   text[],
    p_intents    text[],
    p_amounts    bigint[],
    p_currencies text[],
    p_livemodes  boolean[],
    p_our_livemode boolean
) returns table (item int, outcome text, purchase uuid, buyer uuid, credits bigint)
language plpgsql as $$
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

        select c.id, c.user_id, c.status, c.amount_paid_cents, c.currency,
               c.amount_credits, c.package_name
          into p
          from credit_purchases c
         where c.stripe_checkout_session_id = p_sessions[i]
           for update;
        if not found
           or p.status <> 'pending'
           or p_livemodes[i] is distinct from p_our_livemode
           or p_currencies[i] is null
           or lower(p_currencies[i]) <> lower(p.currency)
           or p_amounts[i] is distinct from p.amount_paid_cents then
            -- Not the common case: leave no trace for the one-event path.
            delete from stripe_webhook_events
             where event_id = p_events[i] and endpoint = 'credits';
            outcome := 'fallback';
            return next;
            continue;
        end if;

        purchase := p.id;
        buyer := p.user_id;
        update credit_purchases
           set status = 'completed', completed_at = now(), updated_at = now(),
               stripe_payment_intent_id = coalesce(p_intents[i], stripe_payment_intent_id)
         where id = p.id;
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
