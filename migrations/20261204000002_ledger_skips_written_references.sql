-- The balance trigger ran BEFORE INSERT and so also counted a row that
-- `insert … on conflict (reference) do nothing` then skipped: a second
-- attempt at the same grant left the ledger right and the balance too high.
--
-- Now the BEFORE trigger only takes the user's balance row (serialising
-- that user's appends) and works out `balance_after`; the balance itself is
-- changed by an AFTER INSERT trigger, which runs only for a row that was
-- really inserted. A plain duplicate insert is still a unique violation.
create or replace function credit_ledger_apply() returns trigger
language plpgsql as $$
declare
    current bigint;
begin
    insert into credit_balances (user_id, balance) values (new.user_id, 0)
    on conflict (user_id) do nothing;
    select balance into current from credit_balances where user_id = new.user_id for update;
    new.balance_after := current + new.amount;
    return new;
end;
$$;

create function credit_ledger_count() returns trigger
language plpgsql as $$
begin
    update credit_balances set balance = balance + new.amount, updated_at = now()
    where user_id = new.user_id;
    return null;
end;
$$;

create trigger credit_ledger_count
    after insert on credit_ledger
    for each row execute function credit_ledger_count();
