-- New purchases get time-ordered ids, UUID version 7 (issue #13).
--
-- A random (version 4) id put every new purchase's entry at a random place
-- in each index that holds the id: the primary key, the admin table's two
-- amount orders, and the ledger's, grants' and audit log's purchase_id. A
-- page first written after a checkpoint is logged whole (a full-page
-- image), so each fulfilment wrote up to six of them: pg_waldump showed
-- 27–90 KB of WAL per fulfilment, 96 % full-page images of B-tree leaves,
-- against 2.2 KB for pgbench's transaction. Time-ordered ids append at the
-- right edge of those indexes instead.
--
-- `uuid_v7()`, RFC 9562 layout: 48 bits of Unix time in milliseconds,
-- then the version (7), the variant, and random bits (PostgreSQL 15 has no
-- built-in). One SELECT of one expression, so the planner inlines it into
-- the insert that uses the default. Existing ids stay.
create function uuid_v7() returns uuid
language sql volatile parallel safe as $$
    select encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                    from 1 for 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

alter table credit_purchases alter column id set default uuid_v7();
