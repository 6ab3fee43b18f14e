//! `remedy ledger reconcile [--config F] [--execute]`: list, and finish, what interrupted runs
//! left unfinished.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use remedy::pipeline::Assembly;
use remedy::plan::Plan;
use remedy::store::audit::JsonLinesAudit;
use remedy::store::ledger::{LedgerKey, now_secs};
use remedy::{Config, Remediator, Status};
use serde_json::json;

/// What to do with the ledger.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// List the actions interrupted runs left unfinished (expired claims in the ledger, intents
    /// without an outcome in the audit trail); with `--execute`, verify each and finish it.
    Reconcile(ReconcileArgs),
}

/// `remedy ledger reconcile`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReconcileArgs {
    /// The configuration file (its `[ledger]` and `[audit]` say where to look).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Verify and finish each unfinished action (default: only list them).
    #[arg(long)]
    execute: bool,
}

pub(crate) fn run(command: Command) -> ExitCode {
    match command {
        Command::Reconcile(args) => super::runtime(reconcile(args)),
    }
}

/// One unfinished action: where it was found, and the plan that finishes it.
pub(crate) struct Unfinished {
    source: &'static str,
    detail: String,
    intent: Option<String>,
    plan: Plan,
}

/// What interrupted runs left: expired claims in the ledger (live ones are noted on stderr) and
/// intents without an outcome in the audit trail, each once.
pub(crate) async fn unfinished(
    config: &Config,
    remediator: &Remediator,
) -> Result<Vec<Unfinished>, String> {
    let mut found: Vec<Unfinished> = Vec::new();
    let mut keys: Vec<LedgerKey> = Vec::new();
    let now = now_secs();
    let claims = remediator
        .ledger()
        .claims()
        .await
        .map_err(|e| e.to_string())?;
    for claim in claims {
        // A target lock is released by the action it guards, and expires on its own.
        if !claim.is_expired(now) || claim.key.is_lock() {
            continue;
        }
        let by = claim
            .owner
            .as_ref()
            .map_or_else(|| "an unknown run".to_owned(), ToString::to_string);
        let (Some(finding), Some(action)) = (claim.finding, claim.action) else {
            continue;
        };
        keys.push(claim.key.clone());
        let mut plan = Plan::new(finding, "reconcile");
        plan.actions.push(action);
        found.push(Unfinished {
            source: "ledger",
            detail: format!("claimed by {by} at {}", claim.at),
            intent: None,
            plan,
        });
    }
    if let Some(path) = &config.audit.path {
        let (intents, torn) = JsonLinesAudit::unfinished(path).map_err(|e| e.to_string())?;
        if torn > 0 {
            eprintln!(
                "note: {torn} line(s) of `{}` cannot be read (interrupted writes)",
                path.display()
            );
        }
        for u in intents {
            if keys.contains(&u.intent.key) {
                continue;
            }
            let mut plan = Plan::new(u.intent.finding, "reconcile");
            plan.actions.push(u.intent.action);
            found.push(Unfinished {
                source: "audit",
                detail: format!("intent at line {} has no outcome", u.line),
                intent: Some(u.intent.intent),
                plan,
            });
        }
    }
    Ok(found)
}

async fn reconcile(args: ReconcileArgs) -> ExitCode {
    let mut config = match super::load_config(args.config.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // The trail `remedy run --execute` writes without a configured one is read here too.
    super::default_audit(&mut config, true);
    let assembly = Assembly::new(config)
        .execute(args.execute)
        .with_shared_state(true);
    let remediator = match super::remediator(&assembly).await {
        Ok(r) => r,
        Err(code) => return code,
    };
    let found = match unfinished(assembly.config(), &remediator).await {
        Ok(found) => found,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };

    let mut out = std::io::stdout();
    let mut failed = 0;
    for u in &found {
        let planned = u.plan.actions.first();
        let line = json!({
            "source": u.source,
            "detail": u.detail,
            "intent": u.intent,
            "finding_id": &*u.plan.finding.id,
            "kind": planned.map(|p| p.action.kind()),
            "target": planned.map(|p| p.action.target()),
        });
        let _ = writeln!(out, "{line}");
        eprintln!(
            "unfinished: {} for finding {} ({})",
            planned.map_or_else(String::new, |p| super::inert(&p.action.describe())
                .into_owned()),
            super::inert(&u.plan.finding.id),
            u.detail
        );
        if args.execute {
            let report = remediator.reconcile(&u.plan, u.intent.as_deref()).await;
            for record in &report.actions {
                eprintln!("  {}", super::inert(&record.outcome.to_string()));
            }
            failed += report.count(Status::Failed) + report.audit_errors.len();
        }
    }
    let verb = if args.execute { "finished" } else { "found" };
    eprintln!("remedy: {} unfinished action(s) {verb}", found.len());
    if !args.execute && !found.is_empty() {
        eprintln!("remedy: add --execute to verify and finish them");
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
