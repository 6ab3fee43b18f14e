//! `[run_command]`: the SSM documents policies may run.

use serde::{Deserialize, Serialize};

/// `[run_command]`: the SSM documents policies may run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunCommandConfig {
    /// The allowed documents (absent: `AWS-RunShellScript` and `AWS-RunPowerShellScript`).
    #[serde(default)]
    pub documents: Option<Vec<String>>,
}
