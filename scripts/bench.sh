#!/usr/bin/env bash
# The benchmark harness (issue #13): builds the app in release mode, starts
# it with its real parts (a dedicated PostgreSQL, the Stripe emulator, the dev
# identity provider), runs each workload side by side with its reference,
# verifies correctness after every load run, and writes the report to
# docs/PERFORMANCE.md and bench/results/<timestamp>.{json,md}.
#
# Not part of scripts/test.sh: it takes minutes and its figures depend on the
# machine. Knobs: BENCH_N (purchases per webhook run, default 10000),
# BENCH_LEVELS (webhook concurrencies, default "1 8 32 128"),
# BENCH_HTTP_LEVELS (page/API concurrencies, default "1 16 64"),
# BENCH_SECONDS (seconds per wrk run, default 10), BENCH_SPEND_LEVELS
# (default "8 32") and BENCH_SPEND_SECONDS (default 20) for the wallet,
# BENCH_WORKLOADS (default "webhook http spend memory"; a subset writes its
# report to bench/results/ only, leaving docs/PERFORMANCE.md's latest full
# report in place), PEER_DIR (the Python Ops-Center, default
# ../shared/peers/python-ops-center).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${BENCH_N:-10000}
LEVELS=${BENCH_LEVELS:-"1 8 32 128"}
HTTP_LEVELS=${BENCH_HTTP_LEVELS:-"1 16 64"}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
PGBENCH_SECONDS=${BENCH_PGBENCH_SECONDS:-15}
PEER_DIR=${PEER_DIR:-$ROOT/../shared/peers/python-ops-center}
WORKLOADS=${BENCH_WORKLOADS:-"webhook http spend memory"}
runs() { [[ " $WORKLOADS " == *" $1 "* ]]; }
runs webhook || LEVELS=""
runs http || HTTP_LEVELS=""
BENCH_DIR=$CACHE_DIR/bench
REL=$CARGO_TARGET_DIR/release
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN=$BENCH_DIR/runs/$STAMP
mkdir -p "$RUN" "$ROOT/bench/results"
[ -f "$PEER_DIR/app.py" ] || die "the Python Ops-Center is not at $PEER_DIR (set PEER_DIR)"
PEER_DIR=$(cd "$PEER_DIR" && pwd)

