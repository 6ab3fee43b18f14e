//! What came of an action: [`Outcome`], its [`Status`], and why an action was skipped or failed.

use std::fmt;

use serde::Serialize;
use serde::ser::SerializeStruct;

use crate::id::ApprovalId;
use crate::plan::Reversal;

/// The status of an outcome: what records, counts and exit codes are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// The action was carried out.
    Executed,
    /// Nothing needed doing: the desired state was already there.
    AlreadyDone,
    /// Another run is carrying the action out right now (it holds a live claim).
    InProgress,
    /// The action waits for a person to approve it (`remedy approve ID`).
    PendingApproval,
    /// The action was deliberately not carried out.
    Skipped,
    /// The action was attempted and failed.
    Failed,
}

impl Status {
    /// Every status, in the order summaries list them.
    pub const ALL: [Status; 6] = [
        Status::Executed,
        Status::AlreadyDone,
        Status::InProgress,
        Status::PendingApproval,
        Status::Skipped,
        Status::Failed,
    ];

    /// The status as records write it: `executed`, `already_done`, `in_progress`,
    /// `pending_approval`, `skipped`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Executed => "executed",
            Status::AlreadyDone => "already_done",
            Status::InProgress => "in_progress",
            Status::PendingApproval => "pending_approval",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What came of an action.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// The action was carried out.
    Executed {
        /// What was done, for people.
        details: String,
        /// How to reverse exactly what was done, when the executor knows (the containment
        /// executors do; `remedy undo` carries it out).
        undo: Option<Reversal>,
    },
    /// Nothing needed doing: the desired state was already there (or an earlier run did it).
    AlreadyDone {
        /// Why nothing was done, for people.
        details: String,
    },
    /// Another run holds a live claim on the action: it is being carried out there.
    InProgress {
        /// Who holds it and since when, for people.
        details: String,
    },
    /// The action waits for a person: an approval request is stored (and its channel asked); the
    /// action runs when someone approves it, through every guard again.
    PendingApproval {
        /// The request's id (`remedy approve ID`).
        approval_id: ApprovalId,
        /// When the request expires (RFC 3339).
        expires: String,
        /// What happens then: `deny` or `approve`.
        on_timeout: String,
        /// What is asked, for people.
        details: String,
    },
    /// The action was deliberately not carried out.
    Skipped(SkipReason),
    /// The action was attempted and failed.
    Failed(ActionError),
}

impl Outcome {
    /// An executed outcome.
    pub fn executed(details: impl Into<String>) -> Self {
        Outcome::Executed {
            details: details.into(),
            undo: None,
        }
    }

    /// An executed outcome that says how to reverse what was done.
    pub fn reversible(details: impl Into<String>, undo: Reversal) -> Self {
        Outcome::Executed {
            details: details.into(),
            undo: Some(undo),
        }
    }

    /// How to reverse what an executed action did, when its executor said.
    pub fn undo(&self) -> Option<&Reversal> {
        match self {
            Outcome::Executed { undo, .. } => undo.as_ref(),
            _ => None,
        }
    }

    /// An already-done outcome.
    pub fn already_done(details: impl Into<String>) -> Self {
        Outcome::AlreadyDone {
            details: details.into(),
        }
    }

    /// A failed outcome.
    pub fn failed(kind: ErrorKind, message: impl Into<String>) -> Self {
        Outcome::Failed(ActionError::new(kind, message))
    }

    /// The status, as records name it (`executed`, `already_done`, `skipped`, `failed`).
    pub fn status(&self) -> Status {
        match self {
            Outcome::Executed { .. } => Status::Executed,
            Outcome::AlreadyDone { .. } => Status::AlreadyDone,
            Outcome::InProgress { .. } => Status::InProgress,
            Outcome::PendingApproval { .. } => Status::PendingApproval,
            Outcome::Skipped(_) => Status::Skipped,
            Outcome::Failed(_) => Status::Failed,
        }
    }

