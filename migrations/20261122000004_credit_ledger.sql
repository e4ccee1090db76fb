-- Every change to a balance is one append-only ledger row with a unique
-- reference (e.g. the checkout session it came from), so the same grant can
-- never be written twice. credit_balances is kept by trigger in the same
-- transaction and always equals the sum of the ledger.
create table credit_balances (
    user_id    uuid primary key references users (id),
    balance    bigint not null default 0,
    updated_at timestamptz not null default now()
);

create table credit_ledger (
    id            bigserial primary key,
    user_id       uuid not null references users (id),
    amount        bigint not null,
    source        text not null,
    reference     text not null,
    purchase_id   uuid references credit_purchases (id),
    description   text not null default '',
    balance_after bigint not null default 0,
    created_at    timestamptz not null default now(),
    constraint credit_ledger_reference_key unique (reference),
    constraint credit_ledger_amount_check check (amount <> 0),
    constraint credit_ledger_source_check check (source in ('purchase', 'refund', 'adjustment', 'usage'))
);

create index credit_ledger_user_idx on credit_ledger (user_id, id desc);
create index credit_ledger_purchase_idx on credit_ledger (purchase_id) where purchase_id is not null;

create function credit_ledger_apply() returns trigger
language plpgsql as $$
begin
    insert into credit_balances as b (user_id, balance)
    values (new.user_id, new.amount)
    on conflict (user_id) do update
        set balance = b.balance + excluded.balance, updated_at = now()
    returning b.balance into new.balance_after;
    return new;
end;
$$;

create trigger credit_ledger_apply
    before insert on credit_ledger
    for each row execute function credit_ledger_apply();

create function credit_ledger_append_only() returns trigger
language plpgsql as $$
begin
    raise exception 'credit_ledger is append-only: % is not allowed', tg_op;
end;
$$;

create trigger credit_ledger_append_only
    before update or delete or truncate on credit_ledger
    for each statement execute function credit_ledger_append_only();
