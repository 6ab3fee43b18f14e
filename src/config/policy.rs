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

#[cfg(test)]
mod tests {
    use super::super::Config;

    #[test]
    fn the_deadline_is_bounded_and_reaches_the_policy_builder() {
        let config = Config::from_toml_str("[policy]\ndeadline_ms = 250\n").unwrap();
        let builder = crate::policy::PolicySet::builder()
            .with_config(&config)
            .unwrap();
        assert_eq!(
            builder.limits().deadline,
            std::time::Duration::from_millis(250)
        );
        let default = crate::policy::PolicySet::builder()
            .with_config(&Config::default())
            .unwrap();
        assert_eq!(
            default.limits().deadline,
            std::time::Duration::from_millis(100)
        );
        for bad in ["deadline_ms = 0", "deadline_ms = 60000", "deadline = 5"] {
            let text = format!("[policy]\n{bad}\n");
            assert!(Config::from_toml_str(&text).is_err(), "{bad}");
        }
    }
}
