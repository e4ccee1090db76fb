use std::process::ExitCode;

use backend::Config;
use ops_center_credits::{Application, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    // A .env file is a development convenience; real environments set variables.
    let _ = dotenvy::dotenv();
    telemetry::init();

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
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
