-- A paid checkout that we cannot grant as is waits for an admin: Stripe's
-- amount, currency or mode did not match the purchase, or the payment came
-- after we had marked the purchase expired or failed. The admin grants it
-- (then `completed`) or refunds it (then `refunded`); nothing is granted
-- until then.
--
-- The status list keeps `disputed` (added by migration 20261203000001 for
-- Stripe disputes), so this constraint allows every status the code writes.
alter table credit_purchases drop constraint credit_purchases_status_check;
alter table credit_purchases add constraint credit_purchases_status_check
    check (status in ('pending', 'completed', 'failed', 'expired', 'refunded', 'partially_refunded',
                      'disputed', 'needs_review'));

-- Why the purchase waits for review, in words an admin reads (kept after
-- the review), and what Stripe collected for it (`amount_total`).
alter table credit_purchases add column review_reason text;
alter table credit_purchases add column review_paid_cents bigint;
alter table credit_purchases add constraint credit_purchases_review_reason_check
    check (status <> 'needs_review' or review_reason is not null);
