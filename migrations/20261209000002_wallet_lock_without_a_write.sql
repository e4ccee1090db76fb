-- `wallet_lock`, the first step of every spend, capture and expiry sweep,
-- took the user's balance row with the no-op upsert the ledger's trigger
-- used before `…_lighter_fulfilment.sql`: a new version of the row on every
-- call, before the ledger row's own update of it. Now it only locks the row,
-- creating it at zero first if the user has none.
create or replace function wallet_lock(p_user uuid) returns void
language plpgsql as $$
begin
    perform from credit_balances where user_id = p_user for update;
    if not found then
        insert into credit_balances (user_id, balance) values (p_user, 0)
        on conflict (user_id) do nothing;
        perform from credit_balances where user_id = p_user for update;
    end if;
end;
$$;
