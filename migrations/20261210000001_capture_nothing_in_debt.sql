-- Capturing nothing of a hold (capture 0) releases it whole and moves no
-- credits, so it cannot be short of them. `wallet_capture` compared the
-- amount with what the user has available even then, and a user in debt
-- (available below zero, after a refund took back spent credits) was told
-- `insufficient`: the hold stayed open until it expired. Found by the
-- wallet's model test (tests/api/wallet.rs). Only the availability check
-- changes: it applies to a capture of more than nothing.
create or replace function wallet_capture(
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
    if p_amount > 0 and available < p_amount then
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
    available := greatest(available - p_amount, 0);
    outcome := 'done';
end;
$$;
