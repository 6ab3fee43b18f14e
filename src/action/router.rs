//! Dispatch by action kind, and notifications by channel.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::{ActionRequest, ErrorKind, Executor, Outcome, Verification};
use crate::plan::{Action, ActionKind, Notify};

/// The route of `action`: its kind, or for `undo` the kind whose executor reverses the change
/// ([`crate::plan::Reversal::undone_by`]).
fn route_of(action: &Action) -> ActionKind {
    match action {
        Action::Undo(u) => u.reversal.undone_by(),
        _ => action.kind(),
    }
}

/// Maps action kinds to executors; itself an [`Executor`].
///
/// An action whose kind has no executor fails with [`ErrorKind::Unsupported`]. An `undo` goes
/// to the executor of the kind that reverses its change ([`crate::plan::Reversal::undone_by`]):
/// `undo`'s route, or `isolate_instance`'s for a release.
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: BTreeMap<ActionKind, Arc<dyn Executor>>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `kind` to `executor`, replacing an earlier route.
    pub fn with(mut self, kind: ActionKind, executor: Arc<dyn Executor>) -> Self {
        self.routes.insert(kind, executor);
        self
    }

    /// Routes `kind` to `executor`, replacing an earlier route.
    pub fn insert(&mut self, kind: ActionKind, executor: Arc<dyn Executor>) {
        self.routes.insert(kind, executor);
    }

    /// The executor for `kind`.
    pub fn get(&self, kind: &ActionKind) -> Option<&Arc<dyn Executor>> {
        self.routes.get(kind)
    }

    /// The routed kinds.
    pub fn kinds(&self) -> impl Iterator<Item = &ActionKind> {
        self.routes.keys()
    }
}

#[async_trait]
impl Executor for Router {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let kind = route_of(request.action);
        match self.routes.get(&kind) {
            Some(executor) => executor.execute(request).await,
            None => Outcome::failed(
                ErrorKind::Unsupported,
                format!("no executor is configured for action kind `{kind}`"),
            ),
        }
    }

    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        match self.routes.get(&route_of(request.action)) {
            Some(executor) => executor.verify(request).await,
            None => Verification::Unknown,
        }
    }

    fn handles(&self, kind: &ActionKind) -> bool {
        self.routes.get(kind).is_some_and(|e| e.handles(kind))
    }

    fn handles_channel(&self, channel: &str) -> bool {
        self.routes
            .get(&ActionKind::NOTIFY)
            .is_some_and(|e| e.handles_channel(channel))
    }
}

/// Maps notify channels to notifiers (an SNS topic per channel, the log, ...); itself an
/// [`Executor`] for `notify` actions.
///
/// A channel without a route goes to the fallback when there is one, and fails with
/// [`ErrorKind::Unsupported`] otherwise.
#[derive(Debug, Clone, Default)]
pub struct ChannelRouter {
    channels: BTreeMap<String, Arc<dyn Executor>>,
    fallback: Option<Arc<dyn Executor>>,
}

impl ChannelRouter {
    /// A router with no channels and no fallback.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends `channel` to `notifier`.
    pub fn with_channel(mut self, channel: impl Into<String>, notifier: Arc<dyn Executor>) -> Self {
        self.channels.insert(channel.into(), notifier);
        self
    }

    /// Sends channels without a route to `notifier`.
    pub fn with_fallback(mut self, notifier: Arc<dyn Executor>) -> Self {
        self.fallback = Some(notifier);
        self
    }

    /// The configured channel names.
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.channels.keys().map(String::as_str)
    }
}

#[async_trait]
impl Executor for ChannelRouter {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let notify = match request.payload::<Notify>("a channel router") {
            Ok(notify) => notify,
            Err(unsupported) => return unsupported,
        };
        match self
            .channels
            .get(&notify.channel)
            .or(self.fallback.as_ref())
        {
            Some(notifier) => notifier.execute(request).await,
            None => Outcome::failed(
                ErrorKind::Unsupported,
                format!("no notifier is configured for channel `{}`", notify.channel),
            ),
        }
    }

    fn handles(&self, kind: &ActionKind) -> bool {
        *kind == ActionKind::NOTIFY
    }

    fn handles_channel(&self, channel: &str) -> bool {
        self.fallback.is_some() || self.channels.contains_key(channel)
    }
}
