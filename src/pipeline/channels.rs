//! The notify channels of a real run: each `[notify]` target made into its notifier, with its
//! secrets read and its threads kept where the run keeps its state.

use std::sync::Arc;
#[cfg(feature = "chat")]
use std::time::Duration;

use super::{Assembly, AssemblyError};
use crate::action::{ChannelRouter, Executor, TracingNotifier};
#[cfg(feature = "chat")]
use crate::action::{ExecutorExt, Retry};
use crate::config::NotifyTarget;
use crate::store::thread::{FileThreads, MemoryThreads, ThreadStore};

impl Assembly {
    /// Where notification threads are kept: the `[state]` table when the run shares state, the
    /// ledger's directory (`threads/`) when it has one, else this process's memory.
    pub async fn threads(&self) -> Result<Arc<dyn ThreadStore>, AssemblyError> {
        let config = self.config();
        #[cfg(feature = "aws")]
        if self.uses_shared_state() {
            let settings = crate::aws::AwsSettings::from_config(&config.aws);
            if let Some(table) = crate::aws::StateTable::from_config(config, &settings).await {
                return Ok(Arc::new(table.threads()));
            }
        }
        if let Some(dir) = &config.ledger.path {
            let threads = FileThreads::open(dir.join("threads")).map_err(|e| {
                crate::config::ConfigError::Open {
                    what: "notification threads",
                    message: e.to_string(),
                }
            })?;
            return Ok(Arc::new(threads));
        }
        Ok(Arc::new(MemoryThreads::new()))
    }

    /// The channel router of a real run: every `[notify]` channel and the default.
    pub(super) async fn channels(&self) -> Result<Arc<dyn Executor>, AssemblyError> {
        let notify = &self.config().notify;
        let threads = self.threads().await?;
        #[cfg(feature = "aws")]
        let clients = {
            let settings = crate::aws::AwsSettings::from_config(&self.config().aws);
            settings.load().await
        };
        let mut router = ChannelRouter::new();
        let targets = notify
            .channels
            .iter()
            .map(|(name, target)| (Some(name), target))
            .chain(notify.default.iter().map(|target| (None, target)));
        for (name, target) in targets {
            let field = match name {
                Some(name) => format!("notify.channels.{name}"),
                None => "notify.default".to_owned(),
            };
            #[cfg(feature = "aws")]
            let made = crate::aws::notifier(&clients, target, &threads);
            #[cfg(not(feature = "aws"))]
            let made: Option<Arc<dyn Executor>> = None;
            let notifier = match made {
                Some(notifier) => notifier,
                None => self.chat_notifier(target, &field, &threads).await?,
            };
            router = match name {
                Some(name) => router.with_channel(name.clone(), notifier),
                None => router.with_fallback(notifier),
            };
        }
        Ok(Arc::new(router))
    }

    /// The notifier of a target outside AWS: the log, Slack or Teams (feature `chat`).
    async fn chat_notifier(
        &self,
        target: &NotifyTarget,
        field: &str,
        threads: &Arc<dyn ThreadStore>,
    ) -> Result<Arc<dyn Executor>, AssemblyError> {
        let _ = threads;
        match target {
            NotifyTarget::Log => Ok(Arc::new(TracingNotifier::new())),
            #[cfg(feature = "chat")]
            NotifyTarget::Slack(slack) => {
                let token = self.secret(&slack.token, field).await?;
                let notifier = crate::notify::Slack::new(slack.channel.clone(), token)
                    .with_api_url(slack.api_url.clone())
                    .with_timeout(Duration::from_secs(slack.timeout_secs))
                    .with_threads(Arc::clone(threads));
                Ok(retried(notifier))
            }
            #[cfg(feature = "chat")]
            NotifyTarget::Teams(teams) => {
                let url = self.secret(&teams.webhook, field).await?;
                let notifier = crate::notify::Teams::new(url)
                    .with_timeout(Duration::from_secs(teams.timeout_secs));
                Ok(retried(notifier))
            }
            other => Err(AssemblyError::Unavailable(format!(
                "`{field}` ({}) needs a feature this build lacks (`aws` for SNS and email, \
                 `chat` for Slack and Teams)",
                other.describe()
            ))),
        }
    }
}

/// A chat notifier that posts once more after a 429 (Slack's `Retry-After`), up to 4 attempts;
/// nothing else is sent twice.
#[cfg(feature = "chat")]
fn retried(notifier: impl Executor) -> Arc<dyn Executor> {
    Retry::new(notifier)
        .with_max_attempts(4)
        .with_backoff(Duration::from_secs(1), Duration::from_secs(30))
        .into_arc()
}

#[cfg(feature = "chat")]
impl Assembly {
    /// The handler of Slack's decision buttons for `[approval] notify`'s channel, which must be a
    /// `slack` channel with a signing secret: its token updates the messages, its signing secret
    /// verifies the requests, `[approval] approvers` says who may decide. The remediator is this
    /// assembly's (it must execute to approve).
    pub async fn slack_interactions(
        &self,
    ) -> Result<crate::serve::SlackInteractions, AssemblyError> {
        let config = self.config();
        let name = &config.approval.notify;
        let field = format!("notify.channels.{name}");
        let Some(NotifyTarget::Slack(slack)) = config.notify.channels.get(name) else {
            return Err(crate::config::invalid(
                "approval.notify",
                format!(
                    "`{name}` must be a `slack` channel of `[notify.channels]` to decide from Slack"
                ),
            )
            .into());
        };
        let Some(signing) = &slack.signing_secret else {
            return Err(crate::config::invalid(
                field,
                "give `signing_secret_env` or `signing_secret` (the Slack app's signing secret)",
            )
            .into());
        };
        let signing = self.secret(signing, &field).await?;
        let token = self.secret(&slack.token, &field).await?;
        let notifier = crate::notify::Slack::new(slack.channel.clone(), token)
            .with_api_url(slack.api_url.clone())
            .with_timeout(Duration::from_secs(slack.timeout_secs));
        let remediator = Arc::new(self.remediator().await?);
        Ok(
            crate::serve::SlackInteractions::new(signing, remediator, notifier)
                .with_approvers(config.approval.approvers.iter().cloned()),
        )
    }
}
