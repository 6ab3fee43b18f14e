//! Executors: carry out one planned action and say what happened.
//!
//! An [`Executor`] is a small dyn-compatible trait with one required method. Everything else is
//! built by wrapping: a [`Router`] dispatches by [`ActionKind`], [`DryRun`] reports what would be
//! done without doing it, [`Retry`] retries transient failures of idempotent actions, [`Timeout`]
//! bounds the time an action may take. In-memory executors ([`MemoryIam`], [`MemorySsm`],
//! [`MemoryNotifier`]) are first-class twins of the AWS ones for tests and dry runs.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde::ser::SerializeStruct;

use crate::plan::{Action, ActionKind, Source};

mod memory;
mod notify;
mod router;
mod wrap;

pub use memory::{MemoryIam, MemoryNotifier, MemorySsm, SentCommand};
pub use notify::{Notification, TracingNotifier};
pub use router::{ChannelRouter, Router};
pub use wrap::{DryRun, Retry, Timeout};

/// Carries out one action.
///
/// Implementations never panic on bad input and never return early with a bare error: every
/// result, failures included, is an [`Outcome`], so that the caller can record it.
#[async_trait]
pub trait Executor: Send + Sync + fmt::Debug + 'static {
    /// Carries out `request.action` and reports what happened.
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome;
}

#[async_trait]
impl<E: Executor + ?Sized> Executor for Box<E> {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        (**self).execute(request).await
    }
}

#[async_trait]
impl<E: Executor + ?Sized> Executor for Arc<E> {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        (**self).execute(request).await
    }
}

/// Conveniences for every [`Executor`]: wrapping and type erasure.
pub trait ExecutorExt: Executor + Sized {
    /// Wraps the executor so that it reports what it would do and does nothing.
    fn dry_run(self) -> DryRun<Self> {
        DryRun::new(self)
    }

    /// Wraps the executor so that transient failures of idempotent actions are retried.
    fn retry(self) -> Retry<Self> {
        Retry::new(self)
    }

    /// Wraps the executor so that an action taking longer than `limit` fails with
    /// [`ErrorKind::Timeout`].
    fn timeout(self, limit: std::time::Duration) -> Timeout<Self> {
        Timeout::new(self, limit)
    }

    /// Erases the executor's type.
    fn into_arc(self) -> Arc<dyn Executor> {
        Arc::new(self)
    }
}

impl<E: Executor> ExecutorExt for E {}

/// What an executor knows about the finding an action is for.
///
/// Filled from a finding by the caller; executors use it for guards (the principal's type) and
/// for messages people read (notifications, SSM comments).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FindingContext {
    /// The finding's id.
    pub id: String,
    /// The finding's type, e.g. `UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom`.
    pub finding_type: String,
    /// The finding's title.
    pub title: String,
    /// The severity, 0 to 10.
    pub severity: f64,
    /// The AWS account id.
    pub account_id: String,
    /// The region.
    pub region: String,
    /// Whether the finding is a sample.
    pub sample: bool,
    /// The IAM user (or role) name of the principal, when the finding names one.
    pub user_name: Option<String>,
    /// The principal's type: `IAMUser`, `AssumedRole`, `Root`, `FederatedUser`, ...
    pub user_type: Option<String>,
    /// The access key id the principal used.
    pub access_key_id: Option<String>,
    /// The instances the finding is about.
    pub instance_ids: Vec<String>,
    /// The tags of the finding's instance, as key and value.
    pub instance_tags: Vec<(String, String)>,
    /// The remote IP address.
    pub remote_ip: Option<String>,
    /// The remote IP's country.
    pub remote_country: Option<String>,
    /// The API called, e.g. `GetParameters`.
    pub api: Option<String>,
    /// The service of the API, e.g. `ssm.amazonaws.com`.
    pub api_service: Option<String>,
}

