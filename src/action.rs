//! Executors: carry out one planned action and say what happened.
//!
//! An [`Executor`] is a small dyn-compatible trait with one required method. Everything else is
//! built by wrapping: a [`Router`] dispatches by [`ActionKind`], [`DryRun`] reports what would be
//! done without doing it, [`Retry`] retries transient failures of idempotent actions, [`Timeout`]
//! bounds the time an action may take. In-memory executors ([`MemoryIam`], [`MemorySsm`],
//! [`MemoryNotifier`]) are first-class twins of the AWS ones for tests and dry runs.
//!
//! An executor that changes something says how to reverse it when it can
//! ([`Outcome::reversible`]): the record keeps it (`outcome.undo`) and `remedy undo` carries it
//! out as an [`crate::plan::Undo`] action.
//!
//! Executors know nothing of guards: by the time one is called, the remediator has checked the
//! kill switch, protection, rate limits and the ledger.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::plan::{Action, ActionKind, ActionPayload, FindingContext, Source};

mod command;
pub(crate) mod containment;
mod memory;
mod notify;
mod outcome;
mod router;
mod wrap;

pub use command::{CommandExecutor, EXIT_ALREADY_DONE};
pub use memory::{
    MemoryIam, MemoryNotifier, MemoryRunbooks, MemorySsm, MemoryWriteback, SentCommand, StartedRun,
    Suppression,
};
pub use notify::{Notification, TracingNotifier};
pub use outcome::{ActionError, ErrorKind, Outcome, SkipReason, Status};
pub use router::{ChannelRouter, Router};
pub use wrap::{DryRun, Retry, Timeout};

/// Carries out one action.
///
/// Implementations never panic on bad input and never return early with a bare error: every
/// result, failures included, is an [`Outcome`], so that the caller can record it. The trait is
/// an [`async_trait`](crate::async_trait) (re-exported by remedy): write `#[async_trait]` on the
/// `impl` and plain `async fn`s inside.
///
/// An executor for an action kind of your own, and a notifier that posts to a chat webhook of
/// yours: each reads its request, and a failure is an [`Outcome`] with an [`ErrorKind`].
///
/// ```
/// use remedy::action::{ActionRequest, ErrorKind, Notification, Outcome};
/// use remedy::plan::CustomAction;
/// use remedy::{Executor, async_trait};
///
/// /// Opens a ticket (a non-destructive host kind `open_ticket(queue, title)`).
/// #[derive(Debug)]
/// struct Tickets;
///
/// #[async_trait]
/// impl Executor for Tickets {
///     async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
///         let action = match request.payload::<CustomAction>("the ticket executor") {
///             Ok(action) => action,
///             Err(unsupported) => return unsupported,
///         };
///         let (Some(queue), Some(title)) = (action.str_param("queue"), action.str_param("title"))
///         else {
///             return Outcome::failed(ErrorKind::InvalidInput, "`queue` and `title` are needed");
///         };
///         // ... call the ticket system ...
///         Outcome::executed(format!("ticket opened in `{queue}`: {title}"))
///     }
/// }
///
/// /// Sends notifications to a chat room: the rendered text says what the finding was, and
/// /// `request.prior` what the plan's other actions came to.
/// #[derive(Debug)]
/// struct Chat;
///
/// #[async_trait]
/// impl Executor for Chat {
///     async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
///         let note = match Notification::render(request, "the chat notifier") {
///             Ok(note) => note,
///             Err(unsupported) => return unsupported,
///         };
///         let failed = request.prior.iter().filter(|p| p.summary.starts_with("failed")).count();
///         let text = format!("[{}] {} ({failed} failed)\n{}", note.channel, note.subject, note.body);
///         if text.len() > 40_000 {
///             return Outcome::failed(ErrorKind::InvalidInput, "message too long for the chat");
///         }
///         // ... post `text` to the room ...
///         Outcome::executed(format!("posted to #{}", note.channel))
///     }
/// }
/// # let _ = (Tickets, Chat);
/// ```
#[async_trait]
pub trait Executor: Send + Sync + fmt::Debug + 'static {
    /// Carries out `request.action` and reports what happened.
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome;

    /// Whether the action's effect is already in place. Asked before an action is carried out
    /// again whose earlier attempt was interrupted (its claim expired): a key already inactive is
    /// done, a command already sent for this finding is done. The default, [`Verification::Unknown`],
    /// lets the action run again (safe for idempotent actions and for notifications).
    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        let _ = request;
        Verification::Unknown
    }

    /// Whether this executor carries out actions of `kind`. A [`Router`] answers for its routes
    /// and a [`ChannelRouter`] for `notify`; a leaf executor takes, by default, every kind it is
    /// given. Asked when an [`Pipeline`](crate::Pipeline) is built (kinds the policies can choose that
    /// nothing carries out are reported) and before each action, so that a dry run reports
    /// `unsupported` exactly as the real run would.
    fn handles(&self, kind: &ActionKind) -> bool {
        let _ = kind;
        true
    }

    /// Whether a `notify` to `channel` reaches a notifier. A [`ChannelRouter`] answers for its
    /// channels (and its fallback), a [`Router`] asks its `notify` route; a leaf notifier takes, by
    /// default, every channel. Asked when a [`Pipeline`](crate::Pipeline) is built, for the
    /// channels the policies name.
    fn handles_channel(&self, channel: &str) -> bool {
        let _ = channel;
        true
    }
}