    /// Whether the desired state now holds (executed or already done).
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Executed { .. } | Outcome::AlreadyDone { .. })
    }

    /// The error, when the action failed.
    pub fn error(&self) -> Option<&ActionError> {
        match self {
            Outcome::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// The skip reason, when the action was skipped.
    pub fn skip_reason(&self) -> Option<&SkipReason> {
        match self {
            Outcome::Skipped(r) => Some(r),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Executed { details, .. } => write!(f, "executed: {details}"),
            Outcome::AlreadyDone { details } => write!(f, "already done: {details}"),
            Outcome::InProgress { details } => write!(f, "in progress: {details}"),
            Outcome::PendingApproval { details, .. } => {
                write!(f, "pending approval: {details}")
            }
            Outcome::Skipped(reason) => write!(f, "skipped: {reason}"),
            Outcome::Failed(error) => write!(f, "failed: {error}"),
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Outcome", 3)?;
        s.serialize_field("status", &self.status())?;
        match self {
            Outcome::Executed { details, undo } => {
                s.serialize_field("details", details)?;
                if let Some(undo) = undo {
                    s.serialize_field("undo", undo)?;
                }
            }
            Outcome::AlreadyDone { details } | Outcome::InProgress { details } => {
                s.serialize_field("details", details)?;
            }
            Outcome::PendingApproval {
                approval_id,
                expires,
                on_timeout,
                details,
            } => {
                s.serialize_field("details", details)?;
                s.serialize_field("approval_id", approval_id)?;
                s.serialize_field("expires", expires)?;
                s.serialize_field("on_timeout", on_timeout)?;
            }
            Outcome::Skipped(reason) => {
                s.serialize_field("details", &reason.to_string())?;
                s.serialize_field("reason", reason)?;
            }
            Outcome::Failed(error) => {
                s.serialize_field("details", &error.to_string())?;
                s.serialize_field("error", error)?;
            }
        }
        s.end()
    }
}

/// Why an action was deliberately not carried out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// Dry run: the action would have been carried out.
    DryRun {
        /// What would have been done.
        would: String,
    },
    /// Every policy that chose the action is in shadow mode.
    Shadow {
        /// The policies in shadow mode.
        policies: Vec<String>,
        /// What would have been done.
        would: String,
    },
    /// A protection rule covers what the action would touch.
    Protected {
        /// The rule, e.g. ``user `admin*` ``.
        by: String,
    },
    /// The action kind's rate limit is exhausted.
    RateLimited {
        /// The rate-limited kind.
        action_kind: String,
        /// The limit, e.g. `10 per 3600 s`.
        limit: String,
    },
    /// The circuit breaker is open: destructive actions are stopped.
    CircuitOpen {
        /// Why the breaker tripped.
        cause: String,
    },
    /// The global kill switch is engaged.
    KillSwitch {
        /// Where the switch was found (file, flag).
        source: String,
    },
    /// The credentials are temporary or belong to root; disabling an access key cannot help.
    TemporaryCredentials {
        /// What to do instead.
        advice: String,
    },
    /// The finding is a sample: no destructive action is taken on its behalf.
    Sample,
    /// The run was stopping (a signal) before the action started; nothing was done.
    Interrupted,
    /// The finding's account is not one remedy may act in (`[accounts] allowed`, or not remedy's
    /// own account when no role is configured).
    AccountNotAllowed {
        /// The finding's account.
        account: String,
        /// Why, naming the accounts that are allowed (or remedy's own).
        detail: String,
    },
    /// A person denied the approval the action needed, or its request expired with
    /// `on_timeout = "deny"`.
    Denied {
        /// Who denied it (`timeout` when the request expired).
        by: String,
        /// When (RFC 3339).
        at: String,
        /// Their note.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// The approval request.
        approval_id: ApprovalId,
    },
    /// The action's kind is one a deployment turns on, and this one has not (`[writeback]
    /// kinds`); nothing was asked or called.
    NotEnabled {
        /// The kind that is off.
        action_kind: String,
        /// The configuration line that turns it on, e.g.
        /// `[writeback] kinds = ["update_finding"]`.
        setting: String,
    },
    /// A write-back held back: the plan's other actions (named) did not all come to their end.
    HeldBack {
        /// Each unfinished action with what came of it.
        unfinished: Vec<String>,
    },
    /// Another reason.
    Other {
        /// The reason.
        reason: String,
    },
}

impl SkipReason {
    /// The reason's kind as records name it: `dry_run`, `shadow`, `protected`, `rate_limited`,
    /// `circuit_open`, `kill_switch`, `temporary_credentials`, `sample`, `interrupted`,
    /// `account_not_allowed`, `denied`, `not_enabled`, `held_back` or `other`.
    pub fn kind(&self) -> &'static str {
        match self {
            SkipReason::DryRun { .. } => "dry_run",
            SkipReason::Shadow { .. } => "shadow",
            SkipReason::Protected { .. } => "protected",
            SkipReason::RateLimited { .. } => "rate_limited",
            SkipReason::CircuitOpen { .. } => "circuit_open",
            SkipReason::KillSwitch { .. } => "kill_switch",
            SkipReason::TemporaryCredentials { .. } => "temporary_credentials",
            SkipReason::Sample => "sample",
            SkipReason::Interrupted => "interrupted",
            SkipReason::AccountNotAllowed { .. } => "account_not_allowed",
            SkipReason::Denied { .. } => "denied",
            SkipReason::NotEnabled { .. } => "not_enabled",
            SkipReason::HeldBack { .. } => "held_back",
            SkipReason::Other { .. } => "other",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::DryRun { would } => write!(f, "dry run: would {would}"),
            SkipReason::Shadow { policies, would } => write!(
                f,
                "shadow mode (policy `{}` not enforced): would {would}",
                policies.join("`, `")
            ),
            SkipReason::Protected { by } => write!(f, "protected by {by}"),
            SkipReason::RateLimited { action_kind, limit } => {
                write!(f, "rate limit of `{action_kind}` reached ({limit})")
            }
            SkipReason::CircuitOpen { cause } => {
                write!(
                    f,
                    "circuit breaker open, destructive actions stopped: {cause}"
                )
            }
            SkipReason::KillSwitch { source } => write!(f, "kill switch engaged ({source})"),
            SkipReason::TemporaryCredentials { advice } => {
                write!(f, "temporary or root credentials: {advice}")
            }
            SkipReason::Sample => f.write_str("sample finding: no destructive action"),
            SkipReason::Interrupted => {
                f.write_str("not started: remedy was stopping (the next run will do it)")
            }
            SkipReason::AccountNotAllowed { account, detail } if account.is_empty() => {
                write!(f, "no account to act in: {detail}")
            }
            SkipReason::AccountNotAllowed { account, detail } => {
                write!(
                    f,
                    "account {account} is not one remedy may act in: {detail}"
                )
            }
            SkipReason::Denied {
                by,
                at,
                note,
                approval_id,
            } => {
                if by == "timeout" {
                    write!(
                        f,
                        "not approved: request {approval_id} expired at {at} (on_timeout = deny)"
                    )?;
                } else {
                    write!(f, "denied by {by} at {at} (request {approval_id})")?;
                }
                match note {
                    Some(note) => write!(f, ": {note}"),
                    None => Ok(()),
                }
            }
            SkipReason::NotEnabled {
                action_kind,
                setting,
            } => write!(
                f,
                "`{action_kind}` is not enabled: add `{setting}` to the configuration"
            ),
            SkipReason::HeldBack { unfinished } => write!(
                f,
                "not written back: the plan's other actions did not all come to their end: {}",
                unfinished.join("; ")
            ),
            SkipReason::Other { reason } => f.write_str(reason),
        }
    }
}

