//! `[containment]`: how the containment actions contain.

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};
use crate::plan::DEFAULT_QUARANTINE_POLICY;

/// `[containment]`: how the containment actions contain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContainmentConfig {
    /// The managed policy `quarantine_principal` attaches: the name of an AWS managed policy
    /// (default `AWSCompromisedKeyQuarantineV3`, in the finding's partition) or a policy ARN.
    /// Where it is not available, an inline deny-all policy is put instead.
    #[serde(default = "default_quarantine_policy")]
    pub quarantine_policy: String,
}

fn default_quarantine_policy() -> String {
    DEFAULT_QUARANTINE_POLICY.to_owned()
}

impl Default for ContainmentConfig {
    fn default() -> Self {
        Self {
            quarantine_policy: default_quarantine_policy(),
        }
    }
}

impl ContainmentConfig {
    /// What is wrong with `quarantine_policy`, if anything: it must be an IAM policy name or a
    /// policy ARN.
    pub fn check(&self) -> Result<(), ConfigError> {
        let policy = &self.quarantine_policy;
        let name_ok = |name: &str| {
            (1..=128).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
        };
        let arn_ok = policy
            .strip_prefix("arn:")
            .and_then(|rest| rest.split_once(":policy/"))
            .is_some_and(|(_, name)| name.rsplit('/').next().is_some_and(name_ok));
        if name_ok(policy) || arn_ok {
            Ok(())
        } else {
            Err(invalid(
                "containment.quarantine_policy",
                "expected the name of an AWS managed policy (e.g. `AWSCompromisedKeyQuarantineV3`) \
                 or a policy ARN (`arn:aws:iam::…:policy/…`)",
            ))
        }
    }
}
