//! `remedy eval POLICY_DIR [FILE...|-]`: print the plan the policies make for each finding.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use remedy::{Plan, PolicySet};

/// How `remedy eval` prints plans.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub(crate) enum Format {
    /// One JSON object per finding, one per line.
    #[default]
    Json,
    /// A readable explanation of each plan.
    Text,
}

/// Evaluate findings against a policy directory and print one plan per finding.
///
/// Exits 1 when the policies do not load or an input cannot be read or parsed (the plans of the
/// findings that parsed are still printed). A policy that fails on a finding is reported in the
/// plan's `errors` and does not change the exit code.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The policy directory.
    policy_dir: PathBuf,
    /// Finding files (any shape: a finding, an array, JSON Lines, EventBridge, ASFF); `-` or none
    /// reads standard input.
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// The configuration file (TOML): `[enrich]` (with `[aws]`) says what is found out about each
    /// finding's principal before the policies decide.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    enrich: super::enrich::EnrichArgs,
}

pub(crate) fn run(args: Args) -> ExitCode {
    let set = match PolicySet::from_dir(&args.policy_dir) {
        Ok(set) => set,
        Err(err) => {
            for diagnostic in err.diagnostics() {
                eprintln!("{:?}", miette::Report::new(diagnostic.clone()));
            }
            return ExitCode::FAILURE;
        }
    };
    let enrich = match super::enrich::Enrich::for_eval(args.config.as_deref(), &args.enrich) {
        Ok(enrich) => enrich,
        Err(code) => return code,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let ok = super::each_finding(&args.files, |finding| {
        let plan = set.evaluate(&enrich.apply(finding));
        match args.format {
            Format::Json => serde_json::to_string(&plan)
                .map_err(std::io::Error::other)
                .and_then(|line| writeln!(out, "{line}")),
            Format::Text => write!(out, "{}", explain(&plan)),
        }
    })
    .unwrap_or(false);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A readable explanation of a plan: the finding, what each policy chose and why, what failed.
fn explain(plan: &Plan) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let finding = &plan.finding;
    let sample = if finding.sample {
        "  [sample finding]"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "finding {}  {}  severity {:.1}{sample}",
        finding.id,
        finding.finding_type,
        finding.severity.value()
    );
    if let Some(context) = &finding.enrichment {
        let _ = writeln!(s, "  context: {}", super::inert(&context.summary()));
    }
    if plan.evaluated.is_empty() {
        let _ = writeln!(s, "  no policy applies");
    } else {
        let _ = writeln!(s, "  policies that applied: {}", plan.evaluated.join(", "));
    }
    for planned in &plan.actions {
        let _ = writeln!(
            s,
            "  -> {} {}",
            planned.action.kind(),
            planned.action.params()
        );
        for source in &planned.sources {
            let line = source
                .line
                .map(|l| format!(" line {l}"))
                .unwrap_or_default();
            let reason = source.reason.as_deref().unwrap_or("no reason given");
            let _ = writeln!(
                s,
                "       chosen by {}@{}{line}: {reason}",
                source.policy, source.version
            );
        }
    }
    if plan.actions.is_empty() && !plan.evaluated.is_empty() {
        let _ = writeln!(s, "  no action");
    }
    for error in &plan.errors {
        let at = match (error.line, error.column) {
            (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
            (Some(l), None) => format!(" at line {l}"),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "  !! policy {} failed{at}: {}",
            error.policy, error.message
        );
    }
    s
}
