//! `[ledger]`: where claims and finished actions are kept.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, range};

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

impl LedgerConfig {
    /// Why the section cannot be used, if it cannot: a lease out of range.
    pub fn check(&self) -> Result<(), ConfigError> {
        range("ledger.lease_secs", self.lease_secs, 1, 86_400)
    }
}
