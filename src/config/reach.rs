//! `[reach]`: the policies allowed to act beyond what their finding names.

use serde::{Deserialize, Serialize};

/// `[reach]`: the policies that may act beyond what their finding names. A policy must also
/// declare `const REACH = "account"`; either alone changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReachConfig {
    /// Policy names.
    #[serde(default)]
    pub account: Vec<String>,
}
