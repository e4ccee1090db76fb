#!/usr/bin/env bash
# What a HOT fulfilment would save (docs/PERFORMANCE.md, Findings): two
# scratch databases from all migrations, 1,000 users and 10,000 pending
# purchases each; arm b drops the five indexes naming a column the
# fulfilment changes and sets fillfactor 80. Then 3,000 one-item
# `fulfil_checkouts` calls per arm through pgbench after a CHECKPOINT,
# twice, alternated: WAL bytes a call, latency, HOT updates.
# Usage: bash bench/experiments/hot_fulfilment.sh  (PostgreSQL on
# 127.0.0.1:5432, user postgres; PGOPTIONS='-c synchronous_commit=off'
# to take the WAL flush out of the latency). Drops hot_a and hot_b.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PSQL=(psql -q -X -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1)
CALLS=3000

setup() { # setup DB ARM
    "${PSQL[@]}" -c "drop database if exists $1" -c "create database $1"
    for f in "$ROOT"/migrations/*.sql; do "${PSQL[@]}" -d "$1" -f "$f" >/dev/null; done
    "${PSQL[@]}" -d "$1" >/dev/null <<'SQL'
insert into users (keycloak_sub) select 'u' || g from generate_series(1, 1000) g;
insert into credit_purchases (user_id, package_code, package_name, amount_credits,
                              amount_paid_cents, stripe_checkout_session_id)
select (select id from users order by id offset (n % 1000) limit 1),
       'starter', 'Starter Pack', 1000, 1000, 'cs_' || n
from generate_series(1, 10000) n;
create sequence hot_seq;
SQL
    if [ "$2" = b ]; then
        "${PSQL[@]}" -d "$1" >/dev/null <<'SQL'
drop index credit_purchases_pending, credit_purchases_status_amount_idx,
           credit_purchases_status_created_idx, credit_purchases_status_package_created_idx,
           credit_purchases_payment_intent_idx;
alter table credit_purchases set (fillfactor = 80);
vacuum full credit_purchases;
SQL
    fi
    "${PSQL[@]}" -d "$1" -c "vacuum analyze" >/dev/null
}

run() { # run DB
    local q=("${PSQL[@]}" -At -d "$1" -c) l0 l1 out
    "${q[@]}" checkpoint >/dev/null
    l0=$("${q[@]}" "select pg_current_wal_lsn()")
    out=$(pgbench -n -h 127.0.0.1 -U postgres -M prepared -c 1 -t "$CALLS" -f <(cat <<'SQL'
SELECT nextval('hot_seq') AS n \gset
SELECT count(*) FROM fulfil_checkouts(ARRAY['evt_' || :n], ARRAY['checkout.session.completed'],
    ARRAY['cs_' || :n], ARRAY['pi_' || :n], ARRAY[1000::bigint], ARRAY['usd'], ARRAY[false], false);
SQL
) "$1" 2>&1)
    l1=$("${q[@]}" "select pg_current_wal_lsn()")
    echo "$1: $(( $("${q[@]}" "select pg_wal_lsn_diff('$l1', '$l0')::bigint") / CALLS )) bytes of WAL a call," \
        "$(echo "$out" | awk -F' = ' '/latency average/ { print $2 }') a call," \
        "HOT updates $("${q[@]}" "select n_tup_hot_upd || ' of ' || n_tup_upd from pg_stat_user_tables where relname = 'credit_purchases'")"
}

setup hot_a a
setup hot_b b
for _ in 1 2; do run hot_a; run hot_b; done
