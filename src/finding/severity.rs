//! [`Severity`] and [`SeverityBand`], with the one table of bands every part of remedy uses.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::FindingError;

/// A GuardDuty severity: a number from 0 to 10 (GuardDuty itself uses 1 to 10). Serialized as
/// the number.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Severity(f64);

/// A severity band: Low, Medium, High or Critical (ordered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SeverityBand {
    /// [0, 4)
    Low,
    /// [4, 7)
    Medium,
    /// [7, 9)
    High,
    /// [9, 10]
    Critical,
}

/// The bands by AWS's ranges, half-open so every value has one: the band, its name, its lowest
/// severity, and the severity that stands for the band when only its name is known (Security
/// Hub's `Label`). Highest first.
const BANDS: [(SeverityBand, &str, f64, f64); 4] = [
    (SeverityBand::Critical, "Critical", 9.0, 9.0),
    (SeverityBand::High, "High", 7.0, 8.0),
    (SeverityBand::Medium, "Medium", 4.0, 5.0),
    (SeverityBand::Low, "Low", 0.0, 2.0),
];

impl Severity {
    /// The lowest severity.
    pub const MIN: Severity = Severity(0.0);
    /// The highest severity.
    pub const MAX: Severity = Severity(10.0);

    /// A severity from its number; `None` unless it is finite and within [0, 10].
    pub fn new(value: f64) -> Option<Self> {
        (value.is_finite() && (0.0..=10.0).contains(&value)).then_some(Self(value))
    }

    /// The number.
    pub fn value(self) -> f64 {
        self.0
    }

    /// The band: Low [0, 4), Medium [4, 7), High [7, 9), Critical [9, 10].
    pub fn band(self) -> SeverityBand {
        BANDS
            .iter()
            .find(|(_, _, floor, _)| self.0 >= *floor)
            .map_or(SeverityBand::Low, |(band, ..)| *band)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.0)
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        Severity::new(value).ok_or_else(|| {
            serde::de::Error::custom(format!("`{value}` is not a severity from 0 to 10"))
        })
    }
}

impl SeverityBand {
    fn row(self) -> (SeverityBand, &'static str, f64, f64) {
        BANDS
            .iter()
            .copied()
            .find(|(band, ..)| *band == self)
            .unwrap_or((self, "Low", 0.0, 2.0))
    }

    /// The band's name: `Low`, `Medium`, `High`, `Critical`.
    pub fn as_str(self) -> &'static str {
        self.row().1
    }

    /// The lowest severity in the band.
    pub fn min_severity(self) -> Severity {
        Severity(self.row().2)
    }

    /// The severity that stands for the band when only its name is known (Security Hub's
    /// `Label`): Low 2, Medium 5, High 8, Critical 9.
    pub fn typical_severity(self) -> Severity {
        Severity(self.row().3)
    }
}

impl fmt::Display for SeverityBand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SeverityBand {
    type Err = FindingError;
    /// Case-insensitive: `low`, `MEDIUM`, `High`, `critical`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        BANDS
            .iter()
            .find(|(_, n, ..)| n.eq_ignore_ascii_case(name))
            .map(|(band, ..)| *band)
            .ok_or_else(|| {
                FindingError::invalid(
                    "$",
                    "a severity band (`low`, `medium`, `high`, `critical`)",
                    format!("`{s}`"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_are_half_open() {
        let band = |v| Severity::new(v).unwrap().band();
        assert_eq!(band(0.0), SeverityBand::Low);
        assert_eq!(band(3.95), SeverityBand::Low);
        assert_eq!(band(4.0), SeverityBand::Medium);
        assert_eq!(band(6.99), SeverityBand::Medium);
        assert_eq!(band(7.0), SeverityBand::High);
        assert_eq!(band(8.9), SeverityBand::High);
        assert_eq!(band(9.0), SeverityBand::Critical);
        assert_eq!(band(10.0), SeverityBand::Critical);
    }

    #[test]
    fn out_of_range_is_rejected() {
        assert!(Severity::new(-0.1).is_none());
        assert!(Severity::new(10.1).is_none());
        assert!(Severity::new(f64::NAN).is_none());
    }

    #[test]
    fn band_names_round_trip() {
        for band in [
            SeverityBand::Low,
            SeverityBand::Medium,
            SeverityBand::High,
            SeverityBand::Critical,
        ] {
            assert_eq!(band.to_string().parse::<SeverityBand>().unwrap(), band);
            assert_eq!(
                band.as_str()
                    .to_uppercase()
                    .parse::<SeverityBand>()
                    .unwrap(),
                band
            );
        }
        assert!("severe".parse::<SeverityBand>().is_err());
    }
}
