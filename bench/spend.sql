-- pgbench reference of POST /credits/spend: the one statement the app
-- sends per spend (wallet_spend, which checks the user itself), for a random
-- bench user named by a subquery in the same round trip.
\set n random(1, :users)
select * from wallet_spend('pgbench', 'pg-' || gen_random_uuid(), 'bench',
    (select id from users where keycloak_sub = 'bench-user-' || :n), 1, 'bench', 'svc-' || (:n % 50), '{}');
