//! `remedy state init|status|stop|resume --config F`: the shared state table and its kill switch.

use std::path::PathBuf;
use std::process::ExitCode;

use remedy::Config;
use remedy::aws::{AwsSettings, StateTable, TableInit};
use remedy::store::ledger::{Owner, now_secs};
use remedy::store::state::{StateStore, Stop};
use serde_json::json;

use super::inert;

/// What to do with the shared state.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Create the `[state]` DynamoDB table (on-demand billing, time to live on `ttl`, the
    /// `claims` index); an existing table is fine.
    Init(Args),
    /// Show the shared kill switch and the circuit breaker (JSON on stdout).
    Status(Args),
    /// Engage the shared kill switch: every worker using the table stops destructive actions
    /// from its next action on.
    Stop(StopArgs),
    /// Release the shared kill switch.
    Resume(Args),
}

/// The configuration whose `[state]` names the table.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The configuration file (its `[state] dynamodb_table` and `[aws]` are used).
    #[arg(long)]
    config: PathBuf,
}

/// `remedy state stop`.
#[derive(Debug, clap::Args)]
pub(crate) struct StopArgs {
    #[command(flatten)]
    args: Args,
    /// Why, for the records and for whoever resumes.
    #[arg(long, default_value = "stopped with `remedy state stop`")]
    reason: String,
}

pub(crate) fn run(command: Command) -> ExitCode {
    super::runtime(async move {
        match state(command).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// The table of the configuration at `path`.
async fn table(path: &std::path::Path) -> Result<StateTable, String> {
    let config = Config::from_path(path).map_err(|e| e.to_string())?;
    let settings = AwsSettings::from_config(&config.aws);
    StateTable::from_config(&config, &settings)
        .await
        .ok_or_else(|| format!("`{}` has no `[state] dynamodb_table`", path.display()))
}

/// Who is at the keyboard: `user@host`.
fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("{user}@{}", Owner::current().host)
}

async fn state(command: Command) -> Result<(), String> {
    match command {
        Command::Init(args) => {
            let table = table(&args.config).await?;
            let created = table.init().await.map_err(|e| e.to_string())?;
            let created = created == TableInit::Created;
            println!("{}", json!({ "table": table.name(), "created": created }));
            eprintln!(
                "remedy: table `{}` {}",
                inert(table.name()),
                if created { "created" } else { "exists already" }
            );
        }
        Command::Status(args) => {
            let table = table(&args.config).await?;
            let store = table.state();
            let stop = store.stop().await.map_err(|e| e.to_string())?;
            let breaker = store.breaker(now_secs()).await.map_err(|e| e.to_string())?;
            println!(
                "{}",
                json!({ "table": table.name(), "stop": stop, "breaker": breaker })
            );
            match &stop {
                Some(stop) => eprintln!("kill switch: engaged ({})", inert(&stop.to_string())),
                None => eprintln!("kill switch: released"),
            }
            match &breaker {
                Some(b) => eprintln!(
                    "circuit breaker: open for {} s more ({}, tripped at {} by {})",
                    b.open_until.saturating_sub(now_secs()),
                    inert(&b.cause),
                    inert(&b.at),
                    inert(&b.by)
                ),
                None => eprintln!("circuit breaker: closed"),
            }
        }
        Command::Stop(args) => {
            let table = table(&args.args.config).await?;
            let stop = Stop::new(operator(), args.reason);
            table
                .state()
                .set_stop(Some(&stop))
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", json!({ "table": table.name(), "stop": stop }));
            eprintln!(
                "remedy: kill switch engaged in table `{}`: every worker stops destructive \
                 actions",
                inert(table.name())
            );
        }
        Command::Resume(args) => {
            let table = table(&args.config).await?;
            table
                .state()
                .set_stop(None)
                .await
                .map_err(|e| e.to_string())?;
            println!("{}", json!({ "table": table.name(), "stop": null }));
            eprintln!(
                "remedy: kill switch released in table `{}`",
                inert(table.name())
            );
        }
    }
    Ok(())
}
