-- Disputes and failed refunds.
--
-- A purchase whose charge the buyer disputed is `disputed` (its remaining
-- credits are taken back until the dispute is decided). Dispute take-backs
-- and their restoration are ledger rows of their own source.
alter table credit_purchases drop constraint credit_purchases_status_check;
alter table credit_purchases add constraint credit_purchases_status_check
    check (status in ('pending', 'completed', 'failed', 'expired', 'refunded', 'partially_refunded', 'disputed'));

-- How many refunds of this purchase failed after being counted: part of the
-- ledger reference of later refund take-backs, so a refund that brings the
-- refunded total back to a figure seen before still takes its share once.
alter table credit_purchases add column refund_reversals integer not null default 0;
alter table credit_purchases add constraint credit_purchases_refund_reversals_check
    check (refund_reversals >= 0);

alter table credit_ledger drop constraint credit_ledger_source_check;
alter table credit_ledger add constraint credit_ledger_source_check
    check (source in ('purchase', 'refund', 'adjustment', 'usage', 'dispute'));
