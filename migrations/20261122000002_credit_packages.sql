-- The catalogue of one-time credit packs. Prices are integer cents.
create table credit_packages (
    id                  uuid primary key default gen_random_uuid(),
    package_code        text not null,
    package_name        text not null,
    description         text not null default '',
    credits             bigint not null,
    price_cents         bigint not null,
    discount_percentage integer not null default 0,
    is_active           boolean not null default true,
    is_popular          boolean not null default false,
    display_order       integer not null default 0,
    stripe_product_id   text,
    stripe_price_id     text,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    constraint credit_packages_package_code_key unique (package_code),
    constraint credit_packages_package_code_check check (package_code ~ '^[a-z][a-z0-9_-]{0,63}$'),
    constraint credit_packages_package_name_check check (length(package_name) between 1 and 200),
    constraint credit_packages_credits_check check (credits > 0),
    constraint credit_packages_price_cents_check check (price_cents > 0),
    constraint credit_packages_discount_check check (discount_percentage between 0 and 100)
);

create index credit_packages_active_order_idx on credit_packages (display_order, package_code) where is_active;

insert into credit_packages
    (package_code, package_name, description, credits, price_cents, discount_percentage, is_popular, display_order)
values
    ('starter',    'Starter Pack',    'Try the platform: enough for everyday experiments.',    1000,  1000,  0, false, 1),
    ('standard',   'Standard Pack',   'For regular use across models and services.',            5000,  4500, 10, false, 2),
    ('pro',        'Pro Pack',        'For teams and heavy workloads.',                        10000,  8000, 20, true,  3),
    ('enterprise', 'Enterprise Pack', 'The best price per credit for large volumes.',          50000, 35000, 30, false, 4);
