//! The configuration: one TOML file, one module per section, each section checking itself.
//!
//! [`Config`] is plain data, read with [`Config::from_path`] or [`Config::from_toml_str`] and
//! checked as it is read (every number in range, every target parsed into a typed value such as
//! [`NotifyTarget`]). The engine is assembled from it in one place,
//! [`Pipeline::from_config`](crate::Pipeline::from_config); the policy layer reads only
//! [`Config`]'s policy-facing sections (`[host_kinds]`, `[reach]`, `[run_command]`, `[policy]`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::plan::ActionKind;

mod accounts;
mod approval;
mod audit;
mod aws;
mod breaker;
mod containment;
mod enforcement;
mod enrich;
mod host_kinds;
mod ledger;
mod notify;
mod policy;
mod protect;
mod rate_limits;
mod reach;
mod run_command;
mod runbooks;
mod secret;
mod state;
mod writeback;

pub use accounts::{ACCOUNT_PLACEHOLDER, AccountsConfig};
pub use approval::{ApprovalConfig, OnTimeout};
pub use audit::AuditConfig;
pub use aws::AwsConfig;
pub use breaker::BreakerConfig;
pub use containment::ContainmentConfig;
pub use enforcement::EnforcementConfig;
pub use enrich::EnrichConfig;
pub use host_kinds::HostKindConfig;
pub use ledger::LedgerConfig;
pub use notify::{EmailTarget, NotifyConfig, NotifyTarget, SLACK_API, SlackTarget, TeamsTarget};
pub use policy::PolicyConfig;
pub use protect::{ProtectConfig, TagRule};
pub use rate_limits::RateLimit;
pub use reach::ReachConfig;
pub use run_command::RunCommandConfig;
pub use runbooks::RunbooksConfig;
pub use secret::{Secret, SecretSource};
pub use state::StateConfig;
pub use writeback::WritebackConfig;

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
    /// Notify channels and where each goes.
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
    pub audit: AuditConfig,
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
    /// What `start_automation` and `start_execution` may start; how `isolate_instance` runs.
    #[serde(default)]
    pub runbooks: RunbooksConfig,
    /// Where write-back actions find GuardDuty's detectors.
    #[serde(default)]
    pub writeback: WritebackConfig,
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
        // A host kind's program named by a path (`./isolate.sh`, `bin/isolate`) is found next to
        // the configuration, whatever the working directory; a bare name is looked up on `PATH`.
        for kind in config.host_kinds.values_mut() {
            if let Some(program) = kind.command.as_mut().and_then(|c| c.first_mut())
                && program.contains('/')
                && Path::new(program.as_str()).is_relative()
            {
                *program = base.join(&*program).display().to_string();
            }
        }
        Ok(config)
    }

    fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        config.check()?;
        Ok(config)
    }

    /// Checks every section, then what spans sections (a `[state]` table and a `[ledger]` path
    /// cannot both hold the ledger).
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Some(n) = self.concurrency {
            range("concurrency", u64::try_from(n).unwrap_or(u64::MAX), 1, 1024)?;
        }
        if let Some(grace) = self.shutdown_grace_secs {
            range("shutdown_grace_secs", grace, 0, 3600)?;
        }
        self.accounts.check()?;
        rate_limits::check(&self.rate_limits)?;
        self.breaker.check()?;
        self.ledger.check()?;
        self.aws.check()?;
        for (name, kind) in &self.host_kinds {
            kind.check(name)?;
        }
        self.state.check()?;
        self.enrich.check()?;
        self.approval.check()?;
        self.policy.check()?;
        self.containment.check()?;
        self.run_command.check()?;
        self.runbooks.check()?;
        self.writeback.check()?;
        self.audit.check()?;
        if self.state.dynamodb_table.is_some() && self.ledger.path.is_some() {
            return Err(invalid(
                "ledger.path",
                "the ledger is in the `[state]` DynamoDB table: remove `[ledger] path`",
            ));
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

    /// The directory of the approval file store, when the configuration knows one: `[approval]
    /// path` (a configuration read from a file always has one: `approvals` next to it, so requests
    /// made under an `[approval]` changed since can still be listed and decided), or `approvals`
    /// whenever `[approval]` makes actions wait.
    pub fn approval_dir(&self) -> Option<std::path::PathBuf> {
        match &self.approval.path {
            Some(path) => Some(path.clone()),
            None if self.approval.is_enabled() => Some("approvals".into()),
            None => None,
        }
    }

    /// Whether approval requests are kept where a person can decide them (the file store of
    /// [`Config::approval_dir`], or the `[state]` table): a suppression waits only then, and is
    /// refused otherwise.
    pub fn keeps_approvals(&self) -> bool {
        self.approval_dir().is_some() || self.state.dynamodb_table.is_some()
    }

    /// The rate limits by action kind (validated when the configuration was loaded).
    pub(crate) fn rate_limits_by_kind(&self) -> BTreeMap<ActionKind, RateLimit> {
        self.rate_limits
            .iter()
            .filter_map(|(k, v)| Some((ActionKind::new(k.as_str()).ok()?, *v)))
            .collect()
    }
}

/// A [`ConfigError::Invalid`] for `field`.
pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// `Ok` when `value` is from `min` to `max`: every number has a range, so no duration or count
/// overflows later.
pub(crate) fn range(field: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("`{value}` is out of range: must be from {min} to {max}"),
        ))
    }
}

#[cfg(test)]
mod tests;
