//! `remedy-lambda`: the AWS Lambda function (feature `lambda`). Handles SQS batches (with
//! partial batch failures) and EventBridge events through the same pipeline as the CLI.
//!
//! Configuration from the environment: `REMEDY_POLICIES` (the policy directory; default
//! `policies` next to the binary's bundle, `$LAMBDA_TASK_ROOT/policies`), `REMEDY_CONFIG` (a
//! configuration file), `REMEDY_EXECUTE=1` (carry the actions out; otherwise a dry run),
//! `REMEDY_STATE_TABLE` (the shared state table, unless the configuration's `[state]` names one).
//! Policies are compiled once per cold start.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lambda_runtime::{Error, LambdaEvent, service_fn};
use remedy::lambda::{
    Response, handle_decision, handle_event, handle_function_url, is_decision, is_function_url,
};
use remedy::pipeline::Assembly;
use remedy::serve::SlackInteractions;
use remedy::{Config, Pipeline};
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
    let (pipeline, expires, interactions) = pipeline().await?;
    let pipeline = &pipeline;
    let interactions = interactions.as_ref();
    let last_expire = &std::sync::Mutex::new(None::<Instant>);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        if is_decision(&event.payload) {
            return Ok::<Value, Error>(
                handle_decision(pipeline.remediator(), &event.payload).await,
            );
        }
        if is_function_url(&event.payload) {
            return Ok::<Value, Error>(handle_function_url(interactions, &event.payload).await);
        }
        let response = match handle_event(pipeline, event.payload).await? {
            Response::Batch(batch) => serde_json::to_value(batch)?,
            _ => json!({ "status": "done" }),
        };
        if expires && due(last_expire) {
            expire(pipeline).await;
        }
        Ok::<Value, Error>(response)
    }))
    .await
}

/// How often (at most) an invocation applies the timeout of expired approval requests.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);

/// Whether the approval timeouts are due; marks them done now if they are.
fn due(last: &std::sync::Mutex<Option<Instant>>) -> bool {
    let mut last = last
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if last.is_some_and(|t| t.elapsed() < EXPIRE_EVERY) {
        return false;
    }
    *last = Some(Instant::now());
    true
}

/// Applies `[approval] on_timeout` to the expired requests; their records go to the audit sink.
async fn expire(pipeline: &Pipeline) {
    match pipeline.remediator().expire().await {
        Ok(reports) if !reports.is_empty() => tracing::info!(
            decided = reports.len(),
            "expired approval requests decided by their timeout"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!("cannot apply approval timeouts: {e}"),
    }
}

/// The pipeline of this cold start (policies, configuration and executors from the environment),
/// whether it applies approval timeouts (it executes and has `[approval]`), and the handler of
/// Slack's buttons when `[approval] notify` is a Slack channel with a signing secret.
async fn pipeline() -> Result<(Pipeline, bool, Option<SlackInteractions>), Error> {
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
    // The deployment template names the state table here; a configuration's `[state]` wins.
    if config.state.dynamodb_table.is_none()
        && let Ok(table) = std::env::var("REMEDY_STATE_TABLE")
        && !table.trim().is_empty()
    {
        config.state.dynamodb_table = Some(table.trim().to_owned());
        config.ledger.path = None;
    }
    // The configuration's host kinds, `[reach]` and documents, its names checked against the
    // policies, the executors, the shared state and `[enrich]`: assembled as for `remedy run`.
    let assembly = Assembly::new(config).execute(execute);
    let set = assembly.load_policies(&[&policies])?;
    let pipeline = assembly.pipeline(set).await?;
    tracing::info!(
        policies = %policies.display(),
        execute,
        "remedy-lambda ready"
    );
    let expires = execute && assembly.config().approval.is_enabled();
    let interactions = match assembly.slack_interactions().await {
        Ok(handler) => Some(handler),
        Err(e) => {
            tracing::info!("no Slack buttons: {e}");
            None
        }
    };
    Ok((pipeline, expires, interactions))
}
