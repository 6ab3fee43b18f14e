//! `remedy check POLICY_DIR`: compile and validate policies, rustc-style diagnostics on stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{PolicyArgs, inert};

/// Compile and validate policies: errors and warnings rustc-style on stderr, one `ok` line per
/// policy on stdout. Policies that contradict each other on the decision tests' findings (and
/// the `--findings`) are warnings too. Exits 1 on any error (and on any warning with `--deny-warnings`).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    policies: PolicyArgs,
    /// Treat warnings (an `APPLIES_TO` glob that matches no known type, a JSONPath naming no
    /// field, two policies that contradict each other, ...) as errors.
    #[arg(long)]
    deny_warnings: bool,
    /// More findings to compare the policies on (files of any shape `parse` reads, or
    /// directories of `.json` files), besides the decision tests' findings. Repeatable.
    #[arg(long = "findings", value_name = "PATH")]
    findings: Vec<std::path::PathBuf>,
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
    let off = writeback_off(&assembly, &set, args.policies.config.is_some());
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
    let conflicts = conflicts(&set, &args.policies.dirs(), &args.findings);
    let warnings = set.warnings().len() + conflicts + off;
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

/// With a configuration: one warning on stderr when the policies can choose write-back kinds
/// that `[writeback] kinds` leaves off (their actions would be skipped, `not_enabled`, on every
/// finding). Returns how many warnings (0 or 1).
fn writeback_off(
    assembly: &remedy::pipeline::Assembly,
    set: &remedy::PolicySet,
    configured: bool,
) -> usize {
    if !configured {
        return 0;
    }
    let writeback = &assembly.config().writeback;
    let off: Vec<&remedy::ActionKind> = set
        .action_kinds()
        .filter(|k| remedy::plan::is_writeback(k) && !writeback.is_enabled(k))
        .collect();
    if off.is_empty() {
        return 0;
    }
    let list = |quote: &str| {
        off.iter()
            .map(|k| format!("{quote}{k}{quote}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    eprintln!(
        "warning: the policies can choose {}, which `[writeback] kinds` leaves off: those actions \
         are skipped (`not_enabled`) on every finding; to write back, add `[writeback] kinds = [{}]` \
         (see the README, \"Close the finding where it came from\")",
        list("`"),
        list("\"")
    );
    1
}

/// Compares the policies on the decision tests' findings and the `--findings` (see
/// `PolicySet::conflicts`): one warning on stderr per pair that contradicts each other. Returns
/// how many.
fn conflicts(set: &remedy::PolicySet, dirs: &[PathBuf], more: &[PathBuf]) -> usize {
    let mut corpus = remedy::testing::test_findings(dirs);
    for path in more {
        let files: Vec<PathBuf> = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
                .collect();
            files.sort();
            files
        } else {
            vec![path.clone()]
        };
        for file in files {
            let name = file.display().to_string();
            match std::fs::read(&file) {
                Ok(bytes) => {
                    let batch = remedy::parse_documents(&bytes, &name);
                    let many = batch.findings().count() > 1;
                    for (i, finding) in batch.findings().enumerate() {
                        let label = if many {
                            format!("{name} #{}", i + 1)
                        } else {
                            name.clone()
                        };
                        corpus.push((label, finding.clone()));
                    }
                }
                Err(e) => eprintln!("warning: cannot read `{}`: {e}", inert(&name)),
            }
        }
    }
    let found = set.conflicts(corpus.iter().map(|(label, f)| (label.as_str(), f)));
    for conflict in &found {
        let mut lines = conflict.to_string();
        lines.insert_str(0, "warning: ");
        for line in lines.lines() {
            eprintln!("{}", inert(line));
        }
    }
    found.len()
}