# --- tools -------------------------------------------------------------------
install_bench_tools() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v pgbench >/dev/null || missing+=(postgresql-contrib)
    command -v node >/dev/null || missing+=(nodejs)
    if [ ${#missing[@]} -gt 0 ]; then say "apt: installing ${missing[*]}"; apt_install "${missing[@]}"; fi
    npm_ci "$ROOT/tools/dev-idp"
    local venv=$BENCH_DIR/venv want="fastapi uvicorn asyncpg stripe>=16,<17 httpx"
    if [ "$(cat "$venv/.occ-deps" 2>/dev/null)" != "$want" ]; then
        say "pip: installing the Python Ops-Center's dependencies into $venv"
        python3 -m venv "$venv"
        # shellcheck disable=SC2086
        "$venv/bin/pip" install -q $want
        echo "$want" >"$venv/.occ-deps"
    fi
    PY=$venv/bin/python
}

# --- a PostgreSQL of its own ------------------------------------------------
# The benchmark runs 128 concurrent clients (plus the app's pool), more than
# a default server's max_connections of 100, and must not share its server
# with other work: it starts a dedicated cluster on a free port. Durability
# settings stay PostgreSQL's defaults (fsync, synchronous_commit on).
start_bench_postgres() {
    local bindir data owner run=()
    bindir=$(pg_bindir)
    [ -n "$bindir" ] || die "no PostgreSQL server binaries found"
    if [ "$(id -u)" -eq 0 ]; then
        data=/var/lib/ops-center-credits/bench-pgdata owner=postgres
        mkdir -p "$(dirname "$data")" && chown "$owner" "$(dirname "$data")"
        run=(runuser -u "$owner" --)
    else
        data=$BENCH_DIR/pgdata owner=$(id -un)
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        say "creating the benchmark's PostgreSQL cluster in $data"
        "${run[@]}" "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    PG_PORT=$(free_port)
    say "starting the benchmark's PostgreSQL on 127.0.0.1:$PG_PORT"
    "${run[@]}" "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w \
        -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $data -c max_connections=300 -c shared_buffers=256MB" \
        start >/dev/null
    STOP_HOOKS+=("${run[*]} $bindir/pg_ctl -D $data -m fast stop >/dev/null")
    PG_URL=postgres://postgres@127.0.0.1:$PG_PORT
}

export PGOPTIONS="-c client_min_messages=warning"
sql() { psql -X -q -v ON_ERROR_STOP=1 -At "$PG_URL/$1" -c "$2"; }
recreate_db() { sql postgres "drop database if exists $1 with (force)" && sql postgres "create database $1"; }

# One measurement: a JSON object with workload, system and concurrency.
record() { echo "$1" >>"$RUN/results.jsonl"; }
with_fields() { "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(json.loads(sys.argv[2])); print(json.dumps(d))' "$1" "$2"; }

# The app's CPU time (user + system) in clock ticks, and what a run cost it
# per request: cpu_fields TICKS_BEFORE TICKS_AFTER RUN_JSON → JSON fields.
CLK_TCK=$(getconf CLK_TCK)
app_ticks() { awk '{ print $14 + $15 }' "/proc/$APP_PID/stat"; }
cpu_fields() {
    "$PY" -c 'import json,sys; t0,t1,clk=map(int,sys.argv[1:4]); d=json.loads(sys.argv[4]); n=d.get("deliveries") or d.get("requests") or 1
s=(t1-t0)/clk; print(json.dumps({"app_cpu_seconds": round(s,2), "app_cpu_us_per_request": round(s*1e6/n,1)}))' "$1" "$2" "$CLK_TCK" "$3"
}

check_zero() { # check_zero WHAT DB QUERY: the query must answer 0
    local got
    got=$(sql "$2" "$3")
    [ "$got" = 0 ] || die "verification failed: $1 ($got)"
}

# --- build and start ---------------------------------------------------------
install_bench_tools
say "building the app, the Stripe emulator and the benchmark driver (release)"
(cd "$ROOT" && nice -n "${BENCH_BUILD_NICE:-10}" env RUSTFLAGS="--cfg erase_components" \
    cargo build -q --release -p ops-center-credits -p stripe-emulator -p bench-driver)

unset DATABASE_URL STRIPE_SECRET_KEY STRIPE_API_KEY OIDC_ISSUER_URL APP_BASE_URL
start_bench_postgres
APP_DB=occ_bench PEER_DB=occ_bench_peer PGBENCH_DB=occ_bench_pgbench
recreate_db $APP_DB
APP_PORT=$(free_port) EMULATOR_PORT=$(free_port) IDP_PORT=$(free_port) PEER_PORT=$(free_port)
export LEPTOS_SITE_ADDR=127.0.0.1:$APP_PORT DATABASE_URL=$PG_URL/$APP_DB
export EMULATOR_PORT IDP_PORT STRIPE_WEBHOOK_SECRET_CREDITS=whsec_bench_credits
source "$ROOT/scripts/app-env.sh"
APP=http://$LEPTOS_SITE_ADDR

start_service stripe-emulator "$STRIPE_API_BASE/_emulator/health" \
    "$REL/stripe-emulator" --addr "127.0.0.1:$EMULATOR_PORT" --public-url "$STRIPE_API_BASE" --seed \
    --webhook "$APP/api/v1/billing/credits/webhook|$STRIPE_WEBHOOK_SECRET_CREDITS" \
    --webhook "$APP/api/v1/billing/webhooks/stripe|$STRIPE_WEBHOOK_SECRET"
start_dev_idp "$BENCH_DIR/dev-idp"

# The site the app serves its static files from: public/, and the hydration
# bundle if a cargo-leptos build (scripts/dev.sh or test.sh) left one in the
# target directory; then the reference is its stylesheet.
SITE=$BENCH_DIR/site
rm -rf "$SITE" && mkdir -p "$SITE" && cp -r "$ROOT/public/." "$SITE/"
STATIC_PATH=/favicon.svg
if [ -f "$CARGO_TARGET_DIR/site/pkg/ops-center-credits.css" ]; then
    cp -r "$CARGO_TARGET_DIR/site/pkg" "$SITE/"
    STATIC_PATH=/pkg/ops-center-credits.css
fi
# Its default log filter (info: a line per fulfilment), as in production; in
# the cache directory, so a developer's .env in the clone is not read.
start_service app "$APP/healthz" env -C "$BENCH_DIR" LEPTOS_SITE_ROOT="$SITE" "$REL/ops-center-credits"
APP_PID=${SERVICE_PIDS[-1]}

# --- report metadata ---------------------------------------------------------
versions() {
    "$PY" - "$@" <<'PY'
import json, subprocess, sys
def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except Exception:
        return "n/a"
py = sys.argv[1]
v = {
    "rustc": run("rustc", "--version"),
    "postgres": run("psql", "--version"),
    "python": run(py, "--version"),
    "wrk": (subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout or "wrk").splitlines()[0].split(" [")[0],
    "pgbench": run("pgbench", "--version"),
    "node (dev IdP)": run("node", "--version"),
}
pip = subprocess.run([py, "-m", "pip", "list", "--format=json"], capture_output=True, text=True).stdout
pkgs = {p["name"].lower(): p["version"] for p in json.loads(pip)}
for name in ("fastapi", "uvicorn", "asyncpg", "stripe"):
    v[name] = pkgs.get(name, "n/a")
print(json.dumps(v))
PY
}
"$PY" - "$RUN/meta.json" "$STAMP" "$N" "$(git -C "$ROOT" rev-parse --short HEAD)" "$(versions "$PY")" "$STATIC_PATH" "$PGBENCH_SECONDS" "$SECONDS_PER_RUN" <<'PY'
import json, os, sys
path, stamp, n, commit, versions, static, pgbench_seconds, wrk_seconds = sys.argv[1:]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
mem = next((l.split(":", 1)[1].strip() for l in open("/proc/meminfo") if l.startswith("MemTotal")), "?")
json.dump({"started_at": stamp, "cores": os.cpu_count(), "cpu": cpu, "mem": "memory " + mem, "n": int(n),
           "commit": commit, "versions": json.loads(versions), "static_path": static,
           "pgbench_seconds": int(pgbench_seconds), "wrk_seconds": int(wrk_seconds),
           "notes": "a dedicated PostgreSQL cluster (max_connections 300, shared_buffers 256MB, fsync and "
                    "synchronous_commit on); load generators, app and database share the same cores."}, open(path, "w"))
PY

# --- workload 1: webhook fulfilment -----------------------------------------
say "seeding users and ${N} pending purchases per concurrency level"
sql $APP_DB "insert into users (keycloak_sub, email)
    select 'bench-user-' || u, 'bench-user-' || u || '@example.com' from generate_series(1, 1000) u
    on conflict do nothing"
for c in $LEVELS; do
    sql $APP_DB "insert into credit_purchases (user_id, package_id, package_code, package_name, amount_credits,
            amount_paid_cents, discount_percentage, currency, stripe_checkout_session_id)
        select u.id, p.id, p.package_code, p.package_name, p.credits, p.price_cents, p.discount_percentage, 'usd',
               'cs_bench_c${c}_' || n
        from generate_series(1, $N) n
        join users u on u.keycloak_sub = 'bench-user-' || (1 + n % 1000)
        cross join (select * from credit_packages where package_code = 'starter') p"
    sql $APP_DB "select stripe_checkout_session_id, amount_paid_cents, currency from credit_purchases
        where stripe_checkout_session_id like 'cs_bench_c${c}\_%' order by stripe_checkout_session_id" \
        | tr '|' ' ' >"$RUN/app-c$c.sessions"
done
sql $APP_DB "vacuum analyze"

recreate_db $PEER_DB
psql -X -q -v ON_ERROR_STOP=1 "$PG_URL/$PEER_DB" -f "$PEER_DIR/schema.sql" >/dev/null
sql $PEER_DB "truncate credit_purchases"
for c in $LEVELS; do
    sql $PEER_DB "insert into credit_purchases (user_id, package_name, amount_credits, amount_paid, stripe_checkout_session_id)
        select 'u' || (n % 1000), 'Starter Pack', 1000, 10, 'cs_peer_c${c}_' || n from generate_series(1, $N) n"
    sql $PEER_DB "select stripe_checkout_session_id, 1000, 'usd' from credit_purchases
        where stripe_checkout_session_id like 'cs_peer_c${c}\_%'" | tr '|' ' ' >"$RUN/peer-c$c.sessions"
done
sql $PEER_DB "vacuum analyze"
PEER_SECRET=whsec_bench_peer
start_service python-peer "http://127.0.0.1:$PEER_PORT/docs" \
    env -C "$PEER_DIR" PEER_DSN="$PG_URL/$PEER_DB" PEER_SECRET=$PEER_SECRET \
    "$BENCH_DIR/venv/bin/uvicorn" app:app --workers 2 --port "$PEER_PORT" --log-level warning

recreate_db $PGBENCH_DB
psql -X -q -v ON_ERROR_STOP=1 "$PG_URL/$PGBENCH_DB" -f "$PEER_DIR/schema.sql" >/dev/null

verify_app() {
    local c=$1
    local like="cs_bench_c${c}\\_%"
    check_zero "app c=$c: purchases not completed" $APP_DB \
        "select count(*) from credit_purchases where stripe_checkout_session_id like '$like' and status <> 'completed'"
    check_zero "app c=$c: purchases without exactly one grant" $APP_DB \
        "select count(*) from credit_purchases p where p.stripe_checkout_session_id like '$like'
         and (select count(*) from credit_ledger l where l.purchase_id = p.id) <> 1"
    check_zero "app: a balance differs from the ledger" $APP_DB \
        "select count(*) from users u left join credit_balances b on b.user_id = u.id
         left join (select user_id, sum(amount) s from credit_ledger group by user_id) l on l.user_id = u.id
         where coalesce(b.balance, 0) <> coalesce(l.s, 0)"
}

verify_peer() {
    local c=$1
    local like="cs_peer_c${c}\\_%"
    check_zero "Python c=$c: purchases not completed" $PEER_DB \
        "select count(*) from credit_purchases where stripe_checkout_session_id like '$like' and status <> 'completed'"
    check_zero "Python c=$c: purchases without exactly one grant" $PEER_DB \
        "select count(*) from credit_purchases p where p.stripe_checkout_session_id like '$like'
         and (select count(*) from credit_transactions t where t.reference = p.stripe_checkout_session_id) <> 1"
    check_zero "Python: a balance differs from its transactions" $PEER_DB \
        "select count(*) from (select user_id, sum(amount) s from credit_transactions group by user_id) t
         full join user_credits b using (user_id) where coalesce(b.balance, 0) <> coalesce(t.s, 0)"
}

verify_pgbench() {
    check_zero "pgbench: completed purchases differ from transactions" $PGBENCH_DB \
        "select abs((select count(*) from credit_purchases where status = 'completed')
                  - (select count(*) from credit_transactions))"
    check_zero "pgbench: a balance differs from its transactions" $PGBENCH_DB \
        "select count(*) from (select user_id, sum(amount) s from credit_transactions group by user_id) t
         full join user_credits b using (user_id) where coalesce(b.balance, 0) <> coalesce(t.s, 0)"
}

