# The embedded development defaults (DESIGN.md §3), applied only where the
# environment or .env leaves a variable unset. Source it after lib.sh with
# PG_URL set. None of these values is a real secret.


: "${LEPTOS_SITE_ADDR:=127.0.0.1:3000}"
: "${APP_BASE_URL:=http://$LEPTOS_SITE_ADDR}"
: "${DATABASE_URL:=$PG_URL/ops_center_credits}"
: "${STRIPE_SECRET_KEY:=sk_test_emulator_dev}"
: "${STRIPE_API_BASE:=http://127.0.0.1:12111}"
: "${STRIPE_WEBHOOK_SECRET_CREDITS:=whsec_dev_credits}"
: "${STRIPE_WEBHOOK_SECRET:=whsec_dev_subscriptions}"
: "${OIDC_ISSUER_URL:=http://127.0.0.1:8180/realms/ops-center}"
: "${OIDC_CLIENT_ID:=ops-center-credits}"
: "${OIDC_CLIENT_SECRET:=dev-only-client-secret}"
export LEPTOS_SITE_ADDR APP_BASE_URL DATABASE_URL STRIPE_SECRET_KEY STRIPE_API_BASE \
    STRIPE_WEBHOOK_SECRET_CREDITS STRIPE_WEBHOOK_SECRET OIDC_ISSUER_URL OIDC_CLIENT_ID OIDC_CLIENT_SECRET
