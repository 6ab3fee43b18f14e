//! `remedy run POLICY_DIR [FILE...|-] [--config FILE] [--execute]`: carry out the plans.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use remedy::{Config, Engine, Executor, PolicySet, Remediator, Report, Router, Status};

/// Evaluate findings against a policy directory and carry out the plans: a dry run unless
/// `--execute`.
///
/// Prints one JSON record per action on stdout (the audit record: guards, outcome, policy) and
/// a summary on stderr. AWS settings (region, profile, credentials, `AWS_ENDPOINT_URL`) come
/// from the standard AWS environment; a dry run never calls AWS and needs no credentials.
/// Exits 1 when the policies or configuration do not load, an input cannot be parsed, an action
/// failed or an audit record could not be written.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The policy directory.
    policy_dir: PathBuf,
    /// Finding files (any shape); `-` or none reads standard input.
    files: Vec<PathBuf>,
    /// The configuration file (TOML): notify channels, protection, rate limits, ledger, audit.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Execute the actions of enforced policies (default: dry run, nothing is changed).
    #[arg(long)]
    execute: bool,
    /// Print only the totals on stderr, not a line per action.
    #[arg(long, short)]
    quiet: bool,
}

pub(crate) fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run_async(args))
}

async fn executor(config: &Config, execute: bool) -> Result<Arc<dyn Executor>, String> {
    if !execute {
        // A dry run never calls an executor: nothing AWS is even constructed.
        return Ok(Arc::new(Router::new()));
    }
    #[cfg(feature = "aws")]
    {
        let settings = remedy::aws::AwsSettings::from_config(&config.aws);
        Ok(Arc::new(remedy::aws::router(config, &settings).await))
    }
    #[cfg(not(feature = "aws"))]
    {
        let _ = config;
        Err("this build has no AWS executors (feature `aws`): --execute is not available".into())
    }
}

async fn run_async(args: Args) -> ExitCode {
    let set = match PolicySet::from_dir(&args.policy_dir) {
        Ok(set) => set,
        Err(err) => {
            for diagnostic in err.diagnostics() {
                eprintln!("{:?}", miette::Report::new(diagnostic.clone()));
            }
            return ExitCode::FAILURE;
        }
    };
    let mut config = match &args.config {
        Some(path) => match Config::from_path(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => Config::default(),
    };
    if config.notify.channels.is_empty() && config.notify.default.is_none() {
        // No channel configured: every notification goes to the log.
        config.notify.default = Some("log".into());
    }
    let executor = match executor(&config, args.execute).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let remediator = match Remediator::builder(executor).with_config(&config) {
        Ok(b) => b.enforce(args.execute).build(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };

    let engine = Engine::new(set, remediator);
    let mut findings = Vec::new();
    let ok = super::each_finding(&args.files, |finding| {
        findings.push(finding);
        Ok(())
    })
    .unwrap_or(false);

    let total = findings.len();
    let mut summary = Summary::default();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut pending: BTreeMap<usize, Report> = BTreeMap::new();
    let mut next = 0;
    let mut done = 0;
    let mut last_progress = Instant::now();
    let mut write_failed = false;
    engine
        .handle_each(findings, |index, report| {
            done += 1;
            pending.insert(index, report);
            // Print in input order.
            while let Some(report) = pending.remove(&next) {
                next += 1;
                summary.add(&report);
                if !args.quiet {
                    eprint!("{}", explain(&report));
                }
                for record in &report.actions {
                    let line = serde_json::to_string(record).map_err(std::io::Error::other);
                    if line.and_then(|l| writeln!(out, "{l}")).is_err() {
                        write_failed = true;
                    }
                }
            }
            if total >= 20 && last_progress.elapsed() >= Duration::from_secs(1) {
                eprintln!("remedy: {done}/{total} findings handled");
                last_progress = Instant::now();
            }
        })
        .await;
    let _ = out.flush();
    eprintln!("{}", summary.render(total, args.execute));
    if write_failed || !ok || summary.failed > 0 || summary.audit_errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// A person's view of one finding's report: what happened to each action, and who chose it why.
fn explain(report: &Report) -> String {
    let mut s = format!("{}  {}\n", report.finding.id, report.finding.finding_type);
    for error in &report.policy_errors {
        s.push_str(&format!(
            "  warning: policy `{}` failed: {}\n",
            error.policy, error.message
        ));
    }
    if report.actions.is_empty() {
        s.push_str("  no action: no policy chose one\n");
    }
    for record in &report.actions {
        s.push_str(&format!("  {}\n", record.outcome));
        for source in &record.sources {
            match &source.reason {
                Some(reason) => {
                    s.push_str(&format!("      chosen by {}: {reason}\n", source.policy))
                }
                None => s.push_str(&format!("      chosen by {}\n", source.policy)),
            }
        }
    }
    s
}

#[derive(Default)]
struct Summary {
    actions: usize,
    executed: usize,
    already_done: usize,
    failed: usize,
    audit_errors: usize,
    skipped: BTreeMap<String, usize>,
}

impl Summary {
    fn add(&mut self, report: &Report) {
        self.audit_errors += report.audit_errors.len();
        for record in &report.actions {
            self.actions += 1;
            match record.outcome.status() {
                Status::Executed => self.executed += 1,
                Status::AlreadyDone => self.already_done += 1,
                Status::Failed => {
                    self.failed += 1;
                    eprintln!(
                        "failed: {} {} for finding {}: {}",
                        record.kind, record.target, record.finding_id, record.outcome
                    );
                }
                _ => {
                    let why = record
                        .outcome
                        .skip_reason()
                        .map_or("other", |r| r.kind())
                        .replace('_', " ");
                    *self.skipped.entry(why).or_default() += 1;
                }
            }
        }
    }

    fn render(&self, findings: usize, execute: bool) -> String {
        let skipped: usize = self.skipped.values().sum();
        let mut s = format!(
            "remedy: {findings} finding(s), {} action(s): {} executed, {} already done, {skipped} skipped",
            self.actions, self.executed, self.already_done
        );
        if skipped > 0 {
            let parts: Vec<String> = self
                .skipped
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            s.push_str(&format!(" ({})", parts.join(", ")));
        }
        s.push_str(&format!(", {} failed", self.failed));
        if self.audit_errors > 0 {
            s.push_str(&format!(
                "; {} audit record(s) not written",
                self.audit_errors
            ));
        }
        if !execute {
            s.push_str("\nremedy: dry run, nothing was changed (add --execute to act)");
        }
        s
    }
}
