//! `remedy check POLICY_DIR`: compile and validate policies, rustc-style diagnostics on stderr.

use std::process::ExitCode;

use super::{PolicyArgs, inert};

/// Compile and validate policies: errors and warnings rustc-style on stderr, one `ok` line per
/// policy on stdout. Exits 1 on any error (and on any warning with `--deny-warnings`).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    policies: PolicyArgs,
    /// Treat warnings (an `APPLIES_TO` glob that matches no known type, a JSONPath naming no
    /// field, ...) as errors.
    #[arg(long)]
    deny_warnings: bool,
}

pub(crate) fn run(args: Args) -> ExitCode {
    let Ok((assembly, set)) = args.policies.load(false) else {
        return ExitCode::FAILURE;
    };
    // With a configuration: a literal channel it routes nowhere fails now, not at the first run.
    if args.policies.config.is_some() {
        let notify = &assembly.config().notify;
        if notify.default.is_none() {
            let unrouted: Vec<String> = set
                .notify_channels()
                .into_iter()
                .filter(|c| !notify.channels.contains_key(c))
                .map(|c| format!("`{}`", inert(&c)))
                .collect();
            if !unrouted.is_empty() {
                eprintln!(
                    "error: the policies notify {} which `[notify]` routes nowhere: add {} to \
                     `[notify.channels]`, or set `[notify] default`",
                    unrouted.join(", "),
                    if unrouted.len() == 1 { "it" } else { "them" }
                );
                return ExitCode::FAILURE;
            }
        }
    }
    for policy in set.policies() {
        // The sources, when the policy sees more than GuardDuty's findings.
        let sources = match policy.sources() {
            [remedy::finding::FindingSource::GuardDuty] => String::new(),
            sources => {
                let names: Vec<&str> = sources.iter().map(|s| s.as_str()).collect();
                format!("  (sources: {})", names.join(", "))
            }
        };
        println!(
            "ok  {:<40} {}  {}{sources}",
            inert(policy.name()),
            policy.version(),
            inert(&policy.applies_to().join(", "))
        );
    }
    let warnings = set.warnings().len();
    let dirs: Vec<String> = args
        .policies
        .dirs()
        .iter()
        .map(|d| format!("`{}`", inert(&d.display().to_string())))
        .collect();
    println!(
        "{} policies in {} compiled (version {}){}",
        set.len(),
        dirs.join(", "),
        set.version(),
        match warnings {
            0 => String::new(),
            1 => ", 1 warning".to_owned(),
            n => format!(", {n} warnings"),
        }
    );
    if args.deny_warnings && warnings > 0 {
        eprintln!("error: warnings are denied (--deny-warnings)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
