//! `[audit]`: where the audit trail is written.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[audit]`: the JSON Lines file of the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The audit JSON Lines file, relative to the configuration file (absent: the log, and for
    /// `remedy run --execute` the file `remedy-audit.jsonl` in the current directory).
    #[serde(default)]
    pub path: Option<PathBuf>,
}
