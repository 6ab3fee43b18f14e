//! `[enrich]`: what is found out about a finding's principal before the policies decide.

use serde::{Deserialize, Serialize};

use super::{ConfigError, range};

/// `[enrich]`: what is found out about a finding's principal before the policies decide. Each
/// enricher is off until it is set here, so a configuration without `[enrich]` makes no call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichConfig {
    /// IAM: the principal's policies, groups, administrator rights, tags and key (default false).
    #[serde(default)]
    pub iam: bool,
    /// CloudTrail: what the finding's access key did over this many hours (default 0: off; at
    /// most 2160, CloudTrail's 90 days of event history).
    #[serde(default)]
    pub cloudtrail_hours: u32,
    /// At most this many CloudTrail events are read per key (default 200; 1 to 10 000).
    #[serde(default = "default_max_events")]
    pub max_events: u32,
    /// How long each enricher may take on one finding (default 5; 1 to 300).
    #[serde(default = "default_enrich_timeout")]
    pub timeout_secs: u64,
}

fn default_max_events() -> u32 {
    200
}

fn default_enrich_timeout() -> u64 {
    5
}

impl Default for EnrichConfig {
    fn default() -> Self {
        Self {
            iam: false,
            cloudtrail_hours: 0,
            max_events: default_max_events(),
            timeout_secs: default_enrich_timeout(),
        }
    }
}

impl EnrichConfig {
    /// Why the section cannot be used, if it cannot: a count or a timeout out of range.
    pub fn check(&self) -> Result<(), ConfigError> {
        range(
            "enrich.cloudtrail_hours",
            u64::from(self.cloudtrail_hours),
            0,
            90 * 24,
        )?;
        range("enrich.max_events", u64::from(self.max_events), 1, 10_000)?;
        range("enrich.timeout_secs", self.timeout_secs, 1, 300)
    }

    /// Whether any enricher is on.
    pub fn is_enabled(&self) -> bool {
        self.iam || self.cloudtrail_hours > 0
    }

    /// How long each enricher may take on one finding.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    #[test]
    fn enrich_is_off_by_default_and_its_numbers_are_checked() {
        let e = Config::from_toml_str("[enrich]\ncloudtrail_hours = 2161").unwrap_err();
        assert!(e.to_string().contains("`enrich.cloudtrail_hours`"), "{e}");
        let e = Config::from_toml_str("[enrich]\ntimeout_secs = 0").unwrap_err();
        assert!(e.to_string().contains("`enrich.timeout_secs`"), "{e}");
        let e = Config::from_toml_str("[enrich]\nmax_events = 0").unwrap_err();
        assert!(e.to_string().contains("`enrich.max_events`"), "{e}");
        let e = Config::from_toml_str("[enrich]\ncloudtrail = 24").unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let c = Config::from_toml_str("[enrich]\niam = true\ncloudtrail_hours = 24").unwrap();
        assert!(c.enrich.is_enabled() && c.enrich.max_events == 200 && c.enrich.timeout_secs == 5);
        assert!(!Config::default().enrich.is_enabled());
    }
}
