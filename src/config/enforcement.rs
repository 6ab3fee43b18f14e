//! `[enforcement]`: dry run or enforce, shadow mode and the kill switch file.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
