//! `remedy check POLICY_DIR`: compile and validate policies, rustc-style diagnostics on stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use remedy::PolicySet;

/// Compile and validate a policy directory; exit 1 on any error.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The policy directory.
    policy_dir: PathBuf,
}

pub(crate) fn run(args: Args) -> ExitCode {
    match PolicySet::from_dir(&args.policy_dir) {
        Ok(set) => {
            for policy in set.policies() {
                println!(
                    "ok  {:<40} {}  {}",
                    policy.name(),
                    policy.version(),
                    policy.applies_to().join(", ")
                );
            }
            println!(
                "{} policies in `{}` compiled (version {})",
                set.len(),
                args.policy_dir.display(),
                set.version()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            for diagnostic in err.diagnostics() {
                eprintln!("{:?}", miette::Report::new(diagnostic.clone()));
            }
            let n = err.diagnostics().len();
            eprintln!(
                "error: could not load policies from `{}` ({n} error{})",
                args.policy_dir.display(),
                if n == 1 { "" } else { "s" }
            );
            ExitCode::FAILURE
        }
    }
}
