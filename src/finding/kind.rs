//! [`FindingType`] and [`TypeGlob`].

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::error::FindingError;

/// The longest finding type accepted (GuardDuty's are under 100 bytes).
pub const MAX_TYPE_BYTES: usize = 256;

/// A finding type. For GuardDuty:
/// `ThreatPurpose:ResourceTypeAffected/ThreatFamilyName.DetectionMechanism!Artifact`.
///
/// The detection mechanism and the artifact are optional
/// (`UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom`, `Backdoor:EC2/C&CActivity.B!DNS`,
/// `Recon:IAMUser/UserPermissions`).
///
/// Other sources name their findings in their own words (Security Hub's
/// `Software and Configuration Checks/Vulnerabilities/CVE`, a product's title):
/// [`FindingType::of_product`] keeps such a type as written; its GuardDuty parts are empty
/// ([`FindingType::is_guardduty`] is `false`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FindingType {
    /// Shared: plans and records clone the type without copying it.
    text: Arc<str>,
    /// Byte offsets: end of purpose (`:`), end of resource (`/`), end of family, end of mechanism.
    /// All 0 for a type that is not in GuardDuty's form (a GuardDuty purpose is never empty).
    colon: usize,
    slash: usize,
    family_end: usize,
    mechanism_end: usize,
}

impl FindingType {
    /// Parses a finding type string.
    pub fn new(text: impl Into<String>) -> Result<Self, FindingError> {
        let text = text.into();
        let bad = |text: &str| {
            FindingError::invalid(
                "$.type",
                "a finding type like `ThreatPurpose:ResourceTypeAffected/ThreatFamilyName`",
                format!("`{text}`"),
            )
        };
        if text.len() > MAX_TYPE_BYTES {
            return Err(FindingError::invalid(
                "$.type",
                format!("a finding type of at most {MAX_TYPE_BYTES} bytes"),
                format!("{} bytes", text.len()),
            ));
        }
        let colon = text.find(':').ok_or_else(|| bad(&text))?;
        let slash = text.find('/').ok_or_else(|| bad(&text))?;
        if colon == 0 || slash <= colon + 1 || slash + 1 >= text.len() {
            return Err(bad(&text));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(&text));
        }
        let tail = text.get(slash + 1..).unwrap_or("");
        let artifact_at = tail.find('!').map_or(text.len(), |i| slash + 1 + i);
        let family_end = tail
            .find('.')
            .map(|i| slash + 1 + i)
            .filter(|&i| i < artifact_at)
            .unwrap_or(artifact_at);
        if family_end == slash + 1 {
            return Err(bad(&text));
        }
        Ok(Self {
            colon,
            slash,
            family_end,
            mechanism_end: artifact_at,
            text: Arc::from(text),
        })
    }

    /// A type as another source writes it: in GuardDuty's form when it is one (so a glob sees
    /// the same parts), otherwise kept as written (spaces allowed). Refused when empty, longer
    /// than [`MAX_TYPE_BYTES`] or holding a control character.
    pub fn of_product(text: impl Into<String>) -> Result<Self, FindingError> {
        let text = text.into();
        if let Ok(gd) = Self::new(text.as_str()) {
            return Ok(gd);
        }
        let trimmed = text.trim();
        if trimmed.is_empty()
            || trimmed.len() > MAX_TYPE_BYTES
            || trimmed.chars().any(char::is_control)
        {
            return Err(FindingError::invalid(
                "$.type",
                format!("a finding type of 1 to {MAX_TYPE_BYTES} bytes without control characters"),
                if trimmed.is_empty() {
                    "nothing".to_owned()
                } else {
                    format!("{} bytes", trimmed.len())
                },
            ));
        }
        Ok(Self {
            colon: 0,
            slash: 0,
            family_end: 0,
            mechanism_end: 0,
            text: Arc::from(trimmed),
        })
    }

    /// Whether the type is in GuardDuty's form (`Purpose:Resource/Family…`); the parts below are
    /// empty (`None`) when it is not.
    pub fn is_guardduty(&self) -> bool {
        self.colon > 0
    }

    /// The whole type string.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The threat purpose (`UnauthorizedAccess`, `Recon`, `Backdoor`, ...).
    pub fn threat_purpose(&self) -> &str {
        self.text.get(..self.colon).unwrap_or("")
    }

    /// The resource type affected (`IAMUser`, `EC2`, `S3`, `Kubernetes`, ...).
    pub fn resource_type_affected(&self) -> &str {
        self.text.get(self.colon + 1..self.slash).unwrap_or("")
    }

    /// The threat family name (`MaliciousIPCaller`, `C&CActivity`, ...).
    pub fn threat_family(&self) -> &str {
        self.text.get(self.slash + 1..self.family_end).unwrap_or("")
    }

    /// The detection mechanism after the first `.` of the family (`Custom`, `B`, `Tcp`), if any.
    pub fn detection_mechanism(&self) -> Option<&str> {
        if self.family_end >= self.mechanism_end {
            return None;
        }
        self.text
            .get(self.family_end + 1..self.mechanism_end)
            .filter(|s| !s.is_empty())
    }

    /// The artifact after `!` (`DNS`), if any.
    pub fn artifact(&self) -> Option<&str> {
        if !self.is_guardduty() {
            return None;
        }
        self.text
            .get(self.mechanism_end + 1..)
            .filter(|s| !s.is_empty())
    }

    /// Whether the glob matches the whole type string.
    pub fn matches(&self, glob: &TypeGlob) -> bool {
        glob.matches(&self.text)
    }
}

