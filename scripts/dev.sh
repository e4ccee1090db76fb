#!/usr/bin/env bash
# Command 1: set everything up and run the app at http://127.0.0.1:3000 with
# its embedded defaults. Ctrl-C stops the app and everything it started.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bootstrap
# Your .env (real Stripe keys, a real Keycloak) wins over the defaults.
if [ -f "$ROOT/.env" ]; then set -a; . "$ROOT/.env"; set +a; fi
ensure_postgres
source "$ROOT/scripts/app-env.sh"
start_stripe_emulator
start_dev_idp
start_lago_fake
sync_stripe_catalogue
# Demo users and purchases so the admin dashboard looks alive (development
# only; does nothing when demo data exists). SEED_DEMO=0 skips it.
if [ "${SEED_DEMO:-1}" != 0 ]; then
    cargo_plain build -q -p ops-center-credits
    say "seeding demo data"
    env -C "$CACHE_DIR" "$CARGO_TARGET_DIR/debug/ops-center-credits" seed-demo --yes-this-is-dev
fi

say "building and serving the app on http://$LEPTOS_SITE_ADDR (rebuilds on change)"
cd "$ROOT"
wait_for_tools
# --split: the admin and billing routes are lazy wasm chunks (app/src/pages/lazy.rs).
cargo leptos watch --split
