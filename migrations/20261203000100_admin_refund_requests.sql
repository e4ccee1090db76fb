-- Admin refunds by the client's request id: the amount decided the first
-- time the request came and, once Stripe made it, Stripe's refund id. The
-- same request id never refunds twice, even after Stripe has forgotten the
-- idempotency key (24 hours) and whatever was refunded in between.
create table admin_refund_requests (
    request_id    uuid primary key,
    purchase_id   uuid not null references credit_purchases (id),
    admin_id      uuid not null references users (id),
    amount_cents  bigint not null check (amount_cents > 0),
    refund_id     text,
    created_at    timestamptz not null default now(),
    completed_at  timestamptz
);

create index admin_refund_requests_purchase_idx on admin_refund_requests (purchase_id);
