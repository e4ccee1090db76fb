-- People who have logged in, keyed by their Keycloak subject.
create table users (
    id                 uuid primary key default gen_random_uuid(),
    keycloak_sub       text not null,
    email              text,
    name               text,
    stripe_customer_id text,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint users_keycloak_sub_key unique (keycloak_sub),
    constraint users_stripe_customer_id_key unique (stripe_customer_id)
);
