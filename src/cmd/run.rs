//! `remedy run POLICY_DIR [FILE...|-] [--config FILE] [--execute]`: carry out the plans.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use remedy::remediate::Shutdown;
use remedy::store::audit::{AuditRecord, JsonLinesAudit};
use remedy::{Report, Status};

use super::PolicyArgs;

/// Evaluate findings against policies and carry out the plans: a dry run unless `--execute`.
///
/// Prints one JSON record per action and per policy failure on stdout (the audit records:
/// guards, outcome, policy) and a summary on stderr. AWS settings (region, profile, credentials,
/// `AWS_ENDPOINT_URL`) come from the standard AWS environment; a dry run never calls AWS and
/// needs no credentials.
///
/// Exit status: 0 when everything went as planned; 1 when the policies or configuration do not
/// load, an input cannot be parsed, an action failed, an audit record or the output could not be
/// written;
/// 2 when a policy failed on a finding (and nothing of 1 happened), unless
/// `--allow-policy-errors`; 143 or 130 after SIGTERM or SIGINT.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    policies: PolicyArgs,
    /// Finding files (any shape); `-` or none reads standard input.
    files: Vec<PathBuf>,
    /// Execute the actions of enforced policies (default: dry run, nothing is changed).
    #[arg(long)]
    execute: bool,
    /// Print only the totals on stderr, not a line per action.
    #[arg(long, short)]
    quiet: bool,
    /// Exit 0 even when a policy failed on a finding (failures are still shown and audited).
    #[arg(long)]
    allow_policy_errors: bool,
    #[command(flatten)]
    enrich: super::enrich::EnrichArgs,
}

pub(crate) fn run(args: Args) -> ExitCode {
    super::runtime(run_async(args))
}

