use std::{net::SocketAddr, sync::OnceLock, time::Duration};

use anyhow::Context;
use app::{App, shell};
use axum::{
    Router,
    extract::FromRef,
    handler::Handler,
    middleware,
    routing::{get, post},
    serve::ListenerExt,
};
use backend::{AppState, Config};
use leptos::prelude::*;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;

use crate::{
    auth,
    reactive_owner::OwnerPerRequestLayer,
    routes::{self, health},
};

/// How often expired grants and holds are swept (`backend::wallet::sweep`).
const WALLET_SWEEP_EVERY: Duration = Duration::from_secs(30);
/// How often the purchase rollups' deltas are folded into their daily rows
/// (`backend::admin::compact_rollups`).
const ROLLUP_COMPACT_EVERY: Duration = Duration::from_secs(10);
/// How long shutdown waits for detached work (requests whose client hung
/// up) before the process exits anyway; under Kubernetes' default 30 s
/// between SIGTERM and SIGKILL.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

/// The shared state without a listener: for commands that run beside the
/// server (e.g. `sync-stripe-catalogue`). Connects to the database (creating
/// and migrating it). The OpenID provider is discovered on first use, not
/// here: the app starts (and serves public pages) while it is still down.
pub async fn connect(config: Config) -> anyhow::Result<AppState> {
    let pool = backend::db::connect_and_migrate(config.database_url.expose())
        .await
        .context("database setup failed")?;
    AppState::new(pool, config)
        .context("Stripe client setup failed")?
        .with_sync()
        .await
        .context("sync job queue setup failed")
}

/// Everything the router needs; handlers extract the part they use.
#[derive(Clone, FromRef)]
pub struct ServerState {
    pub leptos_options: LeptosOptions,
    pub app: AppState,
}

/// The running server, bound but not yet serving.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Connects to the database (creating and migrating it), builds the
    /// router and binds `config.site_addr` (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let site_addr = config.site_addr;
        let listener = TcpListener::bind(site_addr)
            .await
            .with_context(|| format!("cannot listen on {site_addr}"))?;
        Self::build_on(config, listener).await
    }

    /// Like [`Application::build`], serving on a listener the caller bound
    /// already (tests bind port 0 first, so they know the address to put in
    /// `APP_BASE_URL` without racing anyone for a "free" port).
    pub async fn build_on(config: Config, listener: TcpListener) -> anyhow::Result<Self> {
        let state = connect(config).await?;
        let leptos_options = leptos_options(listener.local_addr()?, &state.config.site_root);
        let router = router(ServerState {
            leptos_options,
            app: state.clone(),
        });
        Ok(Application {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the process gets Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes. Then it stops accepting, lets the
    /// open requests end, and waits (at most [`SHUTDOWN_GRACE`]) for work
    /// that outlives its client: a refund or a grant whose caller hung up
    /// still ends before the process does.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let detached = self.state.detached.clone();
        tokio::spawn(delete_expired_sessions(self.state.pool.clone()));
        self.state.outbox.start_workers();
        tokio::spawn(backend::sync::reconcile::every(
            self.state.clone(),
            self.state.config.reconcile_every,
        ));
        // Expired grants give back their credits, holds past their TTL close.
        tokio::spawn(backend::wallet::sweep_every(
            self.state.pool.clone(),
            WALLET_SWEEP_EVERY,
        ));
        // The admin figures' daily rollups stay small.
        tokio::spawn(backend::admin::compact_rollups_every(
            self.state.pool.clone(),
            ROLLUP_COMPACT_EVERY,
        ));
        // Without TCP_NODELAY a response written in several pieces (a
        // streamed file, the streamed page) waits for the client's delayed
        // ACK: 40 ms stalls (docs/PERFORMANCE.md).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY");
            }
        });
        // `into_make_service` settles the router's state once. Served as a
        // bare `Router`, axum re-applies the state to every route for each
        // new connection: a deep copy of the route table, about half a MiB
        // per open connection (heaptrack; docs/PERFORMANCE.md).
        axum::serve(listener, self.router.into_make_service())
            .with_graceful_shutdown(shutdown)
            .await?;
        let left = detached.finish(SHUTDOWN_GRACE).await;
        if left > 0 {
            tracing::error!(
                tasks = left,
                "stopping with detached work still running after {SHUTDOWN_GRACE:?}"
            );
        }
        Ok(())
    }
}

