//! [`undo_plan`]: the plan that reverses one executed action, read from the audit trail.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::IntentRecord;
use super::file::{Line, read_line};
use crate::plan::{Action, FindingContext, Plan, PlannedAction, Reversal, Undo};

/// Why an action record cannot be undone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UndoError {
    /// The audit trail cannot be read.
    #[error("cannot read the audit trail `{path}`: {message}")]
    Unreadable {
        /// The trail.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// No action record of the trail has this id.
    #[error(
        "no action record `{record}` in the audit trail `{path}` (record ids are the `intent` of action records)"
    )]
    NotFound {
        /// The id asked for.
        record: String,
        /// The trail.
        path: String,
    },
    /// The action was not executed by remedy (skipped, failed, already done, a dry run).
    #[error(
        "record `{record}` was not executed (its outcome is `{status}`): remedy changed nothing to undo"
    )]
    NotExecuted {
        /// The record.
        record: String,
        /// Its outcome's status.
        status: String,
    },
    /// The record says nothing about how to reverse it (its kind cannot be undone).
    #[error(
        "record `{record}` (`{kind}`) does not say how to undo it: remedy cannot reverse this kind"
    )]
    NoReversal {
        /// The record.
        record: String,
        /// Its action's kind.
        kind: String,
    },
    /// The change cannot be reversed (a deleted console password).
    #[error("record `{record}` cannot be undone: {reason}")]
    Irreversible {
        /// The record.
        record: String,
        /// Why, and what to do instead.
        reason: String,
    },
    /// The record's reversal, or the finding of its intent, cannot be read.
    #[error("record `{record}` cannot be undone: {message}")]
    Malformed {
        /// The record.
        record: String,
        /// What is wrong.
        message: String,
    },
    /// An earlier `remedy undo` reversed it already.
    #[error("record `{record}` was already undone (action record `{by}`)")]
    AlreadyUndone {
        /// The record.
        record: String,
        /// The id of the undo's own action record.
        by: String,
    },
}

/// The parts of a record of the trail [`undo_plan`] looks at.
#[derive(Deserialize)]
struct Probe {
    record: String,
    #[serde(default)]
    intent: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    params: Value,
    #[serde(default)]
    outcome: Value,
}

/// The plan that undoes the action record `record` (its `intent` id) of the audit trail at
/// `path`: one [`Undo`] action for the finding the record acted for, chosen by no policy (the
/// person asking), to be carried out by a [`crate::Remediator`] like any destructive action.
///
/// Only an executed action whose executor said how to reverse it can be undone: a disabled key, a
/// revocation, a quarantine. A deleted console password is [`UndoError::Irreversible`]; an action
/// an earlier undo reversed is [`UndoError::AlreadyUndone`].
pub fn undo_plan(path: impl AsRef<Path>, record: &str) -> Result<Plan, UndoError> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let unreadable = |e: std::io::Error| UndoError::Unreadable {
        path: shown.clone(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    // Only a regular file is a trail (`/dev/full` reads zeros forever).
    if !file.metadata().map_err(unreadable)?.is_file() {
        return Err(UndoError::Unreadable {
            path: shown,
            message: "not a regular file".to_owned(),
        });
    }
    let malformed = |message: String| UndoError::Malformed {
        record: record.to_owned(),
        message,
    };
    let mut finding: Option<FindingContext> = None;
    let mut action: Option<Probe> = None;
    let mut undone_by: Option<String> = None;
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        match read_line(&mut reader, &mut line).map_err(unreadable)? {
            Line::End => break,
            Line::TooLong => continue,
            Line::Read => {}
        }
        let Ok(probe) = serde_json::from_slice::<Probe>(&line) else {
            continue;
        };
        match probe.record.as_str() {
            "intent" if probe.intent.as_deref() == Some(record) => {
                let intent: IntentRecord = serde_json::from_slice(&line)
                    .map_err(|e| malformed(format!("its intent record is not readable: {e}")))?;
                finding = Some(intent.finding);
            }
            "action" if probe.intent.as_deref() == Some(record) => action = Some(probe),
            "action"
                if probe.kind.as_deref() == Some("undo")
                    && probe.params.get("record").and_then(Value::as_str) == Some(record)
                    && probe.outcome.get("status").and_then(Value::as_str) == Some("executed") =>
            {
                undone_by = probe.intent.or(Some(String::new()));
            }
            _ => {}
        }
    }
    let Some(found) = action else {
        return Err(UndoError::NotFound {
            record: record.to_owned(),
            path: shown,
        });
    };
    let kind = found.kind.unwrap_or_default();
    let status = found
        .outcome
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    if status != "executed" {
        return Err(UndoError::NotExecuted {
            record: record.to_owned(),
            status,
        });
    }
    let Some(undo) = found.outcome.get("undo") else {
        return Err(UndoError::NoReversal {
            record: record.to_owned(),
            kind,
        });
    };
    let reversal: Reversal = serde_json::from_value(undo.clone())
        .map_err(|e| malformed(format!("its `outcome.undo` is not readable: {e}")))?;
    if let Reversal::Irreversible { reason } = reversal {
        return Err(UndoError::Irreversible {
            record: record.to_owned(),
            reason,
        });
    }
    if let Some(by) = undone_by {
        return Err(UndoError::AlreadyUndone {
            record: record.to_owned(),
            by,
        });
    }
    let finding = finding.ok_or_else(|| {
        malformed("its intent record (the finding it acted for) is missing".into())
    })?;
    let mut plan = Plan::new(finding, "undo");
    plan.actions.push(PlannedAction {
        action: Action::Undo(Undo {
            record: record.to_owned(),
            reversal,
        }),
        sources: Vec::new(),
        repeat_on_update: false,
    });
    Ok(plan)
}