/// What [`Executor::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verification {
    /// The effect is in place: what was found, for people.
    Done(String),
    /// The effect is not in place: the action must run.
    NotDone,
    /// The executor cannot tell.
    Unknown,
}

#[async_trait]
impl<E: Executor + ?Sized> Executor for Box<E> {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        (**self).execute(request).await
    }

    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        (**self).verify(request).await
    }

    fn handles(&self, kind: &ActionKind) -> bool {
        (**self).handles(kind)
    }

    fn handles_channel(&self, channel: &str) -> bool {
        (**self).handles_channel(channel)
    }
}

#[async_trait]
impl<E: Executor + ?Sized> Executor for Arc<E> {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        (**self).execute(request).await
    }

    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        (**self).verify(request).await
    }

    fn handles(&self, kind: &ActionKind) -> bool {
        (**self).handles(kind)
    }

    fn handles_channel(&self, channel: &str) -> bool {
        (**self).handles_channel(channel)
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

/// What another action of the same plan came to; notifications report it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriorOutcome {
    /// The other action's kind.
    pub kind: ActionKind,
    /// What it acted on.
    pub target: String,
    /// One line: what happened or would have happened.
    pub summary: String,
    /// The approval request it waits for, when it is pending (`remedy approve ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<String>,
}

/// One action to carry out, with its context.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ActionRequest<'a> {
    /// The action.
    pub action: &'a Action,
    /// The finding the action is for (from the plan).
    pub finding: &'a FindingContext,
    /// The policies that chose the action.
    pub sources: &'a [Source],
    /// What the plan's other actions came to (filled for notifications, which run last).
    pub prior: &'a [PriorOutcome],
    /// The action's ledger key, joined into one string, when the remediator gave it: what makes
    /// a redelivery the same action ([`ActionRequest::idempotency_token`]).
    pub key: Option<&'a str>,
    /// For the notification that asks a person to decide: the request it asks about (a chat
    /// channel adds its buttons).
    pub approval: Option<&'a ApprovalAsk>,
    /// For the notification that says a request was closed without the channel (its timeout
    /// decided it): a chat channel that posted the ask also replaces it, buttons and all.
    pub closes: Option<&'a ApprovalClosed>,
}

/// A request closed without the channel that was asked (by its timeout): which request, and what
/// its ask should say now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalClosed {
    /// The request's id.
    pub id: String,
    /// What became of it, for people (replaces the ask's text).
    pub said: String,
}

/// What a notification asking for approval asks about: the request, what it would do and when
/// it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalAsk {
    /// The request's id (`remedy approve ID`).
    pub id: String,
    /// What would be done, for people.
    pub would: String,
    /// When the request expires (RFC 3339).
    pub expires: String,
    /// What happens then: `deny` or `approve`.
    pub on_timeout: String,
}

impl<'a> ActionRequest<'a> {
    /// A request for `action` on behalf of `finding`, with no sources and no prior outcomes.
    pub fn new(action: &'a Action, finding: &'a FindingContext) -> Self {
        Self {
            action,
            finding,
            sources: &[],
            prior: &[],
            approval: None,
            closes: None,
            key: None,
        }
    }

    /// Sets the approval request a notification says was closed without the channel.
    pub fn with_closes(mut self, closed: &'a ApprovalClosed) -> Self {
        self.closes = Some(closed);
        self
    }

    /// Sets the approval request a notification asks about.
    pub fn with_approval(mut self, approval: &'a ApprovalAsk) -> Self {
        self.approval = Some(approval);
        self
    }

    /// Sets the action's ledger key (joined).
    pub fn with_key(mut self, key: &'a str) -> Self {
        self.key = Some(key);
        self
    }

    /// A token in the shape of a UUID that is the same for every delivery of this action: a
    /// digest of its ledger key ([`ActionRequest::key`]), or, without one, of the finding's
    /// account and id and the action's kind and target. Services that take an idempotency token
    /// (SSM Automation's `ClientToken`, a Step Functions execution name) start one run per token.
    pub fn idempotency_token(&self) -> String {
        let fallback;
        let key = match self.key {
            Some(key) => key,
            None => {
                fallback = format!(
                    "{}\u{1f}{}\u{1f}{}\u{1f}{}",
                    self.finding.id,
                    self.action.kind(),
                    self.action.target(),
                    self.finding.account_id
                );
                &fallback
            }
        };
        crate::id::uuid_digest(key)
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

    /// The action as the type an executor carries out, or the `unsupported` outcome to return
    /// when it is of another kind (`executor` names the executor in that message).
    ///
    /// ```
    /// # use remedy::action::{ActionRequest, Outcome};
    /// # use remedy::plan::DisableAccessKey;
    /// # fn execute(request: &ActionRequest<'_>) -> Outcome {
    /// let key = match request.payload::<DisableAccessKey>("my IAM executor") {
    ///     Ok(key) => key,
    ///     Err(unsupported) => return unsupported,
    /// };
    /// # Outcome::executed(key.access_key_id.to_string())
    /// # }
    /// ```
    pub fn payload<T: ActionPayload>(&self, executor: &str) -> Result<&'a T, Outcome> {
        T::from_action(self.action).ok_or_else(|| self.unsupported(executor))
    }

    /// The outcome of an executor that does not carry out actions of this kind (`executor` names
    /// it in the message).
    pub fn unsupported(&self, executor: &str) -> Outcome {
        Outcome::failed(
            ErrorKind::Unsupported,
            format!("{executor} cannot carry out `{}`", self.action.kind()),
        )
    }
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
}
