//! `remedy pending`, `remedy approve ID`, `remedy deny ID`, `remedy expire`: deciding on the
//! actions that wait for a person.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use remedy::Remediator;
use remedy::id::ApprovalId;
use remedy::pipeline::Assembly;
use remedy::store::approval::ApprovalRequest;
use serde_json::json;

/// `remedy pending`.
#[derive(Debug, clap::Args)]
pub(crate) struct PendingArgs {
    /// The configuration file (its `[approval]`, or `[state]` table, says where requests are).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// `remedy approve` and `remedy deny`.
#[derive(Debug, clap::Args)]
pub(crate) struct DecideArgs {
    /// The request's id (`apr-…`, from `remedy pending` or the notification).
    id: String,
    /// Who decides (recorded in the audit trail).
    #[arg(long)]
    by: String,
    /// Why (recorded in the audit trail).
    #[arg(long)]
    note: Option<String>,
    /// The configuration file: the same one the run that asked used.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// `remedy expire`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExpireArgs {
    /// The configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// The longest `--by` or `--note` accepted.
const MAX_TEXT: usize = 1024;

/// Lists the undecided requests, one JSON object per line.
pub(crate) fn pending(args: PendingArgs) -> ExitCode {
    super::runtime(async move {
        let remediator = match remediator(args.config, false).await {
            Ok(r) => r,
            Err(code) => return code,
        };
        let requests = match remediator.pending().await {
            Ok(r) => r,
            Err(e) => return fail(&e),
        };
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for request in &requests {
            let line = line(request).to_string();
            if writeln!(out, "{}", remedy::finding::inert_json(&line)).is_err() {
                return ExitCode::FAILURE;
            }
        }
        eprintln!(
            "remedy: {} request(s) waiting for a decision",
            requests.len()
        );
        ExitCode::SUCCESS
    })
}

/// Approves (`approve` true) or denies request `args.id`.
pub(crate) fn decide(args: DecideArgs, approve: bool) -> ExitCode {
    super::runtime(async move {
        let id = match ApprovalId::new(args.id.trim()) {
            Ok(id) => id,
            Err(e) => return fail(&e),
        };
        let by = args.by.trim();
        if by.is_empty() || by.len() > MAX_TEXT || by.chars().any(char::is_control) {
            return fail(&"`--by` names who decides: 1 to 1024 characters, no control characters");
        }
        let note = args.note.as_deref().map(str::trim);
        if note.is_some_and(|n| n.len() > MAX_TEXT || n.chars().any(char::is_control)) {
            return fail(&"`--note`: at most 1024 characters, no control characters");
        }
        let remediator = match remediator(args.config, true).await {
            Ok(r) => r,
            Err(code) => return code,
        };
        let decided = if approve {
            remediator.approve(&id, by, note).await
        } else {
            remediator.deny(&id, by, note).await
        };
        let report = match decided {
            Ok(report) => report,
            Err(e) => return fail(&e),
        };
        super::print_records(std::slice::from_ref(&report));
        let Some(record) = report.actions.first() else {
            return fail(&"the request's action left no record");
        };
        let outcome = super::inert(&record.outcome.to_string()).into_owned();
        // The message telling the channel that was asked (a notification: it never fails the
        // decision, but a person should know it did not get through).
        for told in report.actions.iter().skip(1) {
            if !told.outcome.is_success() {
                eprintln!(
                    "remedy: the channel that was asked was not told: {}",
                    super::inert(&told.outcome.to_string())
                );
            }
        }
        let audited = report.audit_errors.is_empty();
        for e in &report.audit_errors {
            eprintln!("error: {}", super::inert(e));
        }
        if approve {
            eprintln!(
                "remedy: request {id} approved by {}: {outcome}",
                super::inert(by)
            );
            if record.outcome.is_success() && audited {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "remedy: the approval is recorded, but the action was not carried out (every \
                     guard runs again on approval)"
                );
                ExitCode::FAILURE
            }
        } else {
            eprintln!("remedy: request {id} denied by {}", super::inert(by));
            if audited {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    })
}

/// Applies the timeout of every expired request.
pub(crate) fn expire(args: ExpireArgs) -> ExitCode {
    super::runtime(async move {
        let suppressions = match expire_suppressions(args.config.as_deref()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => code,
        };
        let remediator = match remediator(args.config, true).await {
            Ok(r) => r,
            Err(code) => return code,
        };
        if suppressions != ExitCode::SUCCESS {
            let _ = remediator.expire().await.map(|r| super::print_records(&r));
            return suppressions;
        }
        match remediator.expire().await {
            Ok(reports) => {
                super::print_records(&reports);
                let failed = reports.iter().filter(|r| r.has_failures()).count();
                eprintln!(
                    "remedy: {} expired request(s) decided by their timeout{}",
                    reports.len(),
                    if failed > 0 {
                        format!(", {failed} with a failed action or audit record")
                    } else {
                        String::new()
                    }
                );
                if failed > 0 {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => fail(&e),
        }
    })
}

/// Deletes the expired suppression filters (`suppress_similar`) of `[writeback]
/// suppression_regions`; what was deleted, on stderr.
async fn expire_suppressions(config: Option<&std::path::Path>) -> Result<(), ExitCode> {
    let config = super::load_config(config)?;
    if config.writeback.suppression_regions.is_empty() {
        return Ok(());
    }
    #[cfg(feature = "aws")]
    {
        let settings = remedy::aws::AwsSettings::from_config(&config.aws);
        let writeback =
            remedy::aws::WritebackExecutor::new(&settings, config.writeback.clone()).await;
        let now = time::OffsetDateTime::now_utc();
        let mut result = Ok(());
        for region in &config.writeback.suppression_regions {
            match writeback.expire_filters(region, now).await {
                Ok(deleted) => eprintln!(
                    "remedy: {} expired suppression filter(s) deleted in {region}{}",
                    deleted.len(),
                    if deleted.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", super::inert(&deleted.join(", ")))
                    }
                ),
                Err(e) => {
                    eprintln!(
                        "error: suppression filters of {region}: {}",
                        super::inert(&e)
                    );
                    result = Err(ExitCode::FAILURE);
                }
            }
        }
        result
    }
    #[cfg(not(feature = "aws"))]
    {
        eprintln!("error: `[writeback] suppression_regions` needs the `aws` feature");
        Err(ExitCode::FAILURE)
    }
}

/// The remediator of `config`: enforcing (approving carries actions out) with the shared state
/// and an audit trail, or (for listing) reading only.
async fn remediator(config: Option<PathBuf>, execute: bool) -> Result<Remediator, ExitCode> {
    let mut config = super::load_config(config.as_deref())?;
    super::default_audit(&mut config, execute);
    if !config.approval.is_enabled() {
        eprintln!("note: the configuration has no `[approval]` kinds or policies");
    }
    let assembly = Assembly::new(config)
        .execute(execute)
        .with_shared_state(true);
    super::remediator(&assembly).await
}

/// One request as `remedy pending` prints it.
fn line(request: &ApprovalRequest) -> serde_json::Value {
    let action = &request.action;
    let finding = &request.finding;
    json!({
        "id": request.id,
        "requested_at": request.requested_at,
        "expires": request.expires,
        "on_timeout": request.on_timeout,
        "channel": request.channel,
        "would": action.action.describe(),
        "kind": action.action.kind(),
        "target": action.action.target(),
        "params": action.action.params(),
        "policies": action.sources,
        "finding_id": &*finding.id,
        "finding_type": finding.finding_type,
        "severity": finding.severity,
        "account_id": finding.account_id,
        "region": finding.region,
        "requested_by": request.requested_by.to_string(),
    })
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {}", super::inert(&e.to_string()));
    ExitCode::FAILURE
}
