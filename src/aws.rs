//! Executors built on the official AWS SDK (feature `aws`): IAM access keys, IAM containment
//! (role sessions, quarantine, console passwords, undo), SSM Run Command, SNS; the shared state in
//! one DynamoDB table ([`StateTable`], [`DynamoLedger`], [`DynamoState`], [`state_backends`]); and
//! enrichers: the principal's permissions (IAM) and its key's recent activity (CloudTrail).
//!
//! Clients come from `aws-config` (region, profile, credentials and the standard
//! `AWS_ENDPOINT_URL` override), with explicit operation and attempt timeouts and retry settings
//! from [`AwsSettings`]. Non-idempotent calls (`SendCommand`, `Publish`) are tried once: the SDK
//! never repeats them. SDK errors are mapped to [`crate::ErrorKind`]; no SDK type appears in this
//! module's public API.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::action::{ChannelRouter, Executor, Router, TracingNotifier};
use crate::config::{AccountsConfig, AwsConfig, Config, NotifyTarget};
use crate::plan::ActionKind;
use crate::plan::kinds::{BUILTIN_KINDS, Carrier};
use crate::store::approval::ApprovalStore;
use crate::store::ledger::Ledger;
use crate::store::state::StateStore;
use crate::store::thread::{MemoryThreads, ThreadStore};

mod accounts;
mod containment;
mod dynamo;
mod email;
mod enrich;
mod error;
mod iam;
mod runbooks;
mod secrets;
mod sns;
mod ssm;
mod writeback;

pub use containment::ContainmentExecutor;
pub use dynamo::{
    DynamoApprovals, DynamoLedger, DynamoState, DynamoThreads, StateTable, TableInit,
};
pub use email::EmailNotifier;
pub use enrich::{CloudTrailEnricher, IamEnricher, enrichers};
pub use iam::DisableAccessKeyExecutor;
pub use runbooks::RunbookExecutor;
pub use secrets::read_secret;
pub use sns::SnsNotifier;
pub use ssm::RunCommandExecutor;
pub use writeback::{EXPIRES_TAG, WritebackExecutor};

/// How AWS clients are made: region and endpoint overrides, timeouts, retries.
///
/// Everything not set here comes from the standard AWS environment (`AWS_REGION`,
/// `AWS_PROFILE`, `AWS_ENDPOINT_URL`, the credential chain).
#[derive(Clone, Default)]
pub struct AwsSettings {
    region: Option<String>,
    endpoint_url: Option<String>,
    credentials: Option<(String, String)>,
    operation_timeout: Option<Duration>,
    attempt_timeout: Option<Duration>,
    max_attempts: Option<u32>,
    wait_for_command: Duration,
    wait_for_runbook: Duration,
    accounts: AccountsConfig,
}

impl std::fmt::Debug for AwsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("AwsSettings")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field(
                "static_credentials",
                &self.credentials.as_ref().map(|(id, _)| id),
            )
            .field("operation_timeout", &self.operation_timeout())
            .field("attempt_timeout", &self.attempt_timeout())
            .field("max_attempts", &self.max_attempts())
            .field("wait_for_command", &self.wait_for_command)
            .field("wait_for_runbook", &self.wait_for_runbook)
            .field("accounts", &self.accounts)
            .finish()
    }
}

impl AwsSettings {
    /// Settings from the configuration's `[aws]` section.
    pub fn from_config(config: &AwsConfig) -> Self {
        Self {
            region: config.region.clone(),
            endpoint_url: None,
            credentials: None,
            operation_timeout: Some(Duration::from_secs(config.operation_timeout_secs)),
            attempt_timeout: Some(Duration::from_secs(config.attempt_timeout_secs)),
            max_attempts: Some(config.max_attempts),
            wait_for_command: Duration::from_secs(config.wait_for_command_secs),
            wait_for_runbook: Duration::from_secs(config.wait_for_runbook_secs),
            accounts: AccountsConfig::default(),
        }
    }

