//! `[state]`: the table several workers share.

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid, range};

/// `[state]`: where the state several workers share is kept.
///
/// With a `dynamodb_table`, the ledger, the rate windows, the circuit breaker and the shared
/// kill switch live in that one table (built by `remedy::aws::state_backends`; the local
/// `kill_switch_file` keeps working too); without one, the ledger is `[ledger]`'s and the rest
/// lives in the process.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// The DynamoDB table, in the account and region remedy runs in (`remedy state init`
    /// creates it).
    #[serde(default)]
    pub dynamodb_table: Option<String>,
    /// How long finished ledger entries are kept, in days (default 90, 1 to 3650), by the
    /// table's time-to-live attribute.
    #[serde(default = "default_retain_days")]
    pub retain_days: u64,
}

fn default_retain_days() -> u64 {
    90
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            dynamodb_table: None,
            retain_days: default_retain_days(),
        }
    }
}

impl StateConfig {
    /// Why the section cannot be used, if it cannot: a table name DynamoDB would refuse, a
    /// retention out of range.
    pub fn check(&self) -> Result<(), ConfigError> {
        range("state.retain_days", self.retain_days, 1, 3650)?;
        if let Some(table) = &self.dynamodb_table {
            let valid = (3..=255).contains(&table.len())
                && table
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid {
                return Err(invalid(
                    "state.dynamodb_table",
                    "a DynamoDB table name is 3 to 255 letters, digits, `_`, `-` and `.`",
                ));
            }
        }
        Ok(())
    }
}
