//! The configuration file (TOML).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::accounts::AccountsConfig;
use serde::{Deserialize, Serialize};

use super::limit::RateLimit;
use crate::plan::ActionKind;

mod approval;
mod containment;
mod enrich;
mod host_kinds;
mod policy;
mod state;

pub use approval::{ApprovalConfig, OnTimeout};
pub use containment::ContainmentConfig;
pub use enrich::EnrichConfig;
pub use host_kinds::HostKindConfig;
pub use policy::PolicyConfig;
pub use state::StateConfig;

/// A configuration that could not be loaded or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the expected fields.
    #[error("`{path}` is not a valid configuration: {message}")]
    Parse {
        /// The file (`<string>` when parsed from a string).
        path: String,
        /// What the parser said, with line and column.
        message: String,
    },
    /// A value is out of range or unusable.
    #[error("invalid `{field}`: {message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The ledger or the audit file could not be opened.
    #[error("cannot open the {what}: {message}")]
    Open {
        /// `ledger` or `audit trail`.
        what: &'static str,
        /// The underlying error.
        message: String,
    },
}

/// remedy's configuration: one TOML file. Every section is optional; see the README's Configuration section and
/// `examples/remedy.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How many findings are handled at once (default 8, at most 1024).
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// After SIGTERM or SIGINT, how long actions in flight may take to finish (default 20).
    #[serde(default)]
    pub shutdown_grace_secs: Option<u64>,
    /// Notify channels.
    #[serde(default)]
    pub notify: NotifyConfig,
    /// Principals and resources no policy may touch.
    #[serde(default)]
    pub protect: ProtectConfig,
    /// Rate limits per action kind, e.g. `disable_access_key = { max = 10, per_secs = 3600 }`,
    /// and `per_account = 3` for at most 3 of them in any one account.
    #[serde(default)]
    pub rate_limits: BTreeMap<String, RateLimit>,
    /// The circuit breaker tripped by rate limits.
    #[serde(default)]
    pub breaker: BreakerConfig,
    /// The idempotency ledger.
    #[serde(default)]
    pub ledger: LedgerConfig,
    /// The audit trail.
    #[serde(default)]
    pub audit: PathConfig,
    /// Enforcement, shadow mode and the kill switch.
    #[serde(default)]
    pub enforcement: EnforcementConfig,
    /// AWS client settings.
    #[serde(default)]
    pub aws: AwsConfig,
    /// Policies allowed to act beyond what their finding names.
    #[serde(default)]
    pub reach: ReachConfig,
    /// What `run_command` may run.
    #[serde(default)]
    pub run_command: RunCommandConfig,
    /// Action kinds the host (here: the CLI) registers, by name.
    #[serde(default)]
    pub host_kinds: BTreeMap<String, HostKindConfig>,
    /// The accounts remedy may act in, and the role it assumes in each.
    #[serde(default)]
    pub accounts: AccountsConfig,
    /// How the containment actions contain.
    #[serde(default)]
    pub containment: ContainmentConfig,
    /// Shared state (ledger, rate windows, breaker, kill switch) in a DynamoDB table.
    #[serde(default)]
    pub state: StateConfig,
    /// Enrichment before the policies decide (off unless set).
    #[serde(default)]
    pub enrich: EnrichConfig,
    /// The actions a person approves before they run.
    #[serde(default)]
    pub approval: ApprovalConfig,
    /// The sandbox limits of every policy.
    #[serde(default)]
    pub policy: PolicyConfig,
}

/// `[reach]`: the policies that may act beyond what their finding names. A policy must also
/// declare `const REACH = "account"`; either alone changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReachConfig {
    /// Policy names.
    #[serde(default)]
    pub account: Vec<String>,
}

/// `[run_command]`: the SSM documents policies may run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunCommandConfig {
    /// The allowed documents (absent: `AWS-RunShellScript` and `AWS-RunPowerShellScript`).
    #[serde(default)]
    pub documents: Option<Vec<String>>,
}