drive() { # drive NAME URL SECRET SESSIONS CONCURRENCY → driver JSON on stdout
    local out
    out=$("$REL/bench-driver" "$2" "$3" "$4" "$5" 2>"$RUN/$1.err") || { cat "$RUN/$1.err" >&2; die "driver failed ($1)"; }
    [ "$(echo "$out" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["failed"])')" = 0 ] \
        || { cat "$RUN/$1.err" >&2; die "failed deliveries in $1: $out"; }
    echo "$out"
}

for c in $LEVELS; do
    say "webhook, concurrency $c: pgbench fulfil.sql for ${PGBENCH_SECONDS}s"
    pgbench -n -f "$PEER_DIR/fulfil.sql" -c "$c" -j 2 -T "$PGBENCH_SECONDS" -l --log-prefix="$RUN/pgbench-c$c" \
        "$PG_URL/$PGBENCH_DB" >"$RUN/pgbench-c$c.out" 2>&1 || { cat "$RUN/pgbench-c$c.out" >&2; die "pgbench failed"; }
    (cd "$RUN" && "$PY" "$ROOT/bench/bench.py" pgbench "pgbench-c$c.out" "pgbench-c$c") >"$RUN/pgbench-c$c.json"
    verify_pgbench
    record "$(with_fields "$(cat "$RUN/pgbench-c$c.json")" "{\"workload\":\"webhook\",\"system\":\"pgbench\",\"concurrency\":$c}")"

    say "webhook, concurrency $c: the app, $N deliveries"
    t0=$(app_ticks)
    out=$(drive "app-c$c" "$APP/api/v1/billing/credits/webhook" "$STRIPE_WEBHOOK_SECRET_CREDITS" "$RUN/app-c$c.sessions" "$c")
    out=$(with_fields "$out" "$(cpu_fields "$t0" "$(app_ticks)" "$out")")
    verify_app "$c"
    # Redelivering the first events must change nothing.
    head -n 200 "$RUN/app-c$c.sessions" >"$RUN/app-c$c.redeliver"
    drive "app-c$c-redeliver" "$APP/api/v1/billing/credits/webhook" "$STRIPE_WEBHOOK_SECRET_CREDITS" "$RUN/app-c$c.redeliver" 8 >/dev/null
    verify_app "$c"
    record "$(with_fields "$out" "{\"workload\":\"webhook\",\"system\":\"app\",\"verified\":true}")"
    echo "  app: $out"

    say "webhook, concurrency $c: the Python Ops-Center, $N deliveries"
    out=$(drive "peer-c$c" "http://127.0.0.1:$PEER_PORT/api/v1/billing/credits/webhook" "$PEER_SECRET" "$RUN/peer-c$c.sessions" "$c")
    verify_peer "$c"
    record "$(with_fields "$out" "{\"workload\":\"webhook\",\"system\":\"python-peer\",\"verified\":true}")"
    echo "  python: $out"
