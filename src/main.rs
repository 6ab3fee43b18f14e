//! The `remedy` command-line tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// Turn GuardDuty findings into safe, audited remediation.
#[derive(Debug, Parser)]
#[command(name = "remedy", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read findings of any shape and print one normalized JSON object per finding.
    Parse(cmd::parse::ParseArgs),
    /// Compile and validate a policy directory (rustc-style diagnostics, exit 1 on error).
    Check(cmd::check::Args),
    /// Print the plan the policies make for each finding (JSON per line, or `--format text`).
    Eval(cmd::eval::Args),
    /// Compare two policy sets over a history of findings (gzip and directories too): what the
    /// candidate would change, with the guards simulated on the findings' clock (`--config`).
    Replay(cmd::replay::Args),
    /// Carry out the plans for findings: a dry run unless `--execute`; JSON records on stdout.
    Run(cmd::run::Args),
    /// Run the decision tests in `POLICY_DIR/tests/*.toml` (`ok`/`FAIL` per case, exit 1 on failure).
    Test(cmd::test::Args),
    /// Look after the idempotency ledger: `reconcile` lists (and finishes) what interrupted runs left.
    #[command(subcommand)]
    Ledger(cmd::ledger::Command),
    /// List the actions waiting for a person's approval (one JSON object per request, with its `id`).
    Pending(cmd::approval::PendingArgs),
    /// Approve a waiting action: it runs now, through every guard again.
    Approve(cmd::approval::DecideArgs),
    /// Deny a waiting action: it is not carried out.
    Deny(cmd::approval::DecideArgs),
    /// Apply the timeout (`[approval] on_timeout`) of every expired request, and delete the
    /// expired suppression filters (`suppress_similar`) of `[writeback] suppression_regions`.
    Expire(cmd::approval::ExpireArgs),
    /// Reverse what one executed action did, as its audit record says (a dry run unless `--execute`).
    Undo(cmd::undo::Args),
    /// The audit trail: `verify` checks its hash chain and HMAC and names the first bad line.
    #[command(subcommand)]
    Audit(cmd::audit::Command),
    /// The shared state table (`[state] dynamodb_table`): `init` creates it; `status`, `stop` and
    /// `resume` show and set the kill switch every worker obeys.
    #[cfg(feature = "aws")]
    #[command(subcommand)]
    State(cmd::state::Command),
    /// Needs the `aws` feature, which this build lacks.
    #[cfg(not(feature = "aws"))]
    #[command(hide = true)]
    State(cmd::Absent),
    /// Serve Slack's interactions: the Approve and Deny buttons of pending actions (feature `chat`).
    #[cfg(feature = "chat")]
    Serve(cmd::serve::Args),
    /// Needs the `chat` feature, which this build lacks.
    #[cfg(not(feature = "chat"))]
    #[command(hide = true)]
    Serve(cmd::Absent),
    /// Long-poll an SQS queue and carry out the plans of its findings (feature `sqs`).
    #[cfg(feature = "sqs")]
    Worker(cmd::worker::Args),
    /// Needs the `sqs` feature, which this build lacks.
    #[cfg(not(feature = "sqs"))]
    #[command(hide = true)]
    Worker(cmd::Absent),
}

fn main() -> ExitCode {
    cmd::init_tracing();
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => cmd::parse::run(&args),
        Command::Check(args) => cmd::check::run(args),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Replay(args) => cmd::replay::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Test(args) => cmd::test::run(args),
        Command::Ledger(command) => cmd::ledger::run(command),
        Command::Undo(args) => cmd::undo::run(args),
        Command::Audit(command) => cmd::audit::run(command),
        Command::Pending(args) => cmd::approval::pending(args),
        Command::Approve(args) => cmd::approval::decide(args, true),
        Command::Deny(args) => cmd::approval::decide(args, false),
        Command::Expire(args) => cmd::approval::expire(args),
        #[cfg(feature = "aws")]
        Command::State(command) => cmd::state::run(command),
        #[cfg(not(feature = "aws"))]
        Command::State(_) => cmd::absent("state", "aws"),
        #[cfg(feature = "chat")]
        Command::Serve(args) => cmd::serve::run(args),
        #[cfg(not(feature = "chat"))]
        Command::Serve(_) => cmd::absent("serve", "chat"),
        #[cfg(feature = "sqs")]
        Command::Worker(args) => cmd::worker::run(args),
        #[cfg(not(feature = "sqs"))]
        Command::Worker(_) => cmd::absent("worker", "sqs"),
    }
}
