//! `remedy test [POLICY_DIR]`: run the decision tests in `POLICY_DIR/tests/*.toml`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Run the decision tests next to the policies (`POLICY_DIR/tests/*.toml`).
///
/// Prints one line per case (`ok` or `FAIL`, the case file and the case's name), the difference
/// between the expected and the chosen actions under each failure, and a final line
/// `N passed, M failed`. A policy without any case is a failure. Exits 1 on any failure.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The policy directory.
    #[arg(default_value = "policies")]
    policy_dir: PathBuf,
}

pub(crate) fn run(args: Args) -> ExitCode {
    let report = remedy::testing::run_dir(&args.policy_dir);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if write!(out, "{report}").and_then(|()| out.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
