//! `remedy test [POLICY_DIR]`: run the decision tests in `POLICY_DIR/tests/*.toml`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Run the decision tests next to the policies (`POLICY_DIR/tests/*.toml`).
///
/// Prints one line per case (`ok` or `FAIL`, the case file and the case's name), the difference
/// between the expected and the chosen actions under each failure with why each policy did or
/// did not decide, and a final line `N passed, M failed`; the policies' load warnings and the
/// policies that contradict each other on the cases' findings (as `remedy check` finds them) go
/// to stderr. A policy without any case is a failure. Exits 1 on any failure.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The policy directory.
    #[arg(default_value = "policies")]
    policy_dir: PathBuf,
    /// Another policy directory loaded into the same set; its `tests/` run too. Repeatable.
    #[arg(long = "with", value_name = "DIR")]
    more: Vec<PathBuf>,
    /// The configuration file (TOML): host action kinds, `[reach]`, `run_command` documents.
    #[arg(long)]
    config: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> ExitCode {
    let Ok(config) = super::load_config(args.config.as_deref()) else {
        return ExitCode::FAILURE;
    };
    let builder = match remedy::pipeline::Assembly::new(config).policy_builder() {
        Ok(builder) => builder,
        Err(e) => {
            eprintln!("error: {}", super::inert(&e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    let dirs: Vec<PathBuf> = std::iter::once(args.policy_dir).chain(args.more).collect();
    let report = remedy::testing::run_dirs_with(&builder, &dirs);
    // The load's warnings and the contradictions `remedy check` reports, on stderr.
    for warning in &report.warnings {
        eprintln!("{:?}", miette::Report::new(warning.clone()));
    }
    for conflict in &report.conflicts {
        let text = format!("warning: {conflict}");
        for line in text.lines() {
            eprintln!("{}", super::inert(line));
        }
    }
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
