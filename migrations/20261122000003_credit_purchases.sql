-- One row per checkout started. The package is copied as it was at that
-- moment, so later catalogue changes never alter what a purchase grants.
create table credit_purchases (
    id                         uuid primary key default gen_random_uuid(),
    user_id                    uuid not null references users (id),
    package_id                 uuid references credit_packages (id),
    package_code               text not null,
    package_name               text not null,
    amount_credits             bigint not null,
    amount_paid_cents          bigint not null,
    discount_percentage        integer not null default 0,
    currency                   text not null default 'usd',
    status                     text not null default 'pending',
    refunded_cents             bigint not null default 0,
    stripe_customer_id         text,
    stripe_checkout_session_id text,
    stripe_payment_intent_id   text,
    created_at                 timestamptz not null default now(),
    completed_at               timestamptz,
    updated_at                 timestamptz not null default now(),
    constraint credit_purchases_stripe_checkout_session_id_key unique (stripe_checkout_session_id),
    constraint credit_purchases_status_check
        check (status in ('pending', 'completed', 'failed', 'expired', 'refunded', 'partially_refunded')),
    constraint credit_purchases_amount_credits_check check (amount_credits > 0),
    constraint credit_purchases_amount_paid_check check (amount_paid_cents >= 0),
    constraint credit_purchases_refunded_check check (refunded_cents between 0 and amount_paid_cents)
);

-- A user's history, newest first; the admin list across users; filters by status.
create index credit_purchases_user_created_idx on credit_purchases (user_id, created_at desc, id desc);
create index credit_purchases_created_idx on credit_purchases (created_at desc, id desc);
create index credit_purchases_status_created_idx on credit_purchases (status, created_at desc, id desc);
create index credit_purchases_payment_intent_idx on credit_purchases (stripe_payment_intent_id)
    where stripe_payment_intent_id is not null;
