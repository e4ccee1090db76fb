# The embedded development defaults (.env.example), applied only where the
# environment or .env leaves a variable unset. Source it after lib.sh with
# PG_URL set. None of these values is a real secret.
#
# It decides which local stand-ins to run: the Stripe emulator unless a
# Stripe key is configured (then the app talks to real Stripe), and the dev
# identity provider unless an OIDC issuer is configured (a real Keycloak).
# Ports: EMULATOR_PORT (12111) and IDP_PORT (8180) unless set.

: "${LEPTOS_SITE_ADDR:=127.0.0.1:3000}"
: "${APP_BASE_URL:=http://$LEPTOS_SITE_ADDR}"
: "${DATABASE_URL:=$PG_URL/ops_center_credits}"

USE_STRIPE_EMULATOR=
if [ -z "${STRIPE_SECRET_KEY:-}${STRIPE_API_KEY:-}" ]; then
    USE_STRIPE_EMULATOR=1
    : "${EMULATOR_PORT:=12111}"
    STRIPE_SECRET_KEY=sk_test_emulator_dev
    STRIPE_API_BASE=http://127.0.0.1:$EMULATOR_PORT
    : "${STRIPE_WEBHOOK_SECRET_CREDITS:=whsec_dev_credits}"
    : "${STRIPE_WEBHOOK_SECRET:=whsec_dev_subscriptions}"
    export STRIPE_SECRET_KEY STRIPE_API_BASE STRIPE_WEBHOOK_SECRET_CREDITS STRIPE_WEBHOOK_SECRET
fi

USE_DEV_IDP=
if [ -z "${OIDC_ISSUER_URL:-}" ]; then
    USE_DEV_IDP=1
    : "${IDP_PORT:=8180}"
    OIDC_ISSUER_URL=http://127.0.0.1:$IDP_PORT/realms/ops-center
    : "${OIDC_CLIENT_ID:=ops-center-credits}"
    : "${OIDC_CLIENT_SECRET:=dev-only-client-secret}"
    export OIDC_ISSUER_URL OIDC_CLIENT_ID OIDC_CLIENT_SECRET
    # Its service account: plans show up in the dev provider's users
    # ($OIDC_ISSUER_URL/dev/users).
    if [ -z "${KEYCLOAK_ADMIN_CLIENT_ID:-}" ]; then
        KEYCLOAK_ADMIN_CLIENT_ID=ops-center-credits-sync
        KEYCLOAK_ADMIN_CLIENT_SECRET=dev-only-sync-secret
        export KEYCLOAK_ADMIN_CLIENT_ID KEYCLOAK_ADMIN_CLIENT_SECRET
    fi
fi

# LAGO=fake: the Lago fake (tools/lago-fake) on LAGO_PORT (3100), unless a
# real Lago is configured. Off by default.
USE_LAGO_FAKE=
if [ "${LAGO:-}" = fake ] && [ -z "${LAGO_API_URL:-}" ]; then
    USE_LAGO_FAKE=1
    : "${LAGO_PORT:=3100}"
    LAGO_API_URL=http://127.0.0.1:$LAGO_PORT
    LAGO_API_KEY=dev-lago-key
    export LAGO_API_URL LAGO_API_KEY
fi

export LEPTOS_SITE_ADDR APP_BASE_URL DATABASE_URL

# start_stripe_emulator: runs the emulator (built by cargo) with the seeded
# catalogue and webhooks pointed at this app, if this environment uses it.
start_stripe_emulator() {
    [ -n "$USE_STRIPE_EMULATOR" ] || return 0
    cargo_plain build -q -p stripe-emulator
    start_service stripe-emulator "$STRIPE_API_BASE/_emulator/health" \
        "$CARGO_TARGET_DIR/debug/stripe-emulator" --addr "127.0.0.1:$EMULATOR_PORT" \
        --public-url "$STRIPE_API_BASE" --seed \
        --webhook "$APP_BASE_URL/api/v1/billing/credits/webhook|${STRIPE_WEBHOOK_SECRET_CREDITS%%,*}" \
        --webhook "$APP_BASE_URL/api/v1/billing/webhooks/stripe|${STRIPE_WEBHOOK_SECRET%%,*}"
}

# start_dev_idp [DATA_DIR]: runs the dev identity provider (tools/dev-idp) on
# IDP_PORT, if this environment uses it. Its signing key lives in DATA_DIR
# (default $CACHE_DIR/dev-idp), so sessions' cached keys survive restarts.
start_dev_idp() {
    [ -n "$USE_DEV_IDP" ] || return 0
    local data_dir=${1:-$CACHE_DIR/dev-idp}
    start_service dev-idp "$OIDC_ISSUER_URL/.well-known/openid-configuration" \
        node "$ROOT/tools/dev-idp/server.mjs" --port "$IDP_PORT" --data-dir "$data_dir"
}

# start_lago_fake: runs the Lago fake if this environment uses it (LAGO=fake).
start_lago_fake() {
    [ -n "$USE_LAGO_FAKE" ] || return 0
    start_service lago-fake "$LAGO_API_URL/_fake/state" \
        node "$ROOT/tools/lago-fake/server.mjs" --port "$LAGO_PORT" --api-key "$LAGO_API_KEY"
}

# sync_stripe_catalogue: gives every package a product and price in the
# emulator (idempotent: `ops-center-credits sync-stripe-catalogue`). With real
# Stripe keys, run that command yourself once (see README).
sync_stripe_catalogue() {
    [ -n "$USE_STRIPE_EMULATOR" ] || return 0
    cargo_plain build -q -p ops-center-credits
    say "syncing the package catalogue to the Stripe emulator"
    env -C "$CACHE_DIR" "$CARGO_TARGET_DIR/debug/ops-center-credits" sync-stripe-catalogue
}
