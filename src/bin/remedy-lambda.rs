//! `remedy-lambda`: the AWS Lambda function (feature `lambda`). Handles SQS batches (with
//! partial batch failures) and EventBridge events through the same engine as the CLI.
//!
//! Configuration from the environment: `REMEDY_POLICIES` (the policy directory; default
//! `policies` next to the binary's bundle, `$LAMBDA_TASK_ROOT/policies`), `REMEDY_CONFIG` (a
//! configuration file), `REMEDY_EXECUTE=1` (carry the actions out; otherwise a dry run).
//! Policies are compiled once per cold start.

use std::path::PathBuf;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use remedy::lambda::{Response, handle_event};
use remedy::{Config, Engine, PolicySet, Remediator};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .init();
    let engine = engine().await?;
    let engine = &engine;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        match handle_event(engine, event.payload).await? {
            Response::Batch(batch) => Ok::<Value, Error>(serde_json::to_value(batch)?),
            _ => Ok(json!({ "status": "done" })),
        }
    }))
    .await
}

/// The engine of this cold start: policies, configuration and executors from the environment.
async fn engine() -> Result<Engine, Error> {
    let execute = std::env::var("REMEDY_EXECUTE").is_ok_and(|v| v.trim() == "1");
    let policies = std::env::var_os("REMEDY_POLICIES").map_or_else(
        || {
            let root = std::env::var_os("LAMBDA_TASK_ROOT").unwrap_or_else(|| ".".into());
            PathBuf::from(root).join("policies")
        },
        PathBuf::from,
    );
    let mut config = match std::env::var_os("REMEDY_CONFIG") {
        Some(path) => Config::from_path(PathBuf::from(path))?,
        None => Config::default(),
    };
    if config.notify.channels.is_empty() && config.notify.default.is_none() {
        config.notify.default = Some("log".into());
    }
    let set = PolicySet::from_dir(&policies)?;
    let settings = remedy::aws::AwsSettings::from_config(&config.aws);
    let router = remedy::aws::router(&config, &settings).await;
    let mut builder = Remediator::builder(std::sync::Arc::new(router)).with_config(&config)?;
    // The shared state (ledger, rate windows, breaker, kill switch, approvals) of `[state]`.
    if let Some((ledger, state, approvals)) = remedy::aws::state_backends(&config, &settings).await
    {
        builder = builder
            .with_ledger(ledger)
            .with_state(state)
            .with_approval_store(approvals);
    }
    let remediator = builder.enforce(execute).build();
    tracing::info!(
        policies = %policies.display(),
        execute,
        "remedy-lambda ready"
    );
    Engine::new(set, remediator).map_err(|e| Error::from(e.to_string()))
}
