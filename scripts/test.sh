#!/usr/bin/env bash
# Command 2: set everything up and run every test: formatting and lints, the
# Rust tests (real PostgreSQL, a fresh database per test), and the browser
# tests (Playwright in Debian's Chromium) against the built app.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

started=$(date +%s)
bootstrap
ensure_postgres

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy"
cargo_plain clippy --workspace --exclude frontend --all-targets --locked -- -D warnings

say "dev identity provider and Lago fake tests"
npm test --prefix tools/dev-idp
npm test --prefix tools/lago-fake

say "Rust tests"
DATABASE_URL=$PG_URL/postgres cargo_plain test --workspace --exclude frontend --locked

wait_for_tools
say "building the app with cargo-leptos"
# --split: the admin and billing routes are lazy, their code in wasm chunks
# of their own (app/src/pages/lazy.rs); without it the wasm imports from a
# placeholder module.
cargo leptos build --split

say "browser tests"
E2E_PORT=$(free_port)
export LEPTOS_SITE_ADDR=127.0.0.1:$E2E_PORT
DATABASE_URL=$PG_URL/occ_e2e_$(date +%s)_$$
# Tests are hermetic: local stand-ins only, whatever this shell has exported.
unset STRIPE_SECRET_KEY STRIPE_API_KEY STRIPE_API_BASE STRIPE_WEBHOOK_SECRET_CREDITS STRIPE_WEBHOOK_SECRET \
    OIDC_ISSUER_URL OIDC_CLIENT_ID OIDC_CLIENT_SECRET KEYCLOAK_ADMIN_CLIENT_ID KEYCLOAK_ADMIN_CLIENT_SECRET LAGO LAGO_API_URL LAGO_API_KEY
EMULATOR_PORT=$(free_port) IDP_PORT=$(free_port)
source "$ROOT/scripts/app-env.sh"
start_stripe_emulator
IDP_DATA_DIR=$(mktemp -d)
STOP_HOOKS+=("rm -rf '$IDP_DATA_DIR'")
start_dev_idp "$IDP_DATA_DIR"
sync_stripe_catalogue
export LEPTOS_SITE_ROOT=$CARGO_TARGET_DIR/site LEPTOS_OUTPUT_NAME=ops-center-credits
STOP_HOOKS+=("psql -q '$PG_URL/postgres' -c 'drop database if exists \"${DATABASE_URL##*/}\" with (force)' >/dev/null")
# Run outside the clone so a developer's .env cannot leak into the tests.
start_service app "$APP_BASE_URL/readyz" env -C "$CACHE_DIR" "$CARGO_TARGET_DIR/debug/ops-center-credits"
# Traces and screenshots of failures, and a screenshot of every screen
# (light and dark, laptop and phone), kept outside the clone: the last five runs.
E2E_ARTIFACTS=$CACHE_DIR/e2e/$(date +%Y%m%dT%H%M%S)
mkdir -p "$E2E_ARTIFACTS"
ls -1d "$CACHE_DIR"/e2e/*/ | head -n -5 | xargs -r rm -rf
if ! (cd end2end && BASE_URL=$APP_BASE_URL OIDC_ISSUER_URL=$OIDC_ISSUER_URL \
    E2E_ARTIFACTS=$E2E_ARTIFACTS SCREENSHOTS_DIR=$E2E_ARTIFACTS/screenshots npx playwright test); then
    # The server's side of a failure, here too: the artifacts may not outlive the machine.
    cp "$LOG_DIR/app.log" "$E2E_ARTIFACTS/" 2>/dev/null || true
    say "the app's last warnings and errors (whole log: $E2E_ARTIFACTS/app.log)"
    grep -E 'WARN|ERROR' "$LOG_DIR/app.log" | tail -n 40 >&2 || true
    die "browser tests failed: traces and screenshots in $E2E_ARTIFACTS (npx playwright show-trace <trace.zip>)"
fi
say "screenshots of every screen: $E2E_ARTIFACTS/screenshots"

say "all tests passed in $(( $(date +%s) - started )) s"