done

# --- workloads 2, 3 and 6: the page, the bearer API, memory -------------------
wrk_run() { # wrk_run NAME CONCURRENCY URL [wrk args…] → JSON
    local name=$1 c=$2 url=$3; shift 3
    local threads=$(( c < 2 ? 1 : 2 ))
    wrk -t "$threads" -c "$c" -d "${SECONDS_PER_RUN}s" --latency "$@" "$url" >"$RUN/$name.wrk" 2>&1 \
        || { cat "$RUN/$name.wrk" >&2; die "wrk failed ($name)"; }
    local json
    json=$("$PY" "$ROOT/bench/bench.py" wrk "$RUN/$name.wrk")
    echo "$json" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d["non_2xx"] or d["socket_errors"])' \
        || { cat "$RUN/$name.wrk" >&2; die "$name: non-2xx answers or socket errors"; }
    echo "$json"
}

token() {
    curl -fsS -u "$OIDC_CLIENT_ID:$OIDC_CLIENT_SECRET" "$OIDC_ISSUER_URL/protocol/openid-connect/token" \
        -d grant_type=password -d username=alice -d password=alice-password -d scope="openid profile email" \
        | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

say "logging alice in (session cookie) and giving her 50 purchases"
COOKIE=$("$PY" "$ROOT/bench/bench.py" login "$APP" alice alice-password)
sql $APP_DB "insert into credit_purchases (user_id, package_id, package_code, package_name, amount_credits,
        amount_paid_cents, discount_percentage, currency, stripe_checkout_session_id)
    select u.id, p.id, p.package_code, p.package_name, p.credits, p.price_cents, p.discount_percentage, 'usd',
           'cs_bench_alice_' || n
    from generate_series(1, 50) n
    join users u on u.id = (select id from users where keycloak_sub not like 'bench-user-%'
                            order by created_at desc limit 1)
    cross join (select * from credit_packages where package_code = 'starter') p"