async fn run_async(args: Args) -> ExitCode {
    let (assembly, set) = match args.policies.load(args.execute) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let config = assembly.config();
    let mut engine = match super::pipeline(&assembly, set).await {
        Ok(pipeline) => pipeline,
        Err(code) => return code,
    };
    if let Some(enrichers) = match super::enrich::context_enrichers(&args.enrich) {
        Ok(e) => e,
        Err(code) => return code,
    } {
        engine = engine.with_enrichers(enrichers);
    }
    let remediator = engine.remediator().clone();
    let signal = Arc::new(AtomicI32::new(0));
    tokio::spawn(stop_on_signals(
        remediator.shutdown().clone(),
        config.shutdown_grace(),
        Arc::clone(&signal),
    ));
    let shutdown = remediator.shutdown().clone();

    // Findings are read and evaluated on worker threads as they arrive; their plans are
    // carried out here, at most the remediator's concurrency at once, and printed in input order.
    // Plans cross over in batches: what the evaluating threads have ready at once.
    let (plans_tx, read_plans) = tokio::sync::mpsc::channel::<Vec<remedy::Plan>>(2);
    let files = args.files.clone();
    let evaluator = engine.clone();
    // Enrichment is async (AWS calls): the evaluating threads wait for it on the run's runtime.
    let runtime = tokio::runtime::Handle::current();
    let stopping = shutdown.clone();
    let (read_tx, reading) = tokio::sync::oneshot::channel();
    // Plans handed to the remediator so far.
    let handed = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&handed);
    // A thread of its own, not awaited after a signal: reading a terminal or a pipe cannot be
    // interrupted, and a stopping run must not wait for its input to end.
    let spawned = std::thread::Builder::new()
        .name("remedy-input".into())
        .spawn(move || {
            let mut batch = Vec::new();
            let hand_over = |batch: &mut Vec<remedy::Plan>| {
                if batch.is_empty() {
                    return Ok(());
                }
                counted.fetch_add(batch.len(), Ordering::SeqCst);
                plans_tx
                    .blocking_send(std::mem::take(batch))
                    .map_err(|_| std::io::Error::other("the run ended"))
            };
            let result = super::each_finding(
                &files,
                |finding| match evaluator.enrichers() {
                    None => evaluator.evaluate(&finding),
                    Some(_) => evaluator.evaluate(&runtime.block_on(evaluator.enrich(&finding))),
                },
                |plan| match plan {
                    _ if stopping.is_stopping() => Err(std::io::Error::other("stopping")),
                    // Nothing more is ready: what is, goes.
                    None => hand_over(&mut batch),
                    Some(plan) => {
                        batch.push(plan);
                        if batch.len() >= PLANS_PER_BATCH {
                            hand_over(&mut batch)
                        } else {
                            Ok(())
                        }
                    }
                },
            );
            let result = match result {
                Ok(all_parsed) if !stopping.is_stopping() => {
                    hand_over(&mut batch).map(|()| all_parsed)
                }
                other => other,
            };
            let _ = read_tx.send(result);
        });
    if let Err(e) = spawned {
        eprintln!("error: cannot start the input thread: {e}");
        return ExitCode::FAILURE;
    }
    let mut plans = read_plans;

    let mut summary = Summary::default();
    // Buffered: a dry run's records go out when every plan handed over so far is printed (or
    // when the run is stopping); a real run's go out record by record.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
    let mut pending: BTreeMap<usize, Report> = BTreeMap::new();
    let mut next = 0;
    let mut last_progress = Instant::now();
    let mut write_failed = false;
    engine
        .remediator()
        .run_received(&mut plans, |index, report| {
            pending.insert(index, report);
            // Print in input order.
            while let Some(report) = pending.remove(&next) {
                next += 1;
                summary.add(&report);
                if !args.quiet {
                    eprint!("{}", explain(&report));
                }
                for failure in &report.policy_errors {
                    let record = AuditRecord::PolicyFailure(
                        remediator.failure_record(&report.finding, failure),
                    );
                    write_failed |= write_record(&mut out, &record).is_err();
                }
                for record in &report.actions {
                    write_failed |= write_record(&mut out, record).is_err();
                }
            }
            if args.execute || shutdown.is_stopping() || next == handed.load(Ordering::SeqCst) {
                write_failed |= out.flush().is_err();
            }
            if last_progress.elapsed() >= Duration::from_secs(1) {
                eprintln!("remedy: {next} findings handled");
                last_progress = Instant::now();
            }
        })
        .await;
    let ok = if shutdown.is_stopping() {
        true
    } else {
        match reading.await {
            Ok(Ok(all_parsed)) => all_parsed,
            Ok(Err(_)) => shutdown.is_stopping(),
            Err(_) => {
                eprintln!("error: the input thread ended without a result");
                false
            }
        }
    };
    let total = next;
    write_failed |= out.flush().is_err();
    eprintln!("{}", summary.render(total, args.execute));
    // What interrupted runs left and this run did not finish.
    match super::ledger::unfinished(config, &remediator).await {
        Ok(found) if !found.is_empty() => eprintln!(
            "remedy: {} unfinished action(s) of interrupted runs: `remedy ledger reconcile` \
             lists them (`--execute` finishes them)",
            found.len()
        ),
        Ok(_) => {}
        Err(e) => eprintln!("warning: cannot list unfinished actions: {e}"),
    }
    match signal.load(Ordering::SeqCst) {
        0 => {}
        code => {
            eprintln!("remedy: stopped by a signal");
            return ExitCode::from(u8::try_from(code).unwrap_or(1));
        }
    }
    if write_failed {
        eprintln!("error: some records could not be written to standard output");
    }
    summary.failures.print();
    if write_failed || !ok || summary.failed > 0 || summary.audit_errors > 0 {
        ExitCode::FAILURE
    } else if summary.failures.total() > 0 && !args.allow_policy_errors {
        ExitCode::from(super::POLICY_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Writes `record` to `out` as one inert JSON line.
fn write_record(out: &mut impl Write, record: &impl serde::Serialize) -> std::io::Result<()> {
    let line = serde_json::to_string(record).map_err(std::io::Error::other)?;
    writeln!(out, "{}", remedy::finding::inert_json(&line))
}

/// The most plans handed to the remediator at once.
const PLANS_PER_BATCH: usize = 64;

/// On SIGTERM or SIGINT: stop taking findings and starting actions, give the actions in flight
/// `grace`, and remember the exit status (143, 130). A second signal exits at once, between two
/// audit records.
pub(crate) async fn stop_on_signals(shutdown: Shutdown, grace: Duration, signal: Arc<AtomicI32>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal as listen};
        let (Ok(mut term), Ok(mut int)) = (
            listen(SignalKind::terminate()),
            listen(SignalKind::interrupt()),
        ) else {
            return;
        };
        let code = tokio::select! {
            _ = term.recv() => 143,
            _ = int.recv() => 130,
        };
        signal.store(code, Ordering::SeqCst);
        eprintln!(
            "remedy: stopping: no new action starts; actions in flight get {} s (a second signal \
             stops at once)",
            grace.as_secs()
        );
        shutdown.stop(grace);
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        let _between = JsonLinesAudit::between_writes();
        eprintln!("remedy: stopped at once by a second signal");
        let _ = std::io::stdout().flush();
        std::process::exit(code);
    }
    #[cfg(not(unix))]
    {
        let _ = (shutdown, grace, signal);
    }
}