/// What went wrong, in terms a caller can act on (never which backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The target does not exist (or is not where the action says it is).
    NotFound,
    /// The credentials may not do this.
    PermissionDenied,
    /// The backend asked to slow down.
    Throttled,
    /// The action's parameters were rejected.
    InvalidInput,
    /// The backend could not be reached or failed on its side.
    Unavailable,
    /// The action did not finish in time.
    Timeout,
    /// The target's state conflicts with the action (e.g. it changed concurrently).
    Conflict,
    /// No executor handles the action's kind or channel.
    Unsupported,
    /// The audit trail could not record the action's intent, so it was not carried out.
    AuditUnavailable,
    /// The shared state (ledger, rate limits) could not be read or written, so the action was not
    /// carried out.
    StateUnavailable,
    /// The run was stopped (a signal) while the action ran; its effect is unknown.
    Interrupted,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// The kind's name as used in records, e.g. `not_found`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Throttled => "throttled",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::AuditUnavailable => "audit_unavailable",
            ErrorKind::StateUnavailable => "state_unavailable",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str().replace('_', " ").as_str())
    }
}

/// An action that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ActionError {
    kind: ErrorKind,
    message: String,
    retryable: Option<bool>,
    nothing_done: Option<Option<std::time::Duration>>,
}

impl ActionError {
    /// An error of `kind`; whether it is retryable follows from the kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retryable: None,
            nothing_done: None,
        }
    }

    /// Says that nothing was done (a 429, a connection never made), so trying again cannot do
    /// it twice, even for a kind that is not idempotent; `after`: how long the other side asked
    /// to wait first. [`crate::action::Retry`] retries such a failure.
    pub fn with_nothing_done(mut self, after: Option<std::time::Duration>) -> Self {
        self.nothing_done = Some(after);
        self.retryable = Some(true);
        self
    }

    /// Whether nothing was done (see [`ActionError::with_nothing_done`]).
    pub fn nothing_done(&self) -> bool {
        self.nothing_done.is_some()
    }

    /// How long the other side asked to wait before trying again, if it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.nothing_done.flatten()
    }

    /// Overrides whether a retry could help.
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = Some(retryable);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, for people.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether trying again later could succeed (throttling, unavailability, timeouts, unless
    /// overridden).
    pub fn retryable(&self) -> bool {
        self.retryable.unwrap_or(matches!(
            self.kind,
            ErrorKind::Throttled
                | ErrorKind::Unavailable
                | ErrorKind::Timeout
                | ErrorKind::AuditUnavailable
                | ErrorKind::StateUnavailable
        ))
    }
}