sql $APP_DB "select stripe_checkout_session_id, amount_paid_cents, currency from credit_purchases
    where stripe_checkout_session_id like 'cs_bench_alice\_%'" | tr '|' ' ' >"$RUN/alice.sessions"
[ "$(wc -l <"$RUN/alice.sessions")" = 50 ] || die "alice's 50 purchases were not created"
drive alice "$APP/api/v1/billing/credits/webhook" "$STRIPE_WEBHOOK_SECRET_CREDITS" "$RUN/alice.sessions" 4 >/dev/null
curl -fsS -H "Cookie: $COOKIE" "$APP/credits" | grep -q 'cs_bench_alice\|Starter Pack' \
    || die "the /credits page does not show alice's history"

for c in $HTTP_LEVELS; do
    say "HTTP, concurrency $c: static asset, /credits page, balance API, /healthz"
    out=$(wrk_run "static-c$c" "$c" "$APP$STATIC_PATH")
    record "$(with_fields "$out" "{\"workload\":\"static\",\"system\":\"static-asset\",\"concurrency\":$c,\"path\":\"$STATIC_PATH\"}")"
    t0=$(app_ticks)
    out=$(wrk_run "page-c$c" "$c" "$APP/credits" -H "Cookie: $COOKIE" -H "Accept: text/html")
    out=$(with_fields "$out" "$(cpu_fields "$t0" "$(app_ticks)" "$out")")
    record "$(with_fields "$out" "{\"workload\":\"credits-page\",\"system\":\"app\",\"concurrency\":$c}")"
    echo "  /credits: $out"
    TOKEN=$(token)
    t0=$(app_ticks)
    out=$(wrk_run "balance-c$c" "$c" "$APP/api/v1/billing/credits/balance" -H "Authorization: Bearer $TOKEN")
    out=$(with_fields "$out" "$(cpu_fields "$t0" "$(app_ticks)" "$out")")
    record "$(with_fields "$out" "{\"workload\":\"balance-api\",\"system\":\"app\",\"concurrency\":$c}")"
    echo "  balance: $out"
    out=$(wrk_run "healthz-c$c" "$c" "$APP/healthz")
    record "$(with_fields "$out" "{\"workload\":\"healthz\",\"system\":\"app\",\"concurrency\":$c}")"
