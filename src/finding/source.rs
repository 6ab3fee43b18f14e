//! Where a finding came from: its [`FindingSource`], the one table of source names.

use std::fmt;
use std::str::FromStr;

/// The source of a finding: the model it was read into. The shape (how it arrived) is separate:
/// a GuardDuty finding that came through Security Hub (ASFF) is mapped back to GuardDuty's model
/// and is of source [`FindingSource::GuardDuty`] with shape `asff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FindingSource {
    /// A GuardDuty finding (any shape, attack sequences included).
    GuardDuty,
    /// A GuardDuty Malware Protection for S3 scan result (EventBridge `detail-type`
    /// `GuardDuty Malware Protection Object Scan Result`): not a finding, read as one.
    GuardDutyMalwareScan,
    /// A Security Hub (ASFF) finding of a product other than GuardDuty (Inspector, Macie, IAM
    /// Access Analyzer, Config, Security Hub's own controls, ...); the product is
    /// [`Finding::product`](super::Finding::product).
    SecurityHub,
    /// An OCSF finding (Security Hub `Findings Imported V2`, Security Lake): classes 2002, 2003
    /// and 2004 typed, others generically.
    Ocsf,
    /// A finding of a source remedy does not know, read generically (id, type, severity,
    /// resources).
    Other,
}

/// Every source with its name, as `finding.source` and `const SOURCES` write it.
const SOURCES: [(FindingSource, &str); 5] = [
    (FindingSource::GuardDuty, "guardduty"),
    (
        FindingSource::GuardDutyMalwareScan,
        "guardduty-malware-scan",
    ),
    (FindingSource::SecurityHub, "securityhub"),
    (FindingSource::Ocsf, "ocsf"),
    (FindingSource::Other, "other"),
];

impl FindingSource {
    /// Every source, in the order of the table.
    pub fn all() -> impl Iterator<Item = FindingSource> {
        SOURCES.iter().map(|(s, _)| *s)
    }

    /// `guardduty`, `guardduty-malware-scan`, `securityhub`, `ocsf` or `other`.
    pub fn as_str(self) -> &'static str {
        SOURCES
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("other", |(_, name)| name)
    }
}

impl fmt::Display for FindingSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a finding source (one of guardduty, guardduty-malware-scan, securityhub, ocsf, other)"
)]
pub struct UnknownFindingSource(pub String);

impl FromStr for FindingSource {
    type Err = UnknownFindingSource;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SOURCES
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(source, _)| *source)
            .ok_or_else(|| UnknownFindingSource(s.to_owned()))
    }
}

impl serde::Serialize for FindingSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for FindingSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for source in FindingSource::all() {
            assert_eq!(source.as_str().parse::<FindingSource>(), Ok(source));
        }
        assert!("GuardDuty".parse::<FindingSource>().is_err());
    }
}
