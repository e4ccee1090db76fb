-- pgbench reference of POST /credits/spend: the same two statements the app
-- sends (the user by id, then wallet_spend), on a random bench user.
\set n random(1, :users)
select id from users where keycloak_sub = 'bench-user-' || :n \gset
select * from wallet_spend('pgbench', 'pg-' || gen_random_uuid(), 'bench', :'id'::uuid, 1, 'bench', 'svc-' || (:n % 50), '{}');