impl fmt::Display for FindingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for FindingType {
    type Err = FindingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl serde::Serialize for FindingType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for FindingType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Plans carry findings of every source: a type in GuardDuty's form, or a product's own.
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        Self::of_product(text).map_err(|e| serde::de::Error::custom(e.to_string()))
    }
}

impl AsRef<str> for FindingType {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

/// A glob over whole finding type strings: `*` matches any run of characters (including `/`),
/// `?` exactly one character; everything else matches itself (case-sensitive).
///
/// ```
/// use remedy::finding::TypeGlob;
/// let glob = TypeGlob::new("UnauthorizedAccess:IAMUser/*");
/// assert!(glob.matches("UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom"));
/// assert!(!glob.matches("UnauthorizedAccess:EC2/SSHBruteForce"));
/// assert_eq!(glob.literal_prefix(), "UnauthorizedAccess:IAMUser/");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TypeGlob {
    pattern: String,
}

impl TypeGlob {
    /// A glob from its pattern. Every string is a valid pattern.
    pub fn new(pattern: impl Into<String>) -> Self {
        Self {
            pattern: pattern.into(),
        }
    }

    /// The pattern text.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The text before the first wildcard (the whole pattern if it has none).
    pub fn literal_prefix(&self) -> &str {
        crate::glob::literal_prefix(&self.pattern)
    }

    /// Whether the pattern has no wildcard.
    pub fn is_literal(&self) -> bool {
        !self.pattern.contains(['*', '?'])
    }

    /// Whether the pattern matches the whole of `text`.
    pub fn matches(&self, text: &str) -> bool {
        crate::glob::glob_match(&self.pattern, text)
    }
}

impl fmt::Display for TypeGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

impl FromStr for TypeGlob {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_a_full_type() {
        let t = FindingType::new("Backdoor:EC2/C&CActivity.B!DNS").unwrap();
        assert_eq!(t.threat_purpose(), "Backdoor");
        assert_eq!(t.resource_type_affected(), "EC2");
        assert_eq!(t.threat_family(), "C&CActivity");
        assert_eq!(t.detection_mechanism(), Some("B"));
        assert_eq!(t.artifact(), Some("DNS"));
    }

    #[test]
    fn parts_without_mechanism_or_artifact() {
        let t = FindingType::new("Recon:IAMUser/UserPermissions").unwrap();
        assert_eq!(t.threat_family(), "UserPermissions");
        assert_eq!(t.detection_mechanism(), None);
        assert_eq!(t.artifact(), None);
        let t = FindingType::new("Trojan:EC2/DropPoint!DNS").unwrap();
        assert_eq!(t.threat_family(), "DropPoint");
        assert_eq!(t.detection_mechanism(), None);
        assert_eq!(t.artifact(), Some("DNS"));
        let t = FindingType::new("UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom").unwrap();
        assert_eq!(t.detection_mechanism(), Some("Custom"));
    }

    #[test]
    fn product_types_are_kept_as_written_without_guardduty_parts() {
        let t = FindingType::of_product("Software and Configuration Checks/Vulnerabilities/CVE")
            .unwrap();
        assert!(!t.is_guardduty());
        assert_eq!(
            t.as_str(),
            "Software and Configuration Checks/Vulnerabilities/CVE"
        );
        assert_eq!(t.threat_purpose(), "");
        assert_eq!(t.resource_type_affected(), "");
        assert_eq!(t.threat_family(), "");
        assert_eq!(t.detection_mechanism(), None);
        assert_eq!(t.artifact(), None);
        // A type in GuardDuty's form reads as one whatever the source.
        let gd = FindingType::of_product("Recon:IAMUser/UserPermissions").unwrap();
        assert!(gd.is_guardduty());
        assert_eq!(
            gd,
            FindingType::new("Recon:IAMUser/UserPermissions").unwrap()
        );
        for bad in ["", "  ", "a\u{0}b", &"x".repeat(MAX_TYPE_BYTES + 1)] {
            assert!(FindingType::of_product(bad).is_err(), "{bad:?}");
        }
        let back: FindingType = serde_json::from_str("\"Effects/Data Exposure\"").unwrap();
        assert_eq!(back.as_str(), "Effects/Data Exposure");
    }

    #[test]
    fn rejects_malformed_types() {
        for bad in [
            "",
            "Recon",
            "Recon:IAMUser",
            ":IAMUser/X",
            "Recon:/X",
            "Recon:IAMUser/",
            "a b:c/d",
        ] {
            assert!(FindingType::new(bad).is_err(), "{bad}");
        }
    }
}