impl FindingContext {
    /// A context with only an id and a type (tests, host-made plans).
    pub fn new(id: impl Into<String>, finding_type: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            finding_type: finding_type.into(),
            ..Self::default()
        }
    }

    /// The severity band name: `Low`, `Medium`, `High` or `Critical`.
    pub fn severity_band(&self) -> &'static str {
        match self.severity {
            s if s >= 9.0 => "Critical",
            s if s >= 7.0 => "High",
            s if s >= 4.0 => "Medium",
            _ => "Low",
        }
    }
}

impl From<&crate::finding::Finding> for FindingContext {
    fn from(f: &crate::finding::Finding) -> Self {
        let owned = |s: Option<&str>| s.map(str::to_owned);
        Self {
            id: f.id().to_owned(),
            finding_type: f.finding_type().to_string(),
            title: f.title().to_owned(),
            severity: f.severity().value(),
            account_id: f.account_id().to_owned(),
            region: f.region().to_owned(),
            sample: f.is_sample(),
            user_name: owned(f.user_name()),
            user_type: owned(f.user_type()),
            access_key_id: owned(f.access_key_id()),
            instance_ids: f.instance_ids().into_iter().map(str::to_owned).collect(),
            instance_tags: f
                .instance_tags()
                .iter()
                .map(|t| (t.key.as_str().to_owned(), t.value.as_str().to_owned()))
                .collect(),
            remote_ip: f.remote_ip().map(|ip| ip.to_string()),
            remote_country: owned(f.remote_country()),
            api: owned(f.api()),
            api_service: owned(f.api_service()),
        }
    }
}

/// What another action of the same plan came to; notifications report it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriorOutcome {
    /// The other action's kind.
    pub kind: ActionKind,
    /// What it acted on.
    pub target: String,
    /// One line: what happened or would have happened.
    pub summary: String,
}

/// One action to carry out, with its context.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ActionRequest<'a> {
    /// The action.
    pub action: &'a Action,
    /// The finding the action is for.
    pub finding: &'a FindingContext,
    /// The policies that chose the action.
    pub sources: &'a [Source],
    /// What the plan's other actions came to (filled for notifications, which run last).
    pub prior: &'a [PriorOutcome],
}

impl<'a> ActionRequest<'a> {
    /// A request for `action` on behalf of `finding`, with no sources and no prior outcomes.
    pub fn new(action: &'a Action, finding: &'a FindingContext) -> Self {
        Self {
            action,
            finding,
            sources: &[],
            prior: &[],
        }
    }

    /// Sets the policies that chose the action.
    pub fn with_sources(mut self, sources: &'a [Source]) -> Self {
        self.sources = sources;
        self
    }

    /// Sets what the plan's other actions came to.
    pub fn with_prior(mut self, prior: &'a [PriorOutcome]) -> Self {
        self.prior = prior;
        self
    }

    /// The finding's id.
    pub fn finding_id(&self) -> &str {
        &self.finding.id
    }