impl Serialize for ActionError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("ActionError", 3)?;
        s.serialize_field("kind", &self.kind)?;
        s.serialize_field("message", &self.message)?;
        s.serialize_field("retryable", &self.retryable())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_follows_kind() {
        assert!(ActionError::new(ErrorKind::Throttled, "x").retryable());
        assert!(!ActionError::new(ErrorKind::NotFound, "x").retryable());
        assert!(
            !ActionError::new(ErrorKind::Timeout, "x")
                .with_retryable(false)
                .retryable()
        );
    }

    #[test]
    fn outcomes_serialize_with_status_and_reason() {
        let o = Outcome::Skipped(SkipReason::Protected {
            by: "user `admin*`".into(),
        });
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["status"], "skipped");
        assert_eq!(v["reason"]["kind"], "protected");
        assert_eq!(v["details"], "protected by user `admin*`");
        let f = serde_json::to_value(Outcome::failed(ErrorKind::Throttled, "slow down")).unwrap();
        assert_eq!(f["error"]["kind"], "throttled");
        assert_eq!(f["error"]["retryable"], true);
        assert_eq!(o.status(), Status::Skipped);
        assert_eq!(Status::AlreadyDone.to_string(), "already_done");
        let undo = Reversal::Irreversible {
            reason: "gone".into(),
        };
        let v = serde_json::to_value(Outcome::reversible("done", undo.clone())).unwrap();
        assert_eq!(v["undo"]["kind"], "irreversible");
        assert_eq!(v["details"], "done");
        assert!(
            serde_json::to_value(Outcome::executed("done"))
                .unwrap()
                .get("undo")
                .is_none()
        );
        assert_eq!(Outcome::reversible("d", undo.clone()).undo(), Some(&undo));
        for reason in [
            SkipReason::Sample,
            SkipReason::DryRun { would: "x".into() },
            SkipReason::CircuitOpen { cause: "x".into() },
        ] {
            let json = serde_json::to_value(&reason).unwrap();
            assert_eq!(json["kind"], reason.kind());
        }
    }
}
