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
enum Command {}

fn main() -> ExitCode {
    cmd::init_tracing();
    let cli = Cli::parse();
    match cli.command {}
}