    /// The accounts the executors act in and the role they assume there (`[accounts]`; default:
    /// remedy's own account only).
    pub fn with_accounts(mut self, accounts: AccountsConfig) -> Self {
        self.accounts = accounts;
        self
    }

    /// Overrides the region.
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Overrides the endpoint of every service (like `AWS_ENDPOINT_URL`).
    pub fn with_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Uses fixed credentials instead of the credential chain (local endpoints, tests).
    pub fn with_static_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.credentials = Some((access_key_id.into(), secret_access_key.into()));
        self
    }

    /// Sets the whole-call timeout (retries included) and the per-attempt timeout.
    pub fn with_timeouts(mut self, operation: Duration, attempt: Duration) -> Self {
        self.operation_timeout = Some(operation);
        self.attempt_timeout = Some(attempt);
        self
    }

    /// Sets the attempts for idempotent calls (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts.max(1));
        self
    }

    /// After `SendCommand`, waits up to `wait` for the invocations to finish (zero: do not wait).
    pub fn with_wait_for_command(mut self, wait: Duration) -> Self {
        self.wait_for_command = wait;
        self
    }

    /// After starting a runbook or a state machine, waits up to `wait` for it to end (zero: do
    /// not wait; report it started).
    pub fn with_wait_for_runbook(mut self, wait: Duration) -> Self {
        self.wait_for_runbook = wait;
        self
    }

    fn operation_timeout(&self) -> Duration {
        self.operation_timeout.unwrap_or(Duration::from_secs(30))
    }

    fn attempt_timeout(&self) -> Duration {
        self.attempt_timeout.unwrap_or(Duration::from_secs(10))
    }

    fn max_attempts(&self) -> u32 {
        self.max_attempts.unwrap_or(3).max(1)
    }

    /// Loads the shared SDK configuration.
    pub(crate) async fn load(&self) -> AwsClients {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3).min(self.attempt_timeout()))
                    .operation_timeout(self.operation_timeout())
                    .operation_attempt_timeout(self.attempt_timeout())
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(self.max_attempts()));
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some((id, secret)) = &self.credentials {
            loader = loader.credentials_provider(aws_sdk_iam::config::Credentials::new(
                id.clone(),
                secret.clone(),
                None,
                None,
                "remedy-static",
            ));
        }
        let sdk = loader.load().await;
        AwsClients {
            accounts: Arc::new(accounts::AccountClients::new(
                sdk.clone(),
                self.accounts.clone(),
            )),
            sdk,
            wait_for_command: self.wait_for_command,
            wait_for_runbook: self.wait_for_runbook,
        }
    }
}

/// The loaded SDK configuration, shared by the executors.
#[derive(Debug, Clone)]
pub(crate) struct AwsClients {
    pub(crate) sdk: SdkConfig,
    pub(crate) wait_for_command: Duration,
    pub(crate) wait_for_runbook: Duration,
    /// The configuration per finding account (credentials) and region.
    pub(crate) accounts: Arc<accounts::AccountClients>,
}

/// The action kinds [`router`] routes: every built-in kind
/// ([`crate::plan::kinds::BUILTIN_KINDS`]).
pub fn kinds() -> Vec<ActionKind> {
    ActionKind::builtin().collect()
}

