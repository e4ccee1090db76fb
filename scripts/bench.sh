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
# BENCH_WORKLOADS (default all: "webhook http checkout spend instances scale
# browser memory"; a subset writes its report to bench/results/ only,
# leaving docs/PERFORMANCE.md's latest full report in place),
# BENCH_PG_SETTINGS (extra server options for the benchmark's PostgreSQL,
# e.g. "-c max_wal_size=8GB -c wal_compression=lz4"; default none: stock
# settings), BENCH_RUSTFLAGS (the release build's RUSTFLAGS, default
# "--cfg erase_components" as everywhere else; "" builds statically typed
# views, for the server's workloads only: such a server's HTML and the
# erased wasm do not match; it also needs `#![recursion_limit = "256"]` in
# src/lib.rs, see docs/PERFORMANCE.md), BENCH_PERF=1 (profile the app with `perf record` during each
# /credits page run: the hottest functions go to the run's directory as
# page-c<N>.perf.txt), PEER_DIR (the Python Ops-Center, default
# ../shared/peers/python-ops-center).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N=${BENCH_N:-10000}
LEVELS=${BENCH_LEVELS:-"1 8 32 128"}
HTTP_LEVELS=${BENCH_HTTP_LEVELS:-"1 16 64"}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
ERASED="--cfg erase_components"
RELEASE_RUSTFLAGS=${BENCH_RUSTFLAGS-$ERASED}
PGBENCH_SECONDS=${BENCH_PGBENCH_SECONDS:-15}
PEER_DIR=${PEER_DIR:-$ROOT/../shared/peers/python-ops-center}
ALL_WORKLOADS="webhook http checkout spend instances scale browser memory"
WORKLOADS=${BENCH_WORKLOADS:-$ALL_WORKLOADS}
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
    if runs browser; then [ -x /usr/bin/chromium ] || missing+=(chromium fonts-liberation); fi
    if [ ${#missing[@]} -gt 0 ]; then say "apt: installing ${missing[*]}"; apt_install "${missing[@]}"; fi
    npm_ci "$ROOT/tools/dev-idp"
    local venv=$BENCH_DIR/venv want="fastapi uvicorn asyncpg stripe>=16,<17 httpx brotli"
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
        -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $data -c max_connections=300 -c shared_buffers=256MB ${BENCH_PG_SETTINGS:-}" \
        start >/dev/null
    STOP_HOOKS+=("${run[*]} $bindir/pg_ctl -D $data -m fast stop >/dev/null")
    PG_URL=postgres://postgres@127.0.0.1:$PG_PORT PG_DATA=$data
}

export PGOPTIONS="-c client_min_messages=warning"
sql() { psql -X -q -v ON_ERROR_STOP=1 -At "$PG_URL/$1" -c "$2"; }
recreate_db() { sql postgres "drop database if exists $1 with (force)" && sql postgres "create database $1"; }

# One measurement: a JSON object with workload, system and concurrency.
record() { echo "$1" >>"$RUN/results.jsonl"; }
with_fields() { "$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(json.loads(sys.argv[2])); print(json.dumps(d))' "$1" "$2"; }

# CPU time (user + system) in clock ticks, the app's and the benchmark
# PostgreSQL's, and what a run cost per request: cpu_fields "$(cpu_ticks)"
# before and after, RUN_JSON → JSON fields. PostgreSQL's is every server
# process of it, background writers included (the postmaster's
# cutime/cstime hold what exited backends used). Only the system under test
# uses that server while a run lasts.
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {
    local pm
    pm=$(head -n 1 "$PG_DATA/postmaster.pid")
    echo "$(awk '{ print $14 + $15 }' "/proc/$APP_PID/stat")" \
        "$(cat "/proc/$pm/stat" $(pgrep -P "$pm" | sed 's|.*|/proc/&/stat|') 2>/dev/null \
            | awk -v pm="$pm" '{ t += $14 + $15; if ($1 == pm) t += $16 + $17 } END { print t }')"
}
status_kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$APP_PID/status"; }
cpu_fields() {
    "$PY" -c 'import json,sys; a0,p0=map(int,sys.argv[1].split()); a1,p1=map(int,sys.argv[2].split()); clk=int(sys.argv[3]); d=json.loads(sys.argv[4]); n=d.get("deliveries") or d.get("requests") or 1
a=(a1-a0)/clk; p=(p1-p0)/clk
print(json.dumps({"app_cpu_seconds": round(a,2), "app_cpu_us_per_request": round(a*1e6/n,1), "pg_cpu_seconds": round(p,2), "pg_cpu_us_per_request": round(p*1e6/n,1)}))' "$1" "$2" "$CLK_TCK" "$3"
}

check_zero() { # check_zero WHAT DB QUERY: the query must answer 0
    local got
    got=$(sql "$2" "$3")
    [ "$got" = 0 ] || die "verification failed: $1 ($got)"
}

# --- build and start ---------------------------------------------------------
install_bench_tools
say "building the app, the Stripe emulator and the benchmark driver (release)"
(cd "$ROOT" && nice -n "${BENCH_BUILD_NICE:-10}" env RUSTFLAGS="$RELEASE_RUSTFLAGS" \
    cargo build -q --release -p ops-center-credits -p stripe-emulator -p bench-driver)
if runs browser; then
    # What a browser downloads is the release site: cargo-leptos's wasm-release
    # profile, wasm-opt, minified JS and the Tailwind stylesheet. Built with
    # the server's `--cfg erase_components`: views built without it do not
    # hydrate the server's HTML (tachys panics). `--split`: the admin and
    # billing routes' code goes into wasm chunks loaded on demand
    # (app/src/pages/lazy.rs).
    start_tool_installs
    wait_for_tools
    npm_ci "$ROOT" && npm_ci "$ROOT/end2end"
    say "building the release site (cargo leptos build --release --frontend-only --precompress --split)"
    (cd "$ROOT" && nice -n "${BENCH_BUILD_NICE:-10}" env RUSTFLAGS="$ERASED" \
        cargo leptos build --release --frontend-only --precompress --split >"$BENCH_DIR/leptos-build.log" 2>&1) \
        || { tail -n 40 "$BENCH_DIR/leptos-build.log" >&2; die "cargo leptos build --release failed"; }
fi

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
# The per-user checkout limit is lifted: workload 4 sends thousands of
# checkouts as one user.
export RATE_LIMIT_BURST=100000
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
"$PY" - "$RUN/meta.json" "$STAMP" "$N" "$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . ":!bench/results" ":!docs" || echo " with uncommitted changes")" "$(versions "$PY")" "$STATIC_PATH" "$PGBENCH_SECONDS" "$SECONDS_PER_RUN" "${BENCH_PERF:-}" "$RELEASE_RUSTFLAGS" "$ERASED" <<'PY'
import json, os, sys
path, stamp, n, commit, versions, static, pgbench_seconds, wrk_seconds, perf, rustflags, erased = sys.argv[1:]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
mem = next((l.split(":", 1)[1].strip() for l in open("/proc/meminfo") if l.startswith("MemTotal")), "?")
json.dump({"started_at": stamp, "cores": os.cpu_count(), "cpu": cpu, "mem": "memory " + mem, "n": int(n),
           "commit": commit, "versions": json.loads(versions), "static_path": static,
           "pgbench_seconds": int(pgbench_seconds), "wrk_seconds": int(wrk_seconds),
           "notes": "a dedicated PostgreSQL cluster (max_connections 300, shared_buffers 256MB, fsync and "
                    "synchronous_commit on); load generators, app and database share the same cores."
                    + (" The /credits page runs were profiled (BENCH_PERF: perf with DWARF call graphs),"
                       " which slows them: compare their rates only with other profiled runs." if perf else "")
                    + (f" Built with RUSTFLAGS=\"{rustflags}\" instead of \"{erased}\"."
                       if rustflags != erased else "")},
          open(path, "w"))
PY

# --- workload 1: webhook fulfilment -----------------------------------------
say "seeding users and ${N} pending purchases per concurrency level"
sql $APP_DB "insert into users (keycloak_sub, email)
    select 'bench-user-' || u, 'bench-user-' || u || '@example.com' from generate_series(1, 1000) u
    on conflict do nothing"
# seed_pending PREFIX FILE: N pending Starter purchases of the 1,000 bench
# users, sessions PREFIX_1…PREFIX_N, listed in FILE for the driver.
seed_pending() {
    sql $APP_DB "insert into credit_purchases (user_id, package_id, package_code, package_name, amount_credits,
            amount_paid_cents, discount_percentage, currency, stripe_checkout_session_id)
        select u.id, p.id, p.package_code, p.package_name, p.credits, p.price_cents, p.discount_percentage, 'usd',
               '$1_' || n
        from generate_series(1, $N) n
        join users u on u.keycloak_sub = 'bench-user-' || (1 + n % 1000)
        cross join (select * from credit_packages where package_code = 'starter') p"
    sql $APP_DB "select stripe_checkout_session_id, amount_paid_cents, currency from credit_purchases
        where stripe_checkout_session_id like '$1\_%' order by stripe_checkout_session_id" | tr '|' ' ' >"$2"
}
for c in $LEVELS; do
    seed_pending "cs_bench_c$c" "$RUN/app-c$c.sessions"
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

verify_app() { # verify_app C [PREFIX]: the purchases of run C (sessions PREFIX…)
    local c=$1
    local like="${2:-cs_bench_c${c}}\\_%"
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

# Each webhook segment starts right after a checkpoint. Where a checkpoint
# fell used to decide a run: its writes and the full-page images after it
# moved the app's rate by 2x between runs of the same code
# (docs/PERFORMANCE.md). Now none of the three systems pays for one the
# others caused, and a segment that still meets one says so in its record
# (checkpoint_during), beside the WAL it wrote per delivery or transaction.
fresh_checkpoint() { # → "CHECKPOINT_LSN WAL_LSN"
    sql postgres "checkpoint" &&
        sql postgres "select checkpoint_lsn || ' ' || pg_current_wal_lsn() from pg_control_checkpoint()"
}
segment_fields() { # segment_fields "CHECKPOINT_LSN WAL_LSN" RUN_JSON → JSON
    local ckpt wal items
    read -r ckpt wal <<<"$1"
    items=$(echo "$2" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d.get("deliveries") or d.get("transactions") or 1)')
    sql postgres "select json_build_object('checkpoint_during', checkpoint_lsn <> '$ckpt'::pg_lsn,
        'wal_bytes_per_item', round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$wal'::pg_lsn) / $items))
        from pg_control_checkpoint()"
}

for c in $LEVELS; do
    say "webhook, concurrency $c: pgbench fulfil.sql for ${PGBENCH_SECONDS}s"
    mark=$(fresh_checkpoint)
    pgbench -n -f "$PEER_DIR/fulfil.sql" -c "$c" -j 2 -T "$PGBENCH_SECONDS" -l --log-prefix="$RUN/pgbench-c$c" \
        "$PG_URL/$PGBENCH_DB" >"$RUN/pgbench-c$c.out" 2>&1 || { cat "$RUN/pgbench-c$c.out" >&2; die "pgbench failed"; }
    (cd "$RUN" && "$PY" "$ROOT/bench/bench.py" pgbench "pgbench-c$c.out" "pgbench-c$c") >"$RUN/pgbench-c$c.json"
    out=$(cat "$RUN/pgbench-c$c.json")
    out=$(with_fields "$out" "$(segment_fields "$mark" "$out")")
    verify_pgbench
    record "$(with_fields "$out" "{\"workload\":\"webhook\",\"system\":\"pgbench\",\"concurrency\":$c}")"

    say "webhook, concurrency $c: the app, $N deliveries"
    mark=$(fresh_checkpoint)
    t0=$(cpu_ticks)
    out=$(drive "app-c$c" "$APP/api/v1/billing/credits/webhook" "$STRIPE_WEBHOOK_SECRET_CREDITS" "$RUN/app-c$c.sessions" "$c")
    out=$(with_fields "$out" "$(cpu_fields "$t0" "$(cpu_ticks)" "$out")")
    out=$(with_fields "$out" "$(segment_fields "$mark" "$out")")
    verify_app "$c"
    # Redelivering the first events must change nothing.
    head -n 200 "$RUN/app-c$c.sessions" >"$RUN/app-c$c.redeliver"
    drive "app-c$c-redeliver" "$APP/api/v1/billing/credits/webhook" "$STRIPE_WEBHOOK_SECRET_CREDITS" "$RUN/app-c$c.redeliver" 8 >/dev/null
    verify_app "$c"
    record "$(with_fields "$out" "{\"workload\":\"webhook\",\"system\":\"app\",\"verified\":true}")"
    echo "  app: $out"

    say "webhook, concurrency $c: the Python Ops-Center, $N deliveries"
    mark=$(fresh_checkpoint)
    out=$(drive "peer-c$c" "http://127.0.0.1:$PEER_PORT/api/v1/billing/credits/webhook" "$PEER_SECRET" "$RUN/peer-c$c.sessions" "$c")
    out=$(with_fields "$out" "$(segment_fields "$mark" "$out")")
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

# profile_app NAME: perf samples the app (call graphs by DWARF unwinding: a
# release build has no frame pointers) for the next wrk run's length;
# profile_report NAME then writes the functions by their own share of the
# samples, and by their share with what they call, to $RUN/NAME.perf.txt.
profile_app() {
    command -v perf >/dev/null || apt_install linux-perf
    perf record -q -F 499 --call-graph dwarf,16384 -p "$APP_PID" -o "$RUN/$1.perf.data" \
        -- sleep "$SECONDS_PER_RUN" >/dev/null 2>&1 &
    PERF_PID=$!
}
profile_report() {
    wait "$PERF_PID" || true
    local data=$RUN/$1.perf.data
    # Each report is written whole before it is cut: `head` closing a pipe
    # would stop perf with SIGPIPE, and with it this script (pipefail).
    report() { perf report -i "$data" "$@" --stdio -g none 2>/dev/null >"$data.txt" || true
        grep -v -e '^#' -e '^$' "$data.txt" | sed 's/   */  /g' | head -n 80 || true; }
    { echo "# by shared object"; report --no-children --sort dso
      echo "# by function, own samples"; report --no-children --sort symbol
      echo "# by function, with what it calls"; report --children --sort symbol; } >"$RUN/$1.perf.txt"
    rm -f "$data" "$data.txt"
    say "profile of $1: $RUN/$1.perf.txt"
}

token() { # token [USER PASSWORD]: an access token (alice's by default)
    curl -fsS -u "$OIDC_CLIENT_ID:$OIDC_CLIENT_SECRET" "$OIDC_ISSUER_URL/protocol/openid-connect/token" \
        -d grant_type=password -d username="${1:-alice}" -d password="${2:-alice-password}" -d scope="openid profile email" \
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
    t0=$(cpu_ticks)
    [ -n "${BENCH_PERF:-}" ] && profile_app "page-c$c"
    out=$(wrk_run "page-c$c" "$c" "$APP/credits" -H "Cookie: $COOKIE" -H "Accept: text/html")
    [ -n "${BENCH_PERF:-}" ] && profile_report "page-c$c"
    out=$(with_fields "$out" "$(cpu_fields "$t0" "$(cpu_ticks)" "$out")")
    record "$(with_fields "$out" "{\"workload\":\"credits-page\",\"system\":\"app\",\"concurrency\":$c}")"
    echo "  /credits: $out"
    TOKEN=$(token)
    t0=$(cpu_ticks)
    out=$(wrk_run "balance-c$c" "$c" "$APP/api/v1/billing/credits/balance" -H "Authorization: Bearer $TOKEN")
    out=$(with_fields "$out" "$(cpu_fields "$t0" "$(cpu_ticks)" "$out")")
    record "$(with_fields "$out" "{\"workload\":\"balance-api\",\"system\":\"app\",\"concurrency\":$c}")"
    echo "  balance: $out"
    out=$(wrk_run "healthz-c$c" "$c" "$APP/healthz")
    record "$(with_fields "$out" "{\"workload\":\"healthz\",\"system\":\"app\",\"concurrency\":$c}")"
done
verify_app 1

# --- workload 4: checkout creation against the emulator ----------------------
if runs checkout; then
CHECKOUTS=${BENCH_CHECKOUTS:-1000}
say "checkout creation: the packages into the emulator, then $CHECKOUTS checkouts per level"
env -C "$BENCH_DIR" "$REL/ops-center-credits" sync-stripe-catalogue >"$RUN/catalogue.log" 2>&1 \
    || { cat "$RUN/catalogue.log" >&2; die "sync-stripe-catalogue failed"; }
CHECKOUT_LEVELS=${BENCH_CHECKOUT_LEVELS:-"1 8"}
for c in $CHECKOUT_LEVELS; do
    TOKEN=$(token)
    before=$(sql $APP_DB "select count(*) from credit_purchases where stripe_checkout_session_id like 'cs\_%' and status = 'pending'")
    t0=$(cpu_ticks)
    out=$("$REL/bench-driver" checkout "$APP/api/v1/billing/credits/purchase" "$TOKEN" "$CHECKOUTS" "$c" 2>"$RUN/checkout-c$c.err") \
        || { cat "$RUN/checkout-c$c.err" >&2; die "driver failed (checkout)"; }
    [ "$(echo "$out" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["failed"])')" = 0 ] \
        || { cat "$RUN/checkout-c$c.err" >&2; die "failed checkouts: $out"; }
    out=$(with_fields "$out" "$(cpu_fields "$t0" "$(cpu_ticks)" "$out")")
    # Every checkout left one pending purchase with its emulator session.
    after=$(sql $APP_DB "select count(*) from credit_purchases where stripe_checkout_session_id like 'cs\_%' and status = 'pending'")
    [ $(( after - before )) = "$CHECKOUTS" ] || die "checkout c=$c: $(( after - before )) sessions for $CHECKOUTS checkouts"
    check_zero "checkout: a purchase without its session" $APP_DB \
        "select count(*) from credit_purchases where status = 'pending' and stripe_checkout_session_id is null"
    record "$(with_fields "$out" "{\"workload\":\"checkout\",\"system\":\"app\",\"verified\":true}")"
    echo "  checkout: $out"
done
fi

# --- workload 5: what the browser downloads for /credits ---------------------
if runs browser; then
say "browser: the release site's files (raw, gzip, brotli) and time to interactive"
"$PY" - "$SITE/pkg" >"$RUN/site-sizes.json" <<'PY'
import brotli, gzip, json, os, sys
out = []
for name in sorted(os.listdir(sys.argv[1])):
    if name.rsplit(".", 1)[-1] not in ("wasm", "js", "css"):
        continue
    data = open(os.path.join(sys.argv[1], name), "rb").read()
    out.append({"file": name, "raw": len(data), "gzip": len(gzip.compress(data, 9)),
                "brotli": len(brotli.compress(data, quality=11))})
print(json.dumps(out))
PY
encoding=$(curl -fsS -o /dev/null -D - -H 'Accept-Encoding: br, gzip' "$APP/pkg/ops-center-credits.wasm" \
    | awk -F': ' 'tolower($1) == "content-encoding" { gsub("\r", "", $2); print $2 }')
record "{\"workload\":\"browser-files\",\"system\":\"app\",\"concurrency\":0,\"served_encoding\":\"${encoding:-identity}\",\"files\":$(cat "$RUN/site-sizes.json")}"
out=$(node "$ROOT/bench/tti.mjs" "$APP/credits" "$COOKIE" "${BENCH_TTI_RUNS:-5}" 2>"$RUN/tti.err") \
    || { cat "$RUN/tti.err" >&2; die "time to interactive: no measurement (see above)"; }
record "$(with_fields "$out" '{"workload":"browser-tti","system":"app","concurrency":1}')"
echo "  /credits: $out"
fi

# --- workload 8: several instances behind a load balancer ------------------
if runs instances; then
command -v haproxy >/dev/null || { say "apt: installing haproxy"; apt_install haproxy; }
INSTANCE_C=${BENCH_INSTANCE_CONCURRENCY:-32}
INSTANCE_PORTS=("$APP_PORT") EXTRA_PIDS=()
LB_PORT=$(free_port)
INSTANCES=${BENCH_INSTANCES:-"1 2 4"}
for k in $INSTANCES; do
    while [ ${#INSTANCE_PORTS[@]} -lt "$k" ]; do
        port=$(free_port)
        start_service "app-$(( ${#INSTANCE_PORTS[@]} + 1 ))" "http://127.0.0.1:$port/healthz" \
            env -C "$BENCH_DIR" LEPTOS_SITE_ROOT="$SITE" LEPTOS_SITE_ADDR="127.0.0.1:$port" "$REL/ops-center-credits"
        INSTANCE_PORTS+=("$port") EXTRA_PIDS+=("${SERVICE_PIDS[-1]}")
    done
    {
        printf 'global\n    maxconn 4096\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n'
        printf 'frontend webhooks\n    bind 127.0.0.1:%s\n    default_backend apps\nbackend apps\n    balance roundrobin\n' "$LB_PORT"
        for i in "${!INSTANCE_PORTS[@]}"; do
            [ "$i" -lt "$k" ] && printf '    server app%s 127.0.0.1:%s\n' "$i" "${INSTANCE_PORTS[$i]}"
        done
    } >"$RUN/haproxy-$k.cfg"
    start_service "haproxy-$k" "http://127.0.0.1:$LB_PORT/healthz" haproxy -db -f "$RUN/haproxy-$k.cfg"
    LB_PID=${SERVICE_PIDS[-1]}
    seed_pending "cs_bench_i$k" "$RUN/instances-$k.sessions"
    sql $APP_DB "analyze credit_purchases"
    say "instances: $k behind haproxy, webhook at concurrency $INSTANCE_C, $N deliveries"
    out=$(drive "instances-$k" "http://127.0.0.1:$LB_PORT/api/v1/billing/credits/webhook" "$STRIPE_WEBHOOK_SECRET_CREDITS" \
        "$RUN/instances-$k.sessions" "$INSTANCE_C")
    verify_app "$INSTANCE_C" "cs_bench_i${k}"
    # Redelivered through the balancer, so to other instances: nothing changes.
    head -n 400 "$RUN/instances-$k.sessions" >"$RUN/instances-$k.redeliver"
    drive "instances-$k-redeliver" "http://127.0.0.1:$LB_PORT/api/v1/billing/credits/webhook" "$STRIPE_WEBHOOK_SECRET_CREDITS" \
        "$RUN/instances-$k.redeliver" 16 >/dev/null
    verify_app "$INSTANCE_C" "cs_bench_i${k}"
    record "$(with_fields "$out" "{\"workload\":\"instances\",\"system\":\"app\",\"instances\":$k,\"verified\":true}")"
    echo "  $k instance(s): $out"
    kill "$LB_PID" 2>/dev/null; wait "$LB_PID" 2>/dev/null || true
done
for pid in "${EXTRA_PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; done
fi

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
        t0=$(cpu_ticks)
        out=$(BENCH_USERS=$users_file BENCH_TOKEN=$GATEWAY BENCH_RUN="$target-$c" SECONDS_PER_RUN=$SPEND_SECONDS \
            wrk_run "spend-$target-c$c" "$c" "$APP/api/v1/billing/credits/spend" -s "$ROOT/bench/spend.lua")
        out=$(with_fields "$out" "$(cpu_fields "$t0" "$(cpu_ticks)" "$out")")
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

# --- workload 7: scale of data ------------------------------------------------
if runs scale; then
# The admin views at 10k, 100k and 1M purchases: purchases are added (a
# year of them, every status, four packages, 1,000 users) until the table
# holds each size; then each admin endpoint for SCALE_SECONDS at
# concurrency 4 with an admin's token, the dashboard page with an admin's
# session, the whole CSV export, and EXPLAIN (ANALYZE, BUFFERS) of the hot
# queries.
SCALE_SECONDS=${BENCH_SCALE_SECONDS:-5}
ADMIN_TOKEN=$(token admin admin-password)
ADMIN_COOKIE=$("$PY" "$ROOT/bench/bench.py" login "$APP" admin admin-password)
ROWS="p.id, p.user_id, u.email as user_email, u.name as user_name, p.package_code, p.package_name,
      p.amount_credits, p.amount_paid_cents, p.refunded_cents, p.status, p.created_at, p.completed_at,
      p.stripe_checkout_session_id, p.stripe_payment_intent_id, p.review_reason"
TODAY=$(date -u +%F)
day_ago() { date -u -d "$TODAY - $1 days" +%F; }
SCALES=${BENCH_SCALES:-"10000 100000 1000000"}
for size in $SCALES; do
    have=$(sql $APP_DB "select count(*) from credit_purchases")
    if [ "$have" -lt "$size" ]; then
        say "scale: adding $(( size - have )) purchases (to $size)"
        sql $APP_DB "insert into credit_purchases (user_id, package_code, package_name, amount_credits,
                amount_paid_cents, status, refunded_cents, created_at, completed_at, review_reason,
                stripe_checkout_session_id, stripe_payment_intent_id)
            select u.id, p.code, initcap(p.code) || ' Pack', p.credits, p.cents, s.status,
                   case s.status when 'refunded' then p.cents when 'partially_refunded' then p.cents / 2 else 0 end,
                   t.at,
                   case when s.status in ('completed', 'refunded', 'partially_refunded', 'disputed') then t.at + interval '2 minutes' end,
                   case when s.status = 'needs_review' then 'amount' end,
                   'cs_scale_' || $have || '_' || n, 'pi_scale_' || $have || '_' || n
            from generate_series(1, $(( size - have ))) n
            cross join lateral (select now() - (n % 365) * interval '1 day' - (n % 1440) * interval '1 minute' as at) t
            cross join lateral (select (array['starter', 'standard', 'pro', 'enterprise'])[1 + n % 4] as code,
                    (array[1000, 5000, 10000, 50000])[1 + n % 4]::bigint as credits,
                    (array[1000, 4500, 8000, 35000])[1 + n % 4]::bigint as cents) p
            cross join lateral (select (array['completed', 'completed', 'completed', 'completed', 'completed', 'pending',
                    'expired', 'failed', 'refunded', 'partially_refunded', 'disputed', 'needs_review'])[1 + n % 12] as status) s
            join users u on u.keycloak_sub = 'bench-user-' || (1 + n % 1000)"
    fi
    sql $APP_DB "vacuum analyze credit_purchases"
    sql $APP_DB "select purchase_rollups_compact()" >/dev/null
    have=$(sql $APP_DB "select count(*) from credit_purchases")
    deep=$(sql $APP_DB "select 't' || (extract(epoch from created_at) * 1000000)::bigint || '.' || replace(id::text, '-', '')
        from credit_purchases order by created_at desc, id desc offset $(( have * 9 / 10 )) limit 1")
    api=$APP/api/v1/billing/credits/admin
    for probe in \
        "list-first|$api/purchases?limit=50" \
        "list-filtered|$api/purchases?limit=50&status=completed&package=pro&from=$(day_ago 90)" \
        "list-user|$api/purchases?limit=50&user=bench-user-42%40" \
        "list-deep|$api/purchases?limit=50&cursor=$deep" \
        "list-by-amount|$api/purchases?limit=50&sort=amount&order=desc" \
        "stats-7d|$api/stats?from=$(day_ago 6)&to=$TODAY" \
        "stats-30d|$api/stats?from=$(day_ago 29)&to=$TODAY" \
        "stats-90d|$api/stats?from=$(day_ago 89)&to=$TODAY"; do
        name=${probe%%|*} url=${probe#*|}
        out=$(SECONDS_PER_RUN=$SCALE_SECONDS wrk_run "scale-$size-$name" 4 "$url" -H "Authorization: Bearer $ADMIN_TOKEN")
        record "$(with_fields "$out" "{\"workload\":\"scale\",\"system\":\"app\",\"concurrency\":4,\"purchases\":$have,\"probe\":\"$name\"}")"
        echo "  $size $name: $out"
    done
    for page in "/admin/credits" "/admin/credits?status=completed&package=pro"; do
        out=$(SECONDS_PER_RUN=$SCALE_SECONDS wrk_run "scale-$size-page" 4 "$APP$page" -H "Cookie: $ADMIN_COOKIE" -H "Accept: text/html")
        record "$(with_fields "$out" "{\"workload\":\"scale\",\"system\":\"app\",\"concurrency\":4,\"purchases\":$have,\"probe\":\"page $page\"}")"
        echo "  $size page $page: $out"
    done
    # The whole export, streamed: time to the first byte and to the last,
    # its size, and the app's resident memory before and at the end.
    rss0=$(status_kib VmRSS)
    csv=$(curl -fsS -o "$RUN/scale-$size.csv" -w '{"ttfb_s":%{time_starttransfer},"total_s":%{time_total},"bytes":%{size_download}}' \
        -H "Authorization: Bearer $ADMIN_TOKEN" "$api/purchases/export")
    lines=$(( $(wc -l <"$RUN/scale-$size.csv") - 1 ))
    [ "$lines" = "$have" ] || die "scale $size: the export has $lines rows for $have purchases"
    rm -f "$RUN/scale-$size.csv"
    record "$(with_fields "$csv" "{\"workload\":\"scale-export\",\"system\":\"app\",\"concurrency\":1,\"purchases\":$have,\"rows\":$lines,\"rss_before_mib\":$(( rss0 / 1024 )),\"rss_after_mib\":$(( $(status_kib VmRSS) / 1024 ))}")"
    echo "  $size export: $csv"
    # The hot queries' plans, as the app sends them.
    plans=$RUN/plans-$size && mkdir -p "$plans"
    explain() { sql $APP_DB "explain (analyze, buffers) $2" >"$plans/$1.txt"; }
    explain list-first "select $ROWS from credit_purchases p join users u on u.id = p.user_id where true
        order by p.created_at desc, p.id desc limit 51"
    explain list-filtered "select $ROWS from credit_purchases p join users u on u.id = p.user_id
        where true and p.status = 'completed' and p.package_code = 'pro' and p.created_at >= '$(day_ago 90)'
        order by p.created_at desc, p.id desc limit 51"
    explain list-deep "select $ROWS from credit_purchases p join users u on u.id = p.user_id where true
        and (p.created_at, p.id) < (select created_at, id from credit_purchases order by created_at desc, id desc
                                    offset $(( have * 9 / 10 )) limit 1)
        order by p.created_at desc, p.id desc limit 51"
    explain list-by-amount "select $ROWS from credit_purchases p join users u on u.id = p.user_id where true
        order by p.amount_paid_cents desc, p.id desc limit 51"
    explain count "select coalesce(sum(started), 0)::bigint from purchase_rollup_parts where true and status = 'completed'"
    explain figures-90d "select coalesce(sum(revenue_cents) filter (where status = any('{completed,refunded,partially_refunded,disputed}')), 0)::bigint,
            coalesce(sum(started), 0)::bigint from purchase_rollup_parts
        where day >= '$(day_ago 89)' and day < '$TODAY'::date + 1"
    explain export "select $ROWS from credit_purchases p join users u on u.id = p.user_id where true
        order by p.created_at desc, p.id desc"
    for f in "$plans"/*.txt; do
        record "$("$PY" -c 'import json,sys; print(json.dumps({"workload":"scale-plan","system":"postgres","concurrency":0,
            "purchases":int(sys.argv[1]),"query":sys.argv[2],"plan":open(sys.argv[3]).read()}))' "$have" "$(basename "$f" .txt)" "$f")"
    done
done
fi

say "writing the report"
PERF_MD=$ROOT/docs/PERFORMANCE.md
[ "$WORKLOADS" = "$ALL_WORKLOADS" ] || PERF_MD=""
"$PY" "$ROOT/bench/bench.py" report "$RUN" "$ROOT/bench/results/$STAMP.json" "$ROOT/bench/results/$STAMP.md" \
    "$PERF_MD"
cat "$ROOT/bench/results/$STAMP.md"
say "report: docs/PERFORMANCE.md, bench/results/$STAMP.{json,md} (raw output: $RUN)"