/// Principals and resources no policy may touch, as written in the configuration.
///
/// Every entry is a glob (`*` any run of characters, `?` one character) matched against the whole
/// name. The target of a host action kind (the parameter it names with
/// [`HostActionKind::with_target_param`](crate::HostActionKind::with_target_param)) is checked
/// against every list: an instance id (with the finding's instance tags), a user, a role or an
/// access key that is protected is never the target of a destructive custom action either.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectConfig {
    /// IAM user names, e.g. `break-glass-*`.
    #[serde(default)]
    pub users: Vec<String>,
    /// IAM role names; a finding whose principal is an assumed role of this name is not acted on.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Access key ids.
    #[serde(default)]
    pub access_keys: Vec<String>,
    /// EC2 instance ids.
    #[serde(default)]
    pub instances: Vec<String>,
    /// Instance tags: an instance carrying a matching tag is protected.
    #[serde(default)]
    pub instance_tags: Vec<TagRule>,
    /// Account ids (globs): no destructive action for a finding of such an account.
    #[serde(default)]
    pub accounts: Vec<String>,
}

/// A protected instance tag: the key, and optionally a value glob (absent: any value).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TagRule {
    /// The tag key, e.g. `remedy:protect`.
    pub key: String,
    /// A glob over the value, e.g. `prod*`.
    #[serde(default)]
    pub value: Option<String>,
}

/// `[notify]`: where each channel goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Channel name to an SNS topic ARN, or `log` for the tracing notifier.
    #[serde(default)]
    pub channels: BTreeMap<String, String>,
    /// Where channels not listed go (an ARN or `log`); absent: such notifications fail.
    #[serde(default)]
    pub default: Option<String>,
}

/// `[breaker]`: the circuit breaker.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// How long destructive actions stay stopped after a rate limit is exceeded (default 3600).
    #[serde(default = "default_cooldown")]
    pub cooldown_secs: u64,
    /// The channel told when the breaker trips (default `security`).
    #[serde(default = "default_breaker_channel")]
    pub notify: String,
}

fn default_cooldown() -> u64 {
    3600
}

fn default_breaker_channel() -> String {
    "security".into()
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            cooldown_secs: default_cooldown(),
            notify: default_breaker_channel(),
        }
    }
}

/// `[audit]`: the JSON Lines file of the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PathConfig {
    /// The audit JSON Lines file, relative to the configuration file (absent: the log, and for
    /// `remedy run --execute` the file `remedy-audit.jsonl` in the current directory).
    #[serde(default)]
    pub path: Option<PathBuf>,
}

/// `[ledger]`: where claims and finished actions are kept, and how long a claim holds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
    /// The ledger directory, relative to the configuration file (absent: in memory).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// How long a claim holds before another run may take it over (default 900).
    #[serde(default = "default_lease")]
    pub lease_secs: u64,
}

fn default_lease() -> u64 {
    900
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self {
            path: None,
            lease_secs: default_lease(),
        }
    }
}

/// `[enforcement]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnforcementConfig {
    /// Execute actions (default false: dry run). The CLI ignores this and uses `--execute`.
    #[serde(default)]
    pub enforce: bool,
    /// Policies kept in shadow mode: guarded and audited, never executed.
    #[serde(default)]
    pub shadow: Vec<String>,
    /// When set, only these policies are enforced; every other policy is in shadow mode.
    #[serde(default)]
    pub only: Option<Vec<String>>,
    /// While this file exists, no destructive action runs.
    #[serde(default)]
    pub kill_switch_file: Option<PathBuf>,
}

/// `[aws]`: client settings (region, profile and credentials come from the environment).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// The region; absent: from the environment or profile.
    #[serde(default)]
    pub region: Option<String>,
    /// The whole-operation timeout, retries included (default 30).
    #[serde(default = "default_operation_timeout")]
    pub operation_timeout_secs: u64,
    /// The timeout of one attempt (default 10).
    #[serde(default = "default_attempt_timeout")]
    pub attempt_timeout_secs: u64,
    /// Attempts for idempotent calls (default 3); `SendCommand` and `Publish` are tried once.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// After `SendCommand`, wait this long for the invocations to finish (default 0: do not wait).
    #[serde(default)]
    pub wait_for_command_secs: u64,
}

