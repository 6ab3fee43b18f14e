//! `remedy undo RECORD_ID [--config F] [--execute]`: reverse what one executed action did, as its
//! audit record says.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use remedy::Status;
use remedy::pipeline::Assembly;
use remedy::store::audit::{UndoChecks, UndoError, UndoPlan, undo_plan};
use remedy::store::ledger::EntryState;

/// Reverse one action remedy executed: a disabled access key is set active again, a revocation of
/// a role's sessions or a quarantine policy is removed. The record's id is its `intent` (in the
/// JSON records `remedy run` prints and writes to the audit trail). A deleted console password
/// cannot be restored: the command says so and changes nothing.
///
/// A dry run unless `--execute`; the undo goes through the guards (kill switch, protection, rate
/// limit, ledger) and is audited like any destructive action. Exits 1 when the record cannot be
/// undone or the undo failed.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The id of the action record to undo (its `intent`).
    record: String,
    /// The configuration file (its `[audit] path` is the trail to read and write; default
    /// `remedy-audit.jsonl`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Carry out the undo (default: say what it would do).
    #[arg(long)]
    execute: bool,
}

pub(crate) fn run(args: Args) -> ExitCode {
    super::runtime(undo(args))
}

async fn undo(args: Args) -> ExitCode {
    let mut config = match super::load_config(args.config.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // The trail `remedy run --execute` writes without a configured one is read here too.
    super::default_audit(&mut config, true);
    let Some(trail) = config.audit.path.clone() else {
        eprintln!("error: no audit trail to read");
        return ExitCode::FAILURE;
    };
    let Ok(key) = super::audit_key(&config).await else {
        return ExitCode::FAILURE;
    };
    let checks = UndoChecks {
        key,
        quarantine_policy: config.containment.quarantine_policy.clone(),
    };
    let persistent_ledger = config.ledger.path.is_some() || config.state.dynamodb_table.is_some();
    let UndoPlan { plan, key } = match undo_plan(&trail, &args.record, &checks) {
        Ok(plan) => plan,
        Err(e @ UndoError::AlreadyUndone { .. }) => {
            eprintln!("remedy: {}", super::inert(&e.to_string()));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {}", super::inert(&e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    if !args.execute {
        // A dry run writes nothing to the trail it reads.
        config.audit.path = None;
    }
    let assembly = Assembly::new(config).execute(args.execute);
    let remediator = match super::remediator(&assembly).await {
        Ok(r) => r,
        Err(code) => return code,
    };
    // A ledger that outlives the run must know the action too: a line of the trail alone never
    // drives an undo.
    if persistent_ledger {
        match remediator.ledger().get(&key).await {
            Ok(Some(entry)) if entry.state == EntryState::Done => {}
            Ok(_) => {
                eprintln!(
                    "error: record `{}` cannot be undone: the ledger has no finished entry for \
                     its action, so the audit trail's record is not confirmed",
                    super::inert(&args.record)
                );
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!(
                    "error: cannot read the ledger: {}",
                    super::inert(&e.to_string())
                );
                return ExitCode::FAILURE;
            }
        }
    }
    let report = remediator.run(&plan).await;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut write_failed = false;
    for record in &report.actions {
        eprintln!("{}", super::inert(&record.outcome.to_string()));
        let line = serde_json::to_string(record).map_err(std::io::Error::other);
        if line.and_then(|l| writeln!(out, "{l}")).is_err() {
            write_failed = true;
        }
    }
    if !args.execute {
        eprintln!("remedy: dry run, nothing was changed (add --execute to undo)");
    }
    if write_failed || report.count(Status::Failed) > 0 || !report.audit_errors.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
