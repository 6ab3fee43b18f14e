//! `[protect]`: principals and resources no policy may touch.

use serde::{Deserialize, Serialize};

/// Principals and resources no policy may touch, as written in the configuration.
///
/// Every entry is a glob (`*` any run of characters, `?` one character) matched against the whole
/// name. The target of a host action kind (the parameter it names with
/// [`HostActionKind::with_target_param`](crate::policy::HostActionKind::with_target_param)) is
/// checked against every list: an instance id (with the finding's instance tags), a user, a role
/// or an access key that is protected is never the target of a destructive custom action either.
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
    /// Account ids (globs): no destructive action for a finding of such an account.
    #[serde(default)]
    pub accounts: Vec<String>,
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
