//! [`undo_plan`]: the plan that reverses one executed action, read from the audit trail.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::IntentRecord;
use super::chain::{AuditKey, verify};
use super::lines::{Line, read_line};
use crate::plan::{
    Action, DEFAULT_QUARANTINE_POLICY, FindingContext, IamPrincipal, Plan, PlannedAction,
    QUARANTINE_INLINE_POLICY, Reversal, RevokeRoleSessions, Undo,
};
use crate::store::ledger::LedgerKey;

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
    /// The trail does not verify up to the record: a line before it (or the record itself) was
    /// inserted, edited, reordered or removed, or lacks the HMAC of the configured key.
    #[error(
        "record `{record}` cannot be undone: the audit trail does not verify at line {line}: {why}"
    )]
    Unverified {
        /// The record.
        record: String,
        /// The first line that breaks the trail.
        line: u64,
        /// Why it breaks it.
        why: String,
    },
    /// The record's reversal is not what remedy's executor would have written for the executed
    /// action: it would touch something remedy never changed.
    #[error("record `{record}` cannot be undone: {why}")]
    Mismatch {
        /// The record.
        record: String,
        /// What does not match.
        why: String,
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

/// What [`undo_plan`] checks a record against besides its own text.
#[derive(Debug, Clone, Default)]
pub struct UndoChecks {
    /// The trail's HMAC key (`[audit] key_env`): every line up to the record must carry its seal.
    pub key: Option<AuditKey>,
    /// The configured quarantine policy (`[containment] quarantine_policy`; empty: the default):
    /// the only managed policy an undo detaches.
    pub quarantine_policy: String,
}

/// A plan that undoes one action, and the ledger key of the action it undoes (a caller with a
/// ledger checks that the ledger knows the action too).
#[derive(Debug, Clone)]
pub struct UndoPlan {
    /// The plan, one [`Undo`] action.
    pub plan: Plan,
    /// The ledger key of the action it reverses.
    pub key: LedgerKey,
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
///
/// Nothing on disk is trusted: the trail must verify (hash chain, and the HMAC with
/// [`UndoChecks::key`]) up to the record, the reversal must be exactly what remedy's executor
/// writes for the action its intent names (the same key and user; remedy's own inline policy; the
/// configured quarantine policy), and it must stay within the finding's scope
/// ([`UndoError::Unverified`], [`UndoError::Mismatch`]).
pub fn undo_plan(
    path: impl AsRef<Path>,
    record: &str,
    checks: &UndoChecks,
) -> Result<UndoPlan, UndoError> {
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
    let mut intent: Option<IntentRecord> = None;
    let mut action: Option<(u64, Probe)> = None;
    let mut number = 0u64;
    let mut undone_by: Option<String> = None;
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = read_line(&mut reader, &mut line).map_err(unreadable)?;
        number = number.saturating_add(1);
        match read {
            Line::End => break,
            Line::TooLong => continue,
            Line::Read => {}
        }
        let Ok(probe) = serde_json::from_slice::<Probe>(&line) else {
            continue;
        };
        match probe.record.as_str() {
            "intent" if probe.intent.as_deref() == Some(record) => {
                intent =
                    Some(serde_json::from_slice(&line).map_err(|e| {
                        malformed(format!("its intent record is not readable: {e}"))
                    })?);
            }
            "action" if probe.intent.as_deref() == Some(record) => action = Some((number, probe)),
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
    let Some((at, found)) = action else {
        return Err(UndoError::NotFound {
            record: record.to_owned(),
            path: shown,
        });
    };
    let verified = verify(path, checks.key.as_ref(), Some(at)).map_err(unreadable)?;
    if let Some((line, why)) = verified.first_bad {
        return Err(UndoError::Unverified {
            record: record.to_owned(),
            line,
            why,
        });
    }
    if at <= verified.legacy {
        return Err(UndoError::Unverified {
            record: record.to_owned(),
            line: at,
            why: "the record was written before the trail's chain began, so nothing vouches \
                  for it"
                .into(),
        });
    }
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
    let intent = intent.ok_or_else(|| {
        malformed("its intent record (the finding it acted for) is missing".into())
    })?;
    let mismatch = |why: String| UndoError::Mismatch {
        record: record.to_owned(),
        why,
    };
    let planned = &intent.action.action;
    if planned.kind().as_str() != kind || planned.params() != found.params {
        return Err(mismatch(
            "its action record and its intent name different actions".into(),
        ));
    }
    reverses(
        planned,
        &reversal,
        &intent.finding,
        &checks.quarantine_policy,
    )
    .map_err(mismatch)?;
    if let Some(why) = reversal.out_of_scope(&intent.finding) {
        return Err(mismatch(format!(
            "it would touch {why}, outside its finding"
        )));
    }
    let key = intent.key;
    let mut plan = Plan::new(intent.finding, "undo");
    plan.actions.push(PlannedAction {
        action: Action::Undo(Undo {
            record: record.to_owned(),
            reversal,
        }),
        sources: Vec::new(),
        repeat_on_update: false,
        ask_first: false,
    });
    Ok(UndoPlan { plan, key })
}

/// Why `reversal` is not what remedy's executor writes for `action` on `finding`, if it is not.
fn reverses(
    action: &Action,
    reversal: &Reversal,
    finding: &FindingContext,
    quarantine_policy: &str,
) -> Result<(), String> {
    let policy = if quarantine_policy.is_empty() {
        DEFAULT_QUARANTINE_POLICY
    } else {
        quarantine_policy
    };
    let ok = match (action, reversal) {
        (
            Action::DisableAccessKey(d),
            Reversal::EnableAccessKey {
                user_name,
                access_key_id,
            },
        ) => *user_name == d.user_name && *access_key_id == d.access_key_id,
        (
            Action::RevokeRoleSessions(r),
            Reversal::DeleteInlinePolicy {
                principal,
                policy_name,
            },
        ) => {
            *principal == IamPrincipal::Role(r.role_name.clone())
                && *policy_name == RevokeRoleSessions::policy_name(&finding.id)
        }
        (
            Action::QuarantinePrincipal(q),
            Reversal::DeleteInlinePolicy {
                principal,
                policy_name,
            },
        ) => *principal == q.principal && policy_name == QUARANTINE_INLINE_POLICY,
        (
            Action::QuarantinePrincipal(q),
            Reversal::DetachPolicy {
                principal,
                policy_arn,
            },
        ) => {
            *principal == q.principal
                && (policy_arn == policy
                    || (!policy.starts_with("arn:")
                        && policy_arn.starts_with("arn:")
                        && policy_arn.ends_with(&format!(":policy/{policy}"))))
        }
        (Action::IsolateInstance(i), Reversal::ReleaseInstance { instance_id }) => {
            *instance_id == i.instance_id
        }
        (Action::UpdateFinding(_), Reversal::SetWorkflowStatus { .. }) => true,
        (Action::SuppressSimilar(s), Reversal::DeleteFilter { filter_name, .. }) => {
            *filter_name == s.filter_name(finding)
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "its reversal ({reversal}) is not what remedy writes for `{}` ({}): remedy undoes only \
             its own changes",
            action.kind(),
            action.describe()
        ))
    }
}