done
verify_app 1

# --- wallet spends (issue #14) ------------------------------------------------
if runs spend; then
# POST /credits/spend as the dev IdP's spender service (a fresh Idempotency-Key
# per request, random users of 1,000, 50 service names), beside pgbench
# sending the same statement (bench/spend.sql); then one hot user.
SPEND_LEVELS=${BENCH_SPEND_LEVELS:-"8 32"}
SPEND_SECONDS=${BENCH_SPEND_SECONDS:-20}
say "wallet: 1,000,000 credits for each of the 1,000 bench users"
sql $APP_DB "insert into credit_ledger (user_id, amount, source, reference, description)
    select id, 1000000, 'promotional', 'bench-wallet:' || id, 'benchmark credits'
    from users where keycloak_sub like 'bench-user-%' order by id"
sql $APP_DB "select id from users where keycloak_sub like 'bench-user-%' order by keycloak_sub" >"$RUN/spend-users.txt"
sql $APP_DB "select id from users where keycloak_sub = 'bench-user-1'" >"$RUN/spend-hot-user.txt"
sql $APP_DB "vacuum analyze"
gateway_token() {
    curl -fsS -u ops-center-model-gateway:dev-only-gateway-secret -d grant_type=client_credentials \
        "$OIDC_ISSUER_URL/protocol/openid-connect/token" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
spends_before=$(sql $APP_DB "select count(*) from credit_ledger where source = 'usage'")
for target in spread hot; do
    users_file=$RUN/spend-users.txt pg_users=1000 workload=spend
    [ "$target" = hot ] && users_file=$RUN/spend-hot-user.txt pg_users=1 workload=spend-hot
    for c in $SPEND_LEVELS; do
        say "wallet $target, concurrency $c: pgbench spend.sql, then the app's POST /credits/spend"
        pgbench -n -f "$ROOT/bench/spend.sql" -D users=$pg_users -c "$c" -j 2 -T "$SPEND_SECONDS" -l \
            --log-prefix="$RUN/pgspend-$target-c$c" "$PG_URL/$APP_DB" >"$RUN/pgspend-$target-c$c.out" 2>&1 \
            || { cat "$RUN/pgspend-$target-c$c.out" >&2; die "pgbench (spend) failed"; }
        (cd "$RUN" && "$PY" "$ROOT/bench/bench.py" pgbench "pgspend-$target-c$c.out" "pgspend-$target-c$c") >"$RUN/pgspend-$target-c$c.json"
        record "$(with_fields "$(cat "$RUN/pgspend-$target-c$c.json")" "{\"workload\":\"$workload\",\"system\":\"pgbench\",\"concurrency\":$c}")"
        GATEWAY=$(gateway_token)
        t0=$(app_ticks)
        out=$(BENCH_USERS=$users_file BENCH_TOKEN=$GATEWAY BENCH_RUN="$target-$c" SECONDS_PER_RUN=$SPEND_SECONDS \
            wrk_run "spend-$target-c$c" "$c" "$APP/api/v1/billing/credits/spend" -s "$ROOT/bench/spend.lua")
        out=$(with_fields "$out" "$(cpu_fields "$t0" "$(app_ticks)" "$out")")
        record "$(with_fields "$out" "{\"workload\":\"$workload\",\"system\":\"app\",\"concurrency\":$c}")"
        echo "  spend ($target): $out"
    done
done
# Correct balances after it all: every spend funded exactly once, every grant
# and balance agreeing with the ledger, nobody below zero.
check_zero "wallet: a balance differs from the ledger" $APP_DB \
    "select count(*) from credit_balances b left join (select user_id, sum(amount) s from credit_ledger group by user_id) l
     using (user_id) where b.balance <> coalesce(l.s, 0)"
check_zero "wallet: a grant's remainder differs from its uses" $APP_DB \
    "select count(*) from credit_grants g where g.remaining <> g.amount
     - coalesce((select sum(u.amount) from credit_grant_uses u where u.grant_id = g.id), 0)"
check_zero "wallet: a spend not funded exactly" $APP_DB \
    "select count(*) from credit_ledger l where l.source = 'usage'
     and -l.amount <> coalesce((select sum(u.amount) from credit_grant_uses u where u.ledger_id = l.id), 0)"
check_zero "wallet: a balance below zero" $APP_DB "select count(*) from credit_balances where balance < 0"
spends=$(( $(sql $APP_DB "select count(*) from credit_ledger where source = 'usage'") - spends_before ))
record "{\"workload\":\"spend-total\",\"system\":\"app+pgbench\",\"concurrency\":0,\"spends\":$spends,\"verified\":true}"
say "wallet: $spends spends, balances verified"
fi

status_kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$APP_PID/status"; }
rss_under_load() { # rss_under_load CONNECTIONS: RSS (KiB) in the middle of a /healthz run
    wrk -t 2 -c "$1" -d 6s "$APP/healthz" >"$RUN/rss-c$1.wrk" 2>&1 &
    local pid=$!
    sleep 4
    status_kib VmRSS
    wait "$pid" || true
}
if runs memory; then
say "memory: RSS at 10 and 1,000 connections, peak RSS"
rss10=$(rss_under_load 10)
rss1000=$(rss_under_load 1000)
hwm=$(status_kib VmHWM)
for pair in "RSS with 10 open connections:$rss10" "RSS with 1,000 open connections:$rss1000" \
    "peak RSS over the whole run (VmHWM):$hwm"; do
    record "{\"workload\":\"memory\",\"system\":\"app\",\"concurrency\":0,\"what\":\"${pair%%:*}\",\"mib\":$(echo "${pair##*:}" | awk '{ print $1 / 1024 }')}"
done
fi

say "writing the report"
PERF_MD=$ROOT/docs/PERFORMANCE.md
[ "$WORKLOADS" = "webhook http spend memory" ] || PERF_MD=""
"$PY" "$ROOT/bench/bench.py" report "$RUN" "$ROOT/bench/results/$STAMP.json" "$ROOT/bench/results/$STAMP.md" \
    "$PERF_MD"
cat "$ROOT/bench/results/$STAMP.md"
say "report: docs/PERFORMANCE.md, bench/results/$STAMP.{json,md} (raw output: $RUN)"
