-- Who did what to a purchase or a balance, and when, with Stripe's ids.
create table audit_log (
    id                 bigserial primary key,
    occurred_at        timestamptz not null default now(),
    actor              text not null,
    action             text not null,
    user_id            uuid references users (id),
    purchase_id        uuid references credit_purchases (id),
    ledger_id          bigint references credit_ledger (id),
    stripe_event_id    text,
    stripe_object_id   text,
    details            jsonb not null default '{}'::jsonb
);

create index audit_log_purchase_idx on audit_log (purchase_id, id) where purchase_id is not null;
create index audit_log_user_idx on audit_log (user_id, id) where user_id is not null;

-- Stripe events already handled, by id, so a redelivery is a no-op.
create table stripe_webhook_events (
    event_id     text primary key,
    event_type   text not null,
    endpoint     text not null,
    received_at  timestamptz not null default now()
);
