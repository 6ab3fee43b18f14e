//! `[policy]`: how long, and how far, a policy may run on one finding.

use serde::{Deserialize, Serialize};

use super::{ConfigError, range};

/// `[policy]`: the sandbox limits of every policy, for one finding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Wall-clock time one policy may take to decide on one finding, in milliseconds (default 100;
    /// 10 to 10000). A policy past it fails on that finding (`deadline`); the others still decide.
    #[serde(default)]
    pub deadline_ms: Option<u64>,
}

impl PolicyConfig {
    /// Why the section cannot be used, if it cannot.
    pub fn check(&self) -> Result<(), ConfigError> {
        match self.deadline_ms {
            Some(ms) => range("policy.deadline_ms", ms, 10, 10_000),
            None => Ok(()),
        }
    }
}
