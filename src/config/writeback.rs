//! `[writeback]`: which write-back kinds a deployment turns on, and where remedy writes back to
//! a finding's source (GuardDuty's detectors).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};
use crate::plan::{ActionKind, is_writeback};

/// `[writeback]`: the write-back kinds that are on (none by default: an account without Security
/// Hub, or a GuardDuty member account, would fail them on every delivery), and the GuardDuty
/// detector of remedy's own account (the GuardDuty administrator) in each region, for
/// `archive_finding` and `suppress_similar`; a region not listed is asked with `ListDetectors`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WritebackConfig {
    /// The write-back kinds remedy carries out: `update_finding`, `archive_finding`,
    /// `suppress_similar`. A policy's write-back action of another kind is skipped, and its
    /// record names the line to add here.
    #[serde(default)]
    pub kinds: Vec<ActionKind>,
    /// Region to detector id, e.g. `us-east-1 = "12abc34d567e8fa901bc2d34e56789f0"`.
    #[serde(default)]
    pub detectors: BTreeMap<String, String>,
    /// The regions whose expired suppression filters (`suppress_similar`) `remedy expire`
    /// deletes; empty: `remedy expire` leaves GuardDuty alone.
    #[serde(default)]
    pub suppression_regions: Vec<String>,
}

impl WritebackConfig {
    /// Why the section cannot be used, if it cannot: a kind that is not a write-back kind, a
    /// region that is not a region name, a detector id that is not 1 to 300 lower-case letters
    /// and digits.
    pub fn check(&self) -> Result<(), ConfigError> {
        for kind in &self.kinds {
            if !is_writeback(kind) {
                let known: Vec<String> =
                    ActionKind::writeback().map(|k| format!("`{k}`")).collect();
                return Err(invalid(
                    "writeback.kinds",
                    format!(
                        "`{kind}` is not a write-back kind (one of {})",
                        known.join(", ")
                    ),
                ));
            }
        }
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

    /// Whether actions of `kind` are turned on (`kinds` lists it).
    pub fn is_enabled(&self, kind: &ActionKind) -> bool {
        self.kinds.contains(kind)
    }

    /// The detector named for `region`.
    pub fn detector(&self, region: &str) -> Option<&str> {
        self.detectors.get(region).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<WritebackConfig, String> {
        let config: WritebackConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.check().map_err(|e| e.to_string())?;
        Ok(config)
    }

    #[test]
    fn kinds_are_off_unless_listed_and_must_be_write_back_kinds() {
        let none = parsed("").unwrap();
        assert!(!none.is_enabled(&ActionKind::UPDATE_FINDING));
        let some = parsed(r#"kinds = ["update_finding", "archive_finding"]"#).unwrap();
        assert!(some.is_enabled(&ActionKind::UPDATE_FINDING));
        assert!(some.is_enabled(&ActionKind::ARCHIVE_FINDING));
        assert!(!some.is_enabled(&ActionKind::SUPPRESS_SIMILAR));
        let wrong = parsed(r#"kinds = ["disable_access_key"]"#).unwrap_err();
        assert!(wrong.contains("writeback.kinds"), "{wrong}");
        assert!(
            wrong.contains("`disable_access_key` is not a write-back kind"),
            "{wrong}"
        );
        assert!(wrong.contains("`suppress_similar`"), "{wrong}");
        let typo = parsed(r#"kinds = ["Update-Finding"]"#).unwrap_err();
        assert!(typo.contains("action kind"), "{typo}");
    }
}
