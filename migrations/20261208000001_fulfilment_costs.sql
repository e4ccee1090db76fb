-- The fulfilment path's database cost (issue #13).
--
-- 1. `fulfil_checkouts` runs with generic plans. Its statements take the
--    batch's arrays as parameters, so PostgreSQL's plan cache judged every
--    custom plan cheaper than the generic one and planned each of the five
--    statements again on every call: a third of the function's time for a
--    one-item batch (perf, `pgbench -M prepared -c 1` on a busy machine:
--    1.3–2.1 ms a call, against 0.9–1.1 ms with generic plans). Each statement finds its rows
--    by a unique key, so the generic plan is the custom plan.
alter function fulfil_checkouts(text[], text[], text[], text[], bigint[], text[], boolean[], boolean)
    set plan_cache_mode = force_generic_plan;

-- 2. Two indexes served only the admin figures' recomputation from every
--    purchase (`admin::recompute`, the reference the rollups are tested
--    against); the figures read the rollups. Each cost an index entry on
--    every purchase and every change of its status.
drop index credit_purchases_completed_idx;
drop index credit_purchases_created_status_idx;
