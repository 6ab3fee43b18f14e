//! `remedy serve`: Slack's interactions (the Approve and Deny buttons) over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use remedy::pipeline::Assembly;

/// `remedy serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The address to listen on, e.g. `127.0.0.1:8080` (behind TLS: Slack calls HTTPS only).
    #[arg(long)]
    listen: SocketAddr,
    /// The policy directory (its names are checked against the configuration).
    policies: PathBuf,
    /// The configuration: `[approval]` with `notify` naming a `slack` channel that has a
    /// signing secret, and `approvers`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Carry approved actions out (without it, a click is answered and nothing is approved).
    #[arg(long)]
    execute: bool,
}

/// Serves `POST /slack/interactions` until SIGINT or SIGTERM.
pub(crate) fn run(args: Args) -> ExitCode {
    super::runtime(async move {
        let Ok(config) = super::load_config(args.config.as_deref()) else {
            return ExitCode::FAILURE;
        };
        let assembly = Assembly::new(config).execute(args.execute);
        if let Err(e) = assembly.load_policies(&[&args.policies]) {
            eprintln!("error: {}", super::inert(&e.to_string()));
            return ExitCode::FAILURE;
        }
        let handler = match assembly.slack_interactions().await {
            Ok(h) => Arc::new(h),
            Err(e) => {
                eprintln!("error: {}", super::inert(&e.to_string()));
                return ExitCode::FAILURE;
            }
        };
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        let shown = listener
            .local_addr()
            .map_or_else(|_| args.listen.to_string(), |a| a.to_string());
        eprintln!(
            "remedy: serving Slack interactions on http://{shown}/slack/interactions{}",
            if args.execute {
                ""
            } else {
                " (dry run: nothing is approved)"
            }
        );
        match remedy::serve::listen(listener, handler, stop()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Completes at SIGINT or SIGTERM.
async fn stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
