-- Subscriptions: each tier's monthly credit allowance, and the state of
-- every Stripe subscription as Stripe last told us.

alter table subscription_tiers
    add column monthly_allowance_credits bigint not null default 0,
    add constraint subscription_tiers_allowance_check
        check (monthly_allowance_credits >= 0 and monthly_allowance_credits <= 1000000000);

update subscription_tiers set monthly_allowance_credits = case tier_code
    when 'trial' then 100
    when 'starter' then 2000
    when 'professional' then 6000
    when 'enterprise' then 15000
    else 0 end;

-- One row per Stripe subscription, written only under that subscription's
-- advisory lock by the subscription webhook or by a user's own action with
-- the state Stripe answered. `state_as_of` is the time of the state stored:
-- the Stripe event's `created` when it came from an event, or (a margin
-- past) our clock when we asked Stripe; an event no newer than it makes us
-- ask Stripe again instead of applying its (possibly stale) object.
create table subscriptions (
    stripe_subscription_id text primary key,
    user_id                uuid not null references users (id),
    stripe_customer_id     text not null,
    -- Null when the subscription's price is not one of our tiers' prices.
    tier_code              text,
    billing_cycle          text,
    stripe_price_id        text,
    stripe_item_id         text,
    status                 text not null,
    amount_cents           bigint,
    current_period_start   timestamptz,
    current_period_end     timestamptz,
    cancel_at_period_end   boolean not null default false,
    canceled_at            timestamptz,
    ended_at               timestamptz,
    started_at             timestamptz not null,
    state_as_of            timestamptz not null,
    trial_will_end_at      timestamptz,
    default_payment_method text,
    created_at             timestamptz not null default now(),
    updated_at             timestamptz not null default now(),
    constraint subscriptions_status_check check (status in (
        'incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due',
        'canceled', 'unpaid', 'paused')),
    constraint subscriptions_cycle_check check (billing_cycle in ('monthly', 'yearly')),
    constraint subscriptions_amount_check check (amount_cents >= 0)
);

create index subscriptions_user_idx on subscriptions (user_id, started_at desc);
create index subscriptions_live_idx on subscriptions (status, tier_code)
    where status in ('trialing', 'active', 'past_due', 'unpaid', 'paused');

-- A paid subscription invoice grants its tier's allowance through the ledger.
alter table credit_ledger drop constraint credit_ledger_source_check;
alter table credit_ledger add constraint credit_ledger_source_check
    check (source in ('purchase', 'refund', 'adjustment', 'usage', 'dispute', 'subscription_allowance'));

-- The credits and the subscription endpoints may both be sent every event
-- (one Stripe endpoint configured for all types): each handles an event
-- once, on its own, so an event is "seen" per endpoint.
alter table stripe_webhook_events drop constraint stripe_webhook_events_pkey;
alter table stripe_webhook_events add primary key (event_id, endpoint);