fn default_operation_timeout() -> u64 {
    30
}

fn default_attempt_timeout() -> u64 {
    10
}

fn default_max_attempts() -> u32 {
    3
}

impl Default for AwsConfig {
    fn default() -> Self {
        Self {
            region: None,
            operation_timeout_secs: default_operation_timeout(),
            attempt_timeout_secs: default_attempt_timeout(),
            max_attempts: default_max_attempts(),
            wait_for_command_secs: 0,
        }
    }
}

impl Config {
    /// Parses a configuration; relative paths stay relative to the current directory.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::parse(text, "<string>")
    }

    /// Reads a configuration file; relative paths in it are resolved against its directory.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Self::parse(&text, &path.display().to_string())?;
        let base = path.parent().unwrap_or(Path::new(""));
        for p in [
            &mut config.ledger.path,
            &mut config.audit.path,
            &mut config.enforcement.kill_switch_file,
            &mut config.approval.path,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        if config.approval.path.is_none() {
            config.approval.path = Some(base.join("approvals"));
        }
        Ok(config)
    }

    fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: String, message: &str| ConfigError::Invalid {
            field,
            message: message.to_owned(),
        };
        // Every number has a range, so no duration or count overflows later.
        let range = |field: &str, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(ConfigError::Invalid {
                    field: field.to_owned(),
                    message: format!("`{value}` is out of range: must be from {min} to {max}"),
                })
            }
        };
        const DAY: u64 = 86_400;
        self.accounts.validate()?;
        if let Some(n) = self.concurrency {
            range("concurrency", u64::try_from(n).unwrap_or(u64::MAX), 1, 1024)?;
        }
        if let Some(grace) = self.shutdown_grace_secs {
            range("shutdown_grace_secs", grace, 0, 3600)?;
        }
        for (kind, limit) in &self.rate_limits {
            ActionKind::new(kind.as_str())
                .map_err(|e| invalid(format!("rate_limits.{kind}"), &e.to_string()))?;
            range(
                &format!("rate_limits.{kind}.max"),
                u64::from(limit.max),
                0,
                1_000_000,
            )?;
            range(
                &format!("rate_limits.{kind}.per_secs"),
                limit.per_secs,
                1,
                366 * DAY,
            )?;
            if let Some(per_account) = limit.per_account {
                range(
                    &format!("rate_limits.{kind}.per_account"),
                    u64::from(per_account),
                    0,
                    u64::from(limit.max),
                )?;
            }
        }
        range(
            "breaker.cooldown_secs",
            self.breaker.cooldown_secs,
            1,
            30 * DAY,
        )?;
        range("ledger.lease_secs", self.ledger.lease_secs, 1, DAY)?;
        let aws = &self.aws;
        range(
            "aws.operation_timeout_secs",
            aws.operation_timeout_secs,
            1,
            3600,
        )?;
        range(
            "aws.attempt_timeout_secs",
            aws.attempt_timeout_secs,
            1,
            aws.operation_timeout_secs.max(1),
        )?;
        range("aws.max_attempts", u64::from(aws.max_attempts), 1, 10)?;
        range(
            "aws.wait_for_command_secs",
            aws.wait_for_command_secs,
            0,
            3600,
        )?;
        for (name, kind) in &self.host_kinds {
            kind.check(name)?;
        }
        range("state.retain_days", self.state.retain_days, 1, 3650)?;
        if let Some(table) = &self.state.dynamodb_table {
            let valid = (3..=255).contains(&table.len())
                && table
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid {
                return Err(invalid(
                    "state.dynamodb_table".into(),
                    "a DynamoDB table name is 3 to 255 letters, digits, `_`, `-` and `.`",
                ));
            }
            if self.ledger.path.is_some() {
                return Err(invalid(
                    "ledger.path".into(),
                    "the ledger is in the `[state]` DynamoDB table: remove `[ledger] path`",
                ));
            }
        }
        let enrich = &self.enrich;
        range(
            "enrich.cloudtrail_hours",
            u64::from(enrich.cloudtrail_hours),
            0,
            90 * 24,
        )?;
        range("enrich.max_events", u64::from(enrich.max_events), 1, 10_000)?;
        range("enrich.timeout_secs", enrich.timeout_secs, 1, 300)?;
        let targets = self
            .notify
            .channels
            .iter()
            .map(|(c, t)| (format!("notify.channels.{c}"), t))
            .chain(
                self.notify
                    .default
                    .iter()
                    .map(|t| ("notify.default".to_owned(), t)),
            );
        if let Err((field, message)) = self.approval.check() {
            return Err(invalid(field, &message));
        }
        if let Err((field, message)) = self.policy.check() {
            return Err(invalid(field, &message));
        }
        if let Err(message) = self.containment.check() {
            return Err(invalid("containment.quarantine_policy".to_owned(), message));
        }
        for (field, target) in targets {
            if target != "log" && !target.starts_with("arn:") {
                return Err(invalid(
                    field,
                    "expected an SNS topic ARN (`arn:aws:sns:…`) or `log`",
                ));
            }
        }
        Ok(())
    }

    /// The names this configuration gives policies and action kinds that `policies` does not
    /// have: a typo in `shadow`, `only`, `[reach]` or `[rate_limits]` would otherwise leave a
    /// policy enforced or a kind unlimited. `kinds` are the action kinds policies can choose.
    pub fn check_names<'a>(
        &self,
        policies: &[&'a str],
        reach_declared: &[&'a str],
        kinds: &[ActionKind],
    ) -> Result<(), ConfigError> {
        let unknown = |field: &str, name: &str, known: &[&str]| ConfigError::Invalid {
            field: field.to_owned(),
            message: format!(
                "no policy is named `{name}` (policies: {})",
                known.join(", ")
            ),
        };
        for name in &self.enforcement.shadow {
            if !policies.contains(&name.as_str()) {
                return Err(unknown("enforcement.shadow", name, policies));
            }
        }
        for name in self.enforcement.only.iter().flatten() {
            if !policies.contains(&name.as_str()) {
                return Err(unknown("enforcement.only", name, policies));
            }
        }
        for name in &self.reach.account {
            if !policies.contains(&name.as_str()) {
                return Err(unknown("reach.account", name, policies));
            }
            if !reach_declared.contains(&name.as_str()) {
                return Err(ConfigError::Invalid {
                    field: "reach.account".to_owned(),
                    message: format!(
                        "policy `{name}` does not declare `const REACH = \"account\"`; both are \
                         needed"
                    ),
                });
            }
        }
        for name in &self.approval.policies {
            if !policies.contains(&name.as_str()) {
                return Err(unknown("approval.policies", name, policies));
            }
        }
        let approved = self.approval.kinds.iter().map(|k| ("approval.kinds", k));
        let limited = self.rate_limits.keys().map(|k| ("rate_limits", k));
        for (section, kind) in limited.chain(approved) {
            if !kinds.iter().any(|k| k.as_str() == kind) {
                let known: Vec<&str> = kinds.iter().map(ActionKind::as_str).collect();
                return Err(ConfigError::Invalid {
                    field: format!("{section}.{kind}"),
                    message: format!("no action kind `{kind}` (kinds: {})", known.join(", ")),
                });
            }
        }
        Ok(())
    }

    /// How long actions in flight may take to finish after a stop signal.
    pub fn shutdown_grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.shutdown_grace_secs.unwrap_or(20))
    }

    /// The rate limits by action kind (validated when the configuration was loaded).
    pub(crate) fn rate_limits_by_kind(&self) -> BTreeMap<ActionKind, RateLimit> {
        self.rate_limits
            .iter()
            .filter_map(|(k, v)| Some((ActionKind::new(k.as_str()).ok()?, *v)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
