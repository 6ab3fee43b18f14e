//! `[writeback]`: where remedy writes back to a finding's source (GuardDuty's detectors).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};

/// `[writeback]`: the GuardDuty detector of remedy's own account (the GuardDuty administrator)
/// in each region, for `archive_finding` and `suppress_similar`; a region not listed is asked
/// with `ListDetectors`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WritebackConfig {
    /// Region to detector id, e.g. `us-east-1 = "12abc34d567e8fa901bc2d34e56789f0"`.
    #[serde(default)]
    pub detectors: BTreeMap<String, String>,
    /// The regions whose expired suppression filters (`suppress_similar`) `remedy expire`
    /// deletes; empty: `remedy expire` leaves GuardDuty alone.
    #[serde(default)]
    pub suppression_regions: Vec<String>,
}

impl WritebackConfig {
    /// Why the section cannot be used, if it cannot: a detector id that is not 1 to 300
    /// lower-case letters and digits.
    pub fn check(&self) -> Result<(), ConfigError> {
        for region in &self.suppression_regions {
            let ok = (1..=32).contains(&region.len())
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(invalid(
                    "writeback.suppression_regions",
                    format!("`{region}` is not a region name"),
                ));
            }
        }
        for (region, id) in &self.detectors {
            let ok = (1..=300).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !ok {
                return Err(invalid(
                    format!("writeback.detectors.{region}"),
                    format!(
                        "`{id}` is not a GuardDuty detector id (lower-case letters and digits)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The detector named for `region`.
    pub fn detector(&self, region: &str) -> Option<&str> {
        self.detectors.get(region).map(String::as_str)
    }
}
