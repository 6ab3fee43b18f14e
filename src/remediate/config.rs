//! The configuration file (TOML).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::limit::RateLimit;
use crate::plan::ActionKind;

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

/// remedy's configuration: one TOML file. Every section is optional; see `CONFIG.md` and
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
    /// Rate limits per action kind, e.g. `disable_access_key = { max = 10, per_secs = 3600 }`.
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
    /// Enrichment before the policies decide (off unless set).
    #[serde(default)]
    pub enrich: EnrichConfig,
}

/// `[enrich]`: what is found out about a finding's principal before the policies decide. Each
/// enricher is off until it is set here, so a configuration without `[enrich]` makes no call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichConfig {
    /// IAM: the principal's policies, groups, administrator rights, tags and key (default false).
    #[serde(default)]
    pub iam: bool,
    /// CloudTrail: what the finding's access key did over this many hours (default 0: off; at
    /// most 2160, CloudTrail's 90 days of event history).
    #[serde(default)]
    pub cloudtrail_hours: u32,
    /// At most this many CloudTrail events are read per key (default 200; 1 to 10 000).
    #[serde(default = "default_max_events")]
    pub max_events: u32,
    /// How long each enricher may take on one finding (default 5; 1 to 300).
    #[serde(default = "default_enrich_timeout")]
    pub timeout_secs: u64,
}

fn default_max_events() -> u32 {
    200
}

fn default_enrich_timeout() -> u64 {
    5
}

impl Default for EnrichConfig {
    fn default() -> Self {
        Self {
            iam: false,
            cloudtrail_hours: 0,
            max_events: default_max_events(),
            timeout_secs: default_enrich_timeout(),
        }
    }
}

impl EnrichConfig {
    /// Whether any enricher is on.
    pub fn is_enabled(&self) -> bool {
        self.iam || self.cloudtrail_hours > 0
    }

    /// How long each enricher may take on one finding.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_secs)
    }
}

/// Principals and resources no policy may touch, as written in the configuration.
///
/// Every entry is a glob (`*` any run of characters, `?` one character) matched against the whole
/// name.
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
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
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
mod tests {
    use super::*;

    #[test]
    fn the_example_parses() {
        let text = include_str!("../../examples/remedy.toml");
        let c = Config::from_toml_str(text).unwrap();
        assert!(c.notify.channels.contains_key("security"));
        assert!(!c.protect.users.is_empty());
        assert!(c.rate_limits.contains_key("disable_access_key"));
        assert!(c.enrich.iam && c.enrich.cloudtrail_hours == 24);
    }

    #[test]
    fn errors_name_the_field() {
        let e = Config::from_toml_str("concurrency = 0").unwrap_err();
        assert!(e.to_string().contains("`concurrency`"), "{e}");
        let e = Config::from_toml_str("[notify.channels]\nsecurity = \"mail\"").unwrap_err();
        assert!(e.to_string().contains("notify.channels.security"), "{e}");
        let e = Config::from_toml_str("[enrich]\ncloudtrail_hours = 2161").unwrap_err();
        assert!(e.to_string().contains("`enrich.cloudtrail_hours`"), "{e}");
        let e = Config::from_toml_str("[enrich]\ntimeout_secs = 0").unwrap_err();
        assert!(e.to_string().contains("`enrich.timeout_secs`"), "{e}");
        let e = Config::from_toml_str("[enrich]\nmax_events = 0").unwrap_err();
        assert!(e.to_string().contains("`enrich.max_events`"), "{e}");
        let e = Config::from_toml_str("[enrich]\ncloudtrail = 24").unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let c = Config::from_toml_str("[enrich]\niam = true\ncloudtrail_hours = 24").unwrap();
        assert!(c.enrich.is_enabled() && c.enrich.max_events == 200 && c.enrich.timeout_secs == 5);
        assert!(!Config::default().enrich.is_enabled());
        let e = Config::from_toml_str("[protect]\nuser = []").unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let e =
            Config::from_toml_str("[rate_limits]\nNotify = { max = 1, per_secs = 1 }").unwrap_err();
        assert!(e.to_string().contains("rate_limits.Notify"), "{e}");
    }

    #[test]
    fn relative_paths_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("remedy.toml");
        std::fs::write(&path, "[ledger]\npath = \"state/ledger\"\n").unwrap();
        let c = Config::from_path(&path).unwrap();
        assert_eq!(c.ledger.path.unwrap(), dir.path().join("state/ledger"));
        assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
    }
}
