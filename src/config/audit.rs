//! `[audit]`: where the audit trail is written.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};

/// `[audit]`: the JSON Lines file of the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The audit JSON Lines file, relative to the configuration file (absent: the log, and for
    /// `remedy run --execute` the file `remedy-audit.jsonl` in the current directory).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// The environment variable holding the key of the trail's HMAC (at least 16 bytes): every
    /// line is then sealed, and `remedy audit verify` and `remedy undo` check the seals. Without
    /// it, lines are hash-chained only.
    #[serde(default)]
    pub key_env: Option<String>,
}

impl AuditConfig {
    /// Why the section cannot be used, if it cannot: a key variable that is no variable name.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Some(name) = &self.key_env {
            let ok = !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !ok {
                return Err(invalid(
                    "audit.key_env",
                    format!("`{name}` is not an environment variable name"),
                ));
            }
        }
        Ok(())
    }
}
