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
    -- One statement: creates the row if need be, and locks it either way.
    insert into credit_balances as b (user_id, balance) values (new.user_id, 0)
    on conflict (user_id) do update set balance = b.balance
    returning b.balance into current;
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
