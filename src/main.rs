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
}

fn main() -> ExitCode {
    cmd::init_tracing();
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => cmd::parse::run(&args),
    }
}
