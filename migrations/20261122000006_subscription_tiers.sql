-- Subscription plans, bought through Stripe Checkout in subscription mode.
create table subscription_tiers (
    id                      uuid primary key default gen_random_uuid(),
    tier_code               text not null,
    tier_name               text not null,
    description             text not null default '',
    price_monthly_cents     bigint not null,
    price_yearly_cents      bigint,
    is_active               boolean not null default true,
    display_order           integer not null default 0,
    stripe_product_id       text,
    stripe_price_id_monthly text,
    stripe_price_id_yearly  text,
    created_at              timestamptz not null default now(),
    updated_at              timestamptz not null default now(),
    constraint subscription_tiers_tier_code_key unique (tier_code),
    constraint subscription_tiers_monthly_check check (price_monthly_cents > 0),
    constraint subscription_tiers_yearly_check check (price_yearly_cents is null or price_yearly_cents > 0)
);

insert into subscription_tiers (tier_code, tier_name, description, price_monthly_cents, price_yearly_cents, display_order)
values
    ('trial',        'Trial',        'Explore Ops-Center for a month.',         100, null, 1),
    ('starter',      'Starter',      'For individuals getting started.',       1900, 19000, 2),
    ('professional', 'Professional', 'For professionals and small teams.',     4900, 49000, 3),
    ('enterprise',   'Enterprise',   'For organisations with larger needs.',   9900, 99000, 4);