/// The app's routes, generated once a process. Generating them runs the
/// app under leptos_server's `SuppressResourceLoad`, a process-wide flag
/// while it lasts: a resource of any render first polled meanwhile never
/// loads, and its page never answers (leptos-rs/leptos#4773). One
/// application generates them before it serves; several in one process
/// (the tests' instances) would each stall the others' pages.
fn routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

fn router(state: ServerState) -> Router {
    let routes = routes();
    let app_state = state.app.clone();
    let app_state_for_layers = state.app.clone();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/auth/login", get(routes::auth::login))
        .route("/auth/callback", get(routes::auth::callback))
        .route(
            "/auth/logout",
            post(routes::auth::logout).get(routes::auth::logout_link),
        )
        .route("/preferences/theme", post(routes::preferences::set_theme))
        .nest(routes::api::BASE, routes::api::router())
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(app_state.clone());
                // A request's header and page (or server function) share
                // one read of the user's wallet and plan (backend::account).
                provide_context(backend::account::GlanceOnce::default());
            },
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback_service(
            leptos_axum::file_and_error_handler_with_context::<ServerState, _>(
                {
                    let app_state = app_state_for_layers.clone();
                    move || provide_context(app_state.clone())
                },
                shell,
            )
            .with_state(state.clone()),
        )
        // Innermost first: each request sees its own reactive owner only
        // (src/reactive_owner.rs); refresh needs the session; the
        // cross-site guard refuses forged requests before anything else
        // runs.
        .layer(OwnerPerRequestLayer)
        .layer(middleware::from_fn_with_state(
            app_state_for_layers.clone(),
            auth::refresh_session,
        ))
        .layer(auth::session_layer(&app_state_for_layers))
        .layer(middleware::from_fn_with_state(
            app_state_for_layers.clone(),
            auth::csrf::guard,
        ))
        // Outermost: a client hanging up never stops a write half-way
        // (the session is saved, too).
        .layer(middleware::from_fn_with_state(
            app_state_for_layers,
            crate::detach::detach_unsafe_methods,
        ))
        // Outermost: a panic anywhere below answers 500 JSON, logged.
        .layer(crate::catch_panic::layer())
        .with_state(state)
}

/// Removes expired sessions from the store every hour.
async fn delete_expired_sessions(pool: sqlx::PgPool) {
    use tower_sessions::session_store::ExpiredDeletion;
    let store = tower_sessions_sqlx_store::PostgresStore::new(pool);
    if let Err(error) = store
        .continuously_delete_expired(tokio::time::Duration::from_secs(3600))
        .await
    {
        tracing::warn!(error = %error, "expired-session cleanup stopped");
    }
}

/// Where cargo-leptos put the site (`Config::site_root`,
/// `LEPTOS_SITE_PKG_DIR`; it sets both when it runs the server) and the
/// address actually bound.
fn leptos_options(addr: SocketAddr, site_root: &str) -> LeptosOptions {
    // Unset or empty (as `.env.example` leaves them): the default.
    let env = |name: &str, default: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    LeptosOptions::builder()
        .output_name(env("LEPTOS_OUTPUT_NAME", "ops-center-credits"))
        .site_root(site_root)
        .site_pkg_dir(env("LEPTOS_SITE_PKG_DIR", "pkg"))
        .site_addr(addr)
        .reload_port(
            env("LEPTOS_RELOAD_PORT", "3001")
                .parse::<u32>()
                .unwrap_or(3001),
        )
        .build()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
