use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: a sixth of the `/credits` page's
/// CPU went to glibc's malloc and free (perf; docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use backend::Config;
use ops_center_credits::{Application, startup, telemetry};

const USAGE: &str =
    "usage: ops-center-credits [serve | sync-stripe-catalogue | reconcile | seed-demo --yes-this-is-dev]
  serve                   run the web server (the default)
  sync-stripe-catalogue   create or update a Stripe product and price for every package and
                          tier (and, with Lago configured, each tier's Lago plans)
  reconcile               correct our subscriptions from Stripe's, and settle pending purchases
                          whose webhook never came (as the server does every few minutes)
  seed-demo               development only: demo users and a few hundred purchases over 90 days
                          (refuses without --yes-this-is-dev, unless APP_BASE_URL is on localhost,
                          or with a live Stripe key; does nothing if demo data exists)";

#[tokio::main]
async fn main() -> ExitCode {
    // A .env file is a development convenience; real environments set variables.
    let _ = dotenvy::dotenv();
    telemetry::init();

    let command = std::env::args().nth(1);
    if !matches!(
        command.as_deref(),
        None | Some("serve" | "sync-stripe-catalogue" | "reconcile" | "seed-demo")
    ) {
        eprintln!("{USAGE}");
        return ExitCode::from(64);
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    if command.as_deref() == Some("sync-stripe-catalogue") {
        return sync_catalogue(config).await;
    }
    if command.as_deref() == Some("reconcile") {
        return reconcile(config).await;
    }
    if command.as_deref() == Some("seed-demo") {
        let confirmed = std::env::args()
            .skip(2)
            .any(|arg| arg == ops_center_credits::demo::CONFIRM_FLAG);
        return seed_demo(config, confirmed).await;
    }
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(error) => {
            eprintln!("startup failed: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("listening on http://{}", app.local_addr());
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("server error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn sync_catalogue(config: Config) -> ExitCode {
    let state = match startup::connect(config).await {
        Ok(state) => state,
        Err(error) => {
            eprintln!("startup failed: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    match backend::catalogue::sync(&state.pool, &state.stripe).await {
        Ok(report) => {
            for line in report {
                match (line.archived, line.price_id) {
                    (true, _) => println!("{:<28} archived", line.code),
                    (false, Some(price)) => println!("{:<28} {price}", line.code),
                    (false, None) => println!("{:<28} unchanged", line.code),
                }
            }
        }
        Err(error) => {
            eprintln!("sync failed: {}", ops_center_credits::error_chain(&error));
            return ExitCode::FAILURE;
        }
    }
    let Some(lago) = &state.systems.lago else {
        return ExitCode::SUCCESS;
    };
    match backend::sync::lago::sync_plans(&state.pool, lago).await {
        Ok(created) => {
            for code in created {
                println!("{code:<28} created in Lago");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("Lago plan sync failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn reconcile(config: Config) -> ExitCode {
    let state = match startup::connect(config).await {
        Ok(state) => state,
        Err(error) => {
            eprintln!("startup failed: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let grace = backend::sync::reconcile::PENDING_GRACE;
    match backend::sync::reconcile::run(&state, grace).await {
        Ok(Some(report)) if report.changes.is_empty() => {
            println!("nothing to correct");
            ExitCode::SUCCESS
        }
        Ok(Some(report)) => {
            for change in report.changes {
                println!("{change}");
            }
            ExitCode::SUCCESS
        }
        Ok(None) => {
            println!("another instance is reconciling now; nothing done");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!(
                "reconcile failed: {}",
                ops_center_credits::error_chain(&error)
            );
            ExitCode::FAILURE
        }
    }
}

async fn seed_demo(config: Config, confirmed: bool) -> ExitCode {
    if let Err(refusal) = ops_center_credits::demo::refuse_unless_dev(&config, confirmed) {
        eprintln!("seed-demo refused: {refusal}");
        return ExitCode::from(2);
    }
    let state = match startup::connect(config).await {
        Ok(state) => state,
        Err(error) => {
            eprintln!("startup failed: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    match ops_center_credits::demo::seed(&state.pool, chrono::Utc::now()).await {
        Ok(report) if report.seeded => {
            println!(
                "seeded {} users, {} purchases and {} ledger entries",
                report.users, report.purchases, report.ledger_entries
            );
            ExitCode::SUCCESS
        }
        Ok(_) => {
            println!("demo data exists already; nothing written");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!(
                "seeding failed: {}",
                ops_center_credits::error_chain(&error)
            );
            ExitCode::FAILURE
        }
    }
}
