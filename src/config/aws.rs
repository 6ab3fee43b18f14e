//! `[aws]`: AWS client settings.

use serde::{Deserialize, Serialize};

use super::{ConfigError, range};

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
    /// After starting an Automation runbook or a state machine, wait this long for it to end
    /// (default 0: report it started, with its id); longer runs are reported as started.
    #[serde(default)]
    pub wait_for_runbook_secs: u64,
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
            wait_for_runbook_secs: 0,
        }
    }
}

impl AwsConfig {
    /// Why the section cannot be used, if it cannot: a timeout or a count out of range.
    pub fn check(&self) -> Result<(), ConfigError> {
        range(
            "aws.operation_timeout_secs",
            self.operation_timeout_secs,
            1,
            3600,
        )?;
        range(
            "aws.attempt_timeout_secs",
            self.attempt_timeout_secs,
            1,
            self.operation_timeout_secs.max(1),
        )?;
        range("aws.max_attempts", u64::from(self.max_attempts), 1, 10)?;
        range(
            "aws.wait_for_command_secs",
            self.wait_for_command_secs,
            0,
            3600,
        )?;
        range(
            "aws.wait_for_runbook_secs",
            self.wait_for_runbook_secs,
            0,
            3600,
        )
    }
}
