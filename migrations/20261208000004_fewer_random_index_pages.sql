-- Two more index pages dirtied at random by every fulfilment (issue #13;
-- pg_waldump after a checkpoint, 2,000 one-item fulfilments of 1,000
-- users: about 1,000 full-page images in each of the indexes below).
--
-- 1. Grants get time-ordered ids (UUID v7, as purchases do since
--    `…_purchase_ids_in_time_order.sql`), so `credit_grants_pkey` grows at
--    its right edge.
alter table credit_grants alter column id set default uuid_v7();

-- 2. `credit_ledger_user_idx` (user_id, id desc) is read by nothing since
--    the wallet's history orders by time: every query naming a user uses
--    `credit_ledger_user_created_idx` (user_id, created_at desc, id desc),
--    which also serves the foreign key from users.
drop index credit_ledger_user_idx;
