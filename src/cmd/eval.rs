//! `remedy eval POLICY_DIR [FILE...|-]`: print the plan the policies make for each finding.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use remedy::Plan;
use remedy::policy::{Explanation, Why};

use super::{PolicyArgs, inert};

/// How `remedy eval` prints plans.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub(crate) enum Format {
    /// One JSON object per finding, one per line.
    #[default]
    Json,
    /// A readable explanation of each plan.
    Text,
}

/// Evaluate findings against policies and print one plan per finding.
///
/// Exit status: 0 when every plan was made; 1 when the policies or the configuration do not load
/// or an input cannot be read or parsed (the plans of the findings that parsed are still
/// printed); 2 when a policy failed on a finding (its failure is in the plan's `errors`), unless
/// `--allow-policy-errors`. 1 takes precedence over 2.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    policies: PolicyArgs,
    /// Finding files (any shape: a finding, an array, JSON Lines, EventBridge, ASFF); `-` or none
    /// reads standard input.
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// Say for each policy why it did or did not apply (type glob, minimum severity, fallback,
    /// returned nothing, failed); in JSON, an `explanation` array on each plan.
    #[arg(long)]
    explain: bool,
    /// Exit 0 even when a policy failed on a finding.
    #[arg(long)]
    allow_policy_errors: bool,
    #[command(flatten)]
    enrich: super::enrich::EnrichArgs,
}

pub(crate) fn run(args: Args) -> ExitCode {
    let Ok((assembly, set)) = args.policies.load(false) else {
        return ExitCode::FAILURE;
    };
    let enrich = match super::enrich::Enrich::for_eval(assembly.config(), &args.enrich) {
        Ok(enrich) => enrich,
        Err(code) => return code,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failures = super::Failures::default();
    let ok = super::each_finding(
        &args.files,
        |finding| {
            let finding = enrich.apply(finding);
            let plan = set.evaluate(&finding);
            let explanation = args.explain.then(|| set.explain(&finding, &plan));
            let text = match args.format {
                Format::Json => json(&plan, explanation.as_deref()).map(|mut line| {
                    line.push('\n');
                    line
                }),
                Format::Text => Ok(text(&plan, explanation.as_deref())),
            };
            let errors = plan.errors.clone();
            (errors, text)
        },
        |done| match done {
            None => out.flush(),
            Some((errors, text)) => {
                failures.add(&errors);
                out.write_all(text?.as_bytes())
            }
        },
    )
    .unwrap_or(false);
    let ok = out.flush().is_ok() && ok;
    if args.allow_policy_errors {
        failures.print();
    }
    if !ok {
        ExitCode::FAILURE
    } else if failures.total() > 0 && !args.allow_policy_errors {
        failures.print();
        eprintln!(
            "remedy: {} policy failure(s) (exit {}; --allow-policy-errors exits 0)",
            failures.total(),
            super::POLICY_FAILED
        );
        ExitCode::from(super::POLICY_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// The plan as one JSON line, with its explanation when asked for.
fn json(plan: &Plan, explanation: Option<&[Explanation]>) -> std::io::Result<String> {
    let mut value = serde_json::to_value(plan).map_err(std::io::Error::other)?;
    if let (Some(explanation), Some(object)) = (explanation, value.as_object_mut()) {
        let explanation = serde_json::to_value(explanation).map_err(std::io::Error::other)?;
        object.insert("explanation".into(), explanation);
    }
    let json = serde_json::to_string(&value).map_err(std::io::Error::other)?;
    Ok(remedy::finding::inert_json(&json).into_owned())
}

/// A readable explanation of a plan: the finding, what each policy chose and why, what failed.
/// Finding data and policy text are shown inert.
fn text(plan: &Plan, explanation: Option<&[Explanation]>) -> String {
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
        inert(&finding.id),
        inert(finding.finding_type.as_str()),
        finding.severity.value()
    );
    if let Some(context) = &finding.enrichment {
        let _ = writeln!(s, "  context: {}", super::inert(&context.summary()));
    }
    if plan.evaluated.is_empty() {
        let _ = writeln!(s, "  no policy applies");
    } else {
        let names: Vec<&str> = plan.evaluated.iter().map(|p| &**p).collect();
        let _ = writeln!(s, "  policies that applied: {}", inert(&names.join(", ")));
    }
    for planned in &plan.actions {
        let _ = writeln!(
            s,
            "  -> {} {}",
            planned.action.kind(),
            inert(&planned.action.params().to_string())
        );
        for source in &planned.sources {
            let line = source
                .line
                .map(|l| format!(" line {l}"))
                .unwrap_or_default();
            let reason = source.reason.as_deref().unwrap_or("no reason given");
            let _ = writeln!(
                s,
                "       chosen by {}@{}{line}: {}",
                inert(&source.policy),
                source.version,
                inert(reason)
            );
        }
    }
    if plan.actions.is_empty() && !plan.evaluated.is_empty() {
        let _ = writeln!(s, "  no action");
    }
    for error in &plan.errors {
        let _ = writeln!(s, "  !! {}", super::failure_line(error));
    }
    for e in explanation.unwrap_or_default() {
        let _ = writeln!(s, "  why {}: {}", inert(&e.policy), why(&e.why));
    }
    s
}

/// Why a policy did or did not decide, in a few words.
fn why(why: &Why) -> String {
    match why {
        Why::TypeNotMatched { globs } => {
            format!(
                "not applied: the type matches none of {}",
                inert(&globs.join(", "))
            )
        }
        Why::BelowMinSeverity { min } => format!("not applied: severity below {min:.1}"),
        Why::FallbackNotNeeded => "not run: a fallback, and other policies chose actions".into(),
        Why::ReturnedNothing { glob } => {
            format!("ran (type matches `{}`) and chose no action", inert(glob))
        }
        Why::Chose { glob, actions } => {
            format!(
                "ran (type matches `{}`) and chose {actions} action(s)",
                inert(glob)
            )
        }
        Why::Failed { failure } => format!("ran and failed ({}, above)", failure.kind.as_str()),
        _ => "unknown".into(),
    }
}
