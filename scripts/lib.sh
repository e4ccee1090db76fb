# Shared by scripts/dev.sh and scripts/test.sh: installing what the build
# needs, finding or starting PostgreSQL, and running background services that
# stop when the script exits. Source it; don't run it.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${OCC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ops-center-credits}
LOG_DIR=$CACHE_DIR/logs
# Build outputs live outside the clone so every clone and CI run reuses them.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE_DIR/target}
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# leptos reads this at compile time (option_env!) to name the wasm file the
# page loads. cargo-leptos sets it; plain cargo must too, or the two builds
# share a leptos artifact that asks the browser for a file that isn't there.
export LEPTOS_OUTPUT_NAME=ops-center-credits
mkdir -p "$CACHE_DIR" "$LOG_DIR"

CARGO_LEPTOS_VERSION=0.3.10

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Plain cargo with the flags cargo-leptos uses for debug builds, so the two
# share one build cache instead of rebuilding each other's dependencies.
cargo_plain() { RUSTFLAGS="--cfg erase_components" cargo "$@"; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=
apt_install() {
    if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# Cargo never rebuilds a registry crate because an environment variable
# changed, so a cache built before LEPTOS_OUTPUT_NAME was exported keeps a
# leptos that names the wasm wrongly: rebuild those crates once.
forget_stale_leptos_build() {
    local stamp="$CARGO_TARGET_DIR/.occ-leptos-output-name"
    [ -f "$stamp" ] && return 0
    if [ -d "$CARGO_TARGET_DIR/debug" ]; then
        (cd "$ROOT" && cargo clean -q -p leptos -p leptos_config)
    fi
    mkdir -p "$CARGO_TARGET_DIR" && touch "$stamp"
}

# cargo-leptos and wasm-bindgen-cli compile from crates.io: the slowest part
# of a new machine. They build in the background (own target directories, so
# they never wait for cargo's lock on the main one) while fmt, clippy and the
# Rust tests run; `wait_for_tools` joins them before anything needs them.
# They are tools, not shipped code: optimised lightly, they build much faster.
TOOL_PIDS=()

install_tool() {
    local name=$1; shift
    say "cargo: installing $name in the background (once; log: $LOG_DIR/install-$name.log)"
    CARGO_TARGET_DIR="$CACHE_DIR/tools/$name" CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
        CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=true \
        cargo install --quiet "$@" >"$LOG_DIR/install-$name.log" 2>&1 &
    TOOL_PIDS+=("$!:$name")
}

start_tool_installs() {
    if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
        install_tool cargo-leptos "cargo-leptos@$CARGO_LEPTOS_VERSION" --locked --no-default-features --features no_downloads
    fi
    local wbg
    wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$ROOT/Cargo.lock")
    [ -n "$wbg" ] || die "wasm-bindgen not found in Cargo.lock"
    if ! wasm-bindgen --version 2>/dev/null | grep -q " $wbg\$"; then
        install_tool wasm-bindgen-cli wasm-bindgen-cli --version "=$wbg"
    fi
}

wait_for_tools() {
    local entry pid name
    for entry in "${TOOL_PIDS[@]}"; do
        pid=${entry%%:*} name=${entry#*:}
        say "waiting for the $name install"
        if ! wait "$pid"; then
            tail -n 40 "$LOG_DIR/install-$name.log" >&2 || true
            die "installing $name failed"
        fi
    done
    TOOL_PIDS=()
}

# Installs what is missing; quick when everything is present. The cargo tools
# may still be building when it returns: call `wait_for_tools` before using them.
bootstrap() {
    local missing=()
    command -v curl >/dev/null || missing+=(curl ca-certificates)
    [ -x /usr/bin/chromium ] || missing+=(chromium fonts-liberation)
    command -v psql >/dev/null || missing+=(postgresql-client)
    [ -n "$(pg_bindir)" ] && [ -x "$(pg_bindir)/initdb" ] || missing+=(postgresql)
    if [ ${#missing[@]} -gt 0 ]; then say "apt: installing ${missing[*]}"; apt_install "${missing[@]}"; fi

    command -v cargo >/dev/null || die "cargo not found: install Rust with rustup first"
    if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        say "rustup: adding wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown
    fi
    start_tool_installs
    local dir
    for dir in "$ROOT" "$ROOT"/end2end "$ROOT"/tools/*/ "$ROOT"/stripe-emulator/tests/sdk; do
        [ -f "$dir/package-lock.json" ] && npm_ci "$dir"
    done
    forget_stale_leptos_build
    command -v tailwindcss >/dev/null || die "tailwindcss missing after installing npm packages"
}

# Installs $1's locked npm packages, skipped when node_modules already matches
# package-lock.json. `npm install` rather than `npm ci`: the registry reachable
# here lacks other platforms' optional packages (tailwind's oxide binaries),
# so npm cannot write a lock that `npm ci` accepts; with the lock committed,
# `npm install` installs exactly the locked versions and leaves the lock as is.
npm_ci() {
    local dir=${1%/} stamp sum
    stamp="$dir/node_modules/.occ-lock-sha"
    sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && return 0
    say "npm: installing ${dir#"$ROOT"/}"
    # npm may still rewrite the lock (entries for other platforms): keep ours.
    cp "$dir/package-lock.json" "$dir/.package-lock.json.occ"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
    mv "$dir/.package-lock.json.occ" "$dir/package-lock.json"
    echo "$sum" >"$stamp"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
        || node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# --- background services --------------------------------------------------
# start_service NAME READY_URL COMMAND...: runs COMMAND in the background
# (log in $LOG_DIR/NAME.log), waits until READY_URL answers 2xx, and stops it
# when the script exits. Adding a service to dev or test is one call.

SERVICE_PIDS=()
STOP_HOOKS=()

stop_services() {
    local pid hook entry
    # An unfinished tool install resumes next time from its target directory.
    for entry in "${TOOL_PIDS[@]}"; do kill -TERM "${entry%%:*}" 2>/dev/null || true; done
    for pid in "${SERVICE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${SERVICE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    for hook in "${STOP_HOOKS[@]}"; do eval "$hook" || true; done
}
trap stop_services EXIT
trap 'exit 130' INT TERM

start_service() {
    local name=$1 ready=$2; shift 2
    local log="$LOG_DIR/$name.log"
    say "starting $name (log: $log)"
    "$@" >"$log" 2>&1 &
    local pid=$!
    SERVICE_PIDS+=("$pid")
    wait_ready "$name" "$ready" "$pid" "$log"
}

wait_ready() {
    local name=$1 url=$2 pid=$3 log=$4 i
    for i in $(seq 1 1200); do
        if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 40 "$log" >&2 || true
            die "$name exited before it was ready"
        fi
        sleep 0.25
    done
    tail -n 40 "$log" >&2 || true
    die "$name was not ready at $url after 300 s"
}

# --- PostgreSQL --------------------------------------------------------------
# Sets PG_URL (no database name): $DATABASE_URL's server when set, else the
# server on 127.0.0.1:5432 if one answers, else a project-local cluster
# created with initdb and started on a free port.

ensure_postgres() {
    if [ -n "${DATABASE_URL:-}" ]; then
        PG_URL=${DATABASE_URL%/*}
        return 0
    fi
    if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        PG_URL=postgres://postgres@127.0.0.1:5432
        return 0
    fi
    local bindir data owner port
    bindir=$(pg_bindir)
    [ -n "$bindir" ] || die "no PostgreSQL server binaries found"
    # PostgreSQL refuses to run as root: as root, the cluster belongs to the
    # postgres user, in a directory it can reach.
    if [ "$(id -u)" -eq 0 ]; then
        data=/var/lib/ops-center-credits/pgdata
        owner=postgres
        mkdir -p "$(dirname "$data")"
        chown "$owner" "$(dirname "$data")"
    else
        data=$CACHE_DIR/pgdata
        owner=$(id -un)
    fi
    local run=(); [ "$owner" = "$(id -un)" ] || run=(runuser -u "$owner" --)
    if [ ! -f "$data/PG_VERSION" ]; then
        say "creating a local PostgreSQL cluster in $data"
        "${run[@]}" "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    port=$(free_port)
    say "starting local PostgreSQL on 127.0.0.1:$port"
    "${run[@]}" "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w \
        -o "-p $port -c listen_addresses=127.0.0.1 -k $data" start >/dev/null
    STOP_HOOKS+=("${run[*]} $bindir/pg_ctl -D $data -m fast stop >/dev/null")
    PG_URL=postgres://postgres@127.0.0.1:$port
}