/// A router with the AWS executors: `disable_access_key` (IAM), `revoke_role_sessions`,
/// `quarantine_principal` (with `config.containment.quarantine_policy`), `disable_console_login`
/// and `undo` (IAM), `run_command` (SSM), `start_automation` and `isolate_instance` (SSM
/// Automation, with `config.runbooks`; releasing an isolation), `start_execution` (Step
/// Functions) and `notify` (each channel of `config.notify` to its SNS
/// topic, or to the log for `log`).
///
/// Making clients needs no credentials (they are resolved at the first call), so building the
/// router never fails for lack of an AWS account. IAM and SSM act in each finding's account:
/// `config.accounts` (or [`AwsSettings::with_accounts`]) says which accounts and with which role;
/// without a role, only in remedy's own account. SNS topics are in remedy's account, in their
/// ARN's region.
pub async fn router(config: &Config, settings: &AwsSettings) -> Router {
    let clients = if settings.accounts == AccountsConfig::default() {
        settings
            .clone()
            .with_accounts(config.accounts.clone())
            .load()
            .await
    } else {
        settings.load().await
    };
    let iam = DisableAccessKeyExecutor::from_clients(&clients);
    let containment: Arc<dyn Executor> = Arc::new(
        ContainmentExecutor::from_clients(&clients)
            .with_quarantine_policy(config.containment.quarantine_policy.clone()),
    );
    let ssm = RunCommandExecutor::from_clients(&clients);
    let runbooks: Arc<dyn Executor> = Arc::new(RunbookExecutor::from_clients(
        &clients,
        config.runbooks.clone(),
    ));
    let writeback: Arc<dyn Executor> = Arc::new(WritebackExecutor::from_clients(
        &clients,
        config.writeback.clone(),
    ));
    let threads: Arc<dyn ThreadStore> = Arc::new(MemoryThreads::new());
    let mut channels = ChannelRouter::new();
    for (channel, target) in &config.notify.channels {
        if let Some(notifier) = notifier(&clients, target, &threads) {
            channels = channels.with_channel(channel.clone(), notifier);
        }
    }
    if let Some(notifier) = config
        .notify
        .default
        .as_ref()
        .and_then(|target| notifier(&clients, target, &threads))
    {
        channels = channels.with_fallback(notifier);
    }
    let iam: Arc<dyn Executor> = Arc::new(iam);
    let ssm: Arc<dyn Executor> = Arc::new(ssm);
    let channels: Arc<dyn Executor> = Arc::new(channels);
    BUILTIN_KINDS.iter().fold(Router::new(), |router, spec| {
        let executor = match spec.carrier {
            Carrier::Channels => &channels,
            Carrier::AccessKeys => &iam,
            Carrier::Containment => &containment,
            Carrier::RunCommand => &ssm,
            Carrier::Runbooks => &runbooks,
            Carrier::Writeback => &writeback,
        };
        router.with(spec.kind.clone(), Arc::clone(executor))
    })
}

/// The notifier of a target AWS delivers (SNS as text or for Chatbot, SES email) or of the log;
/// `None` for the chat kinds (Slack, Teams), which the assembly makes with their secrets.
pub(crate) fn notifier(
    clients: &AwsClients,
    target: &NotifyTarget,
    threads: &Arc<dyn ThreadStore>,
) -> Option<Arc<dyn Executor>> {
    Some(match target {
        NotifyTarget::Log => Arc::new(TracingNotifier::new()),
        NotifyTarget::Sns(arn) => Arc::new(SnsNotifier::from_clients(clients, arn)),
        NotifyTarget::Chatbot(arn) => {
            Arc::new(SnsNotifier::from_clients(clients, arn).with_chatbot_format())
        }
        NotifyTarget::Email(email) => Arc::new(
            EmailNotifier::from_clients(clients, &email.from, &email.to, email.region.as_deref())
                .with_threads(Arc::clone(threads)),
        ),
        _ => return None,
    })
}

/// The ledger and the state store of `config`'s `[state]` table (rate windows, breaker, shared
/// kill switch), sharing one client made from `settings`; `None` when `[state]` names no table.
///
/// Give both to the remediator (`with_ledger`, `with_state`) and every worker using the table
/// shares one ledger, one rate budget, one breaker and one kill switch.
pub async fn state_backends(
    config: &Config,
    settings: &AwsSettings,
) -> Option<(Arc<dyn Ledger>, Arc<dyn StateStore>, Arc<dyn ApprovalStore>)> {
    let table = StateTable::from_config(config, settings).await?;
    Some((
        Arc::new(table.ledger()),
        Arc::new(table.state()),
        Arc::new(table.approvals()),
    ))
}

#[cfg(test)]
mod tests;