/// A person's view of one finding's report: what happened to each action, and who chose it why.
fn explain(report: &Report) -> String {
    use super::inert;
    let place = |v: &str| {
        if v.is_empty() {
            "-".to_owned()
        } else {
            inert(v).into_owned()
        }
    };
    let mut s = format!(
        "{}  {}  account {} {}\n",
        inert(&report.finding.id),
        inert(report.finding.finding_type.as_str()),
        place(&report.finding.account_id),
        place(&report.finding.region)
    );
    if let Some(context) = &report.finding.enrichment {
        s.push_str(&format!("  context: {}\n", inert(&context.summary())));
    }
    for error in &report.policy_errors {
        s.push_str(&format!("  error: {}\n", super::failure_line(error)));
    }
    if report.actions.is_empty() {
        if report.policy_errors.is_empty() {
            s.push_str("  no action: no policy chose one\n");
        } else {
            s.push_str("  no action: the policies that ran chose none or failed\n");
        }
    }
    for record in &report.actions {
        s.push_str(&format!("  {}\n", inert(&record.outcome.to_string())));
        for source in &record.sources {
            match &source.reason {
                Some(reason) => s.push_str(&format!(
                    "      chosen by {}: {}\n",
                    inert(&source.policy),
                    inert(reason)
                )),
                None => s.push_str(&format!("      chosen by {}\n", inert(&source.policy))),
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
    in_progress: usize,
    pending: usize,
    failed: usize,
    failures: super::Failures,
    audit_errors: usize,
    skipped: BTreeMap<String, usize>,
}

impl Summary {
    fn add(&mut self, report: &Report) {
        self.audit_errors += report.audit_errors.len();
        self.failures.add(&report.policy_errors);
        for record in &report.actions {
            self.actions += 1;
            match record.outcome.status() {
                Status::Executed => self.executed += 1,
                Status::AlreadyDone => self.already_done += 1,
                Status::InProgress => self.in_progress += 1,
                Status::PendingApproval => {
                    self.pending += 1;
                    if let remedy::action::Outcome::PendingApproval { approval_id, .. } =
                        &record.outcome
                    {
                        eprintln!(
                            "pending approval: {} {} for finding {}: `remedy approve {approval_id} \
                             --by NAME` or `remedy deny {approval_id} --by NAME`",
                            record.kind,
                            super::inert(&record.target),
                            super::inert(&record.finding_id),
                        );
                    }
                }
                Status::Failed => {
                    self.failed += 1;
                    eprintln!(
                        "failed: {} {} for finding {}: {}",
                        record.kind,
                        super::inert(&record.target),
                        super::inert(&record.finding_id),
                        super::inert(&record.outcome.to_string())
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
            "remedy: {findings} finding(s), {} action(s): {} executed, {} already done, ",
            self.actions, self.executed, self.already_done
        );
        if self.in_progress > 0 {
            s.push_str(&format!("{} in progress elsewhere, ", self.in_progress));
        }
        if self.pending > 0 {
            s.push_str(&format!("{} waiting for approval, ", self.pending));
        }
        s.push_str(&format!("{skipped} skipped"));
        if skipped > 0 {
            let parts: Vec<String> = self
                .skipped
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            s.push_str(&format!(" ({})", parts.join(", ")));
        }
        s.push_str(&format!(", {} failed", self.failed));
        if self.failures.total() > 0 {
            s.push_str(&format!("; {} policy failure(s)", self.failures.total()));
        }
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