    /// The first reason a policy gave for the action.
    pub fn reason(&self) -> Option<&str> {
        self.sources.iter().find_map(|s| s.reason.as_deref())
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
    },
    /// Nothing needed doing: the desired state was already there (or an earlier run did it).
    AlreadyDone {
        /// Why nothing was done, for people.
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

    /// The status word used in records: `executed`, `already_done`, `skipped` or `failed`.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Executed { .. } => "executed",
            Outcome::AlreadyDone { .. } => "already_done",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed(_) => "failed",
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
            Outcome::Executed { details } => write!(f, "executed: {details}"),
            Outcome::AlreadyDone { details } => write!(f, "already done: {details}"),
            Outcome::Skipped(reason) => write!(f, "skipped: {reason}"),
            Outcome::Failed(error) => write!(f, "failed: {error}"),
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Outcome", 3)?;
        s.serialize_field("status", self.status())?;
        match self {
            Outcome::Executed { details } | Outcome::AlreadyDone { details } => {
                s.serialize_field("details", details)?;
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
    /// Another reason.
    Other {
        /// The reason.
        reason: String,
    },
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
}

impl ActionError {
    /// An error of `kind`; whether it is retryable follows from the kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retryable: None,
        }
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
            ErrorKind::Throttled | ErrorKind::Unavailable | ErrorKind::Timeout
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

/// Whether an action of this kind can be repeated without changing the result.
///
/// `disable_access_key` is idempotent; `run_command` and `notify` are not (a second call runs the
/// command again or sends a second message); custom kinds are assumed not to be.
pub fn is_idempotent(kind: &ActionKind) -> bool {
    *kind == ActionKind::DISABLE_ACCESS_KEY
}

/// When disabling `access_key_id` cannot contain the threat, what to do instead.
///
/// Temporary credentials (`ASIA…` keys, principals of type `AssumedRole` or `FederatedUser`)
/// cannot be disabled with `UpdateAccessKey`; root credentials must be rotated by the account
/// owner. Both the remediator's guards and the executors use this check.
pub fn temporary_credentials_advice(
    access_key_id: &str,
    user_type: Option<&str>,
) -> Option<String> {
    match user_type {
        Some("Root") => {
            return Some(
                "root credentials cannot be disabled by remedy: rotate the root user's password and \
                 access keys, check its MFA, and review CloudTrail for the root user"
                    .into(),
            );
        }
        Some("AssumedRole") => {
            return Some(
                "the key belongs to an assumed-role session: revoke the role's active sessions \
                 (IAM \"Revoke active sessions\", which attaches AWSRevokeOlderSessions) and review \
                 who may assume the role"
                    .into(),
            );
        }
        Some("FederatedUser") => {
            return Some(
                "the key belongs to a federated session: deny the federated user with a policy on \
                 the IAM user that called GetFederationToken, then rotate that user's keys"
                    .into(),
            );
        }
        _ => {}
    }
    access_key_id.starts_with("ASIA").then(|| {
        "`ASIA…` keys are temporary STS credentials that UpdateAccessKey cannot disable: revoke \
         the sessions of the role or user that issued them"
            .into()
    })
}

/// The most instances SSM `SendCommand` accepts in one call.
pub(crate) const MAX_INSTANCES_PER_CALL: usize = 50;

/// The comment an SSM command carries: the finding id, within SSM's 100-character limit.
pub(crate) fn ssm_comment(finding_id: &str) -> String {
    let comment = format!("remedy finding {finding_id}");
    let comment: String = comment.chars().filter(|c| !c.is_control()).collect();
    // SSM counts characters; 100 bytes is never more than 100 characters.
    truncate_chars(&comment, 100)
}

/// Cuts `text` to at most `max_bytes` bytes at a character boundary, appending `…` when cut.
pub(crate) fn truncate_chars(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let budget = max_bytes.saturating_sub('…'.len_utf8());
    let mut end = budget.min(text.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = text.get(..end).unwrap_or_default().to_owned();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "ééééé"; // 10 bytes
        let t = truncate_chars(s, 6);
        assert!(t.len() <= 6, "{t}");
        assert!(t.ends_with('…'));
        assert_eq!(truncate_chars("short", 10), "short");
    }

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
    fn temporary_credentials_are_recognised() {
        assert!(temporary_credentials_advice("ASIAAAAAAAAAAAAAAAAA", Some("IAMUser")).is_some());
        assert!(
            temporary_credentials_advice("AKIAAAAAAAAAAAAAAAAA", Some("Root"))
                .unwrap()
                .contains("rotate")
        );
        assert!(
            temporary_credentials_advice("AKIAAAAAAAAAAAAAAAAA", Some("AssumedRole"))
                .unwrap()
                .contains("revoke")
        );
        assert!(temporary_credentials_advice("AKIAAAAAAAAAAAAAAAAA", Some("IAMUser")).is_none());
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
    }
}
