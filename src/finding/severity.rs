//! [`Severity`] and [`SeverityBand`].

use std::fmt;
use std::str::FromStr;

use super::error::FindingError;

/// A GuardDuty severity: a number from 0 to 10 (GuardDuty itself uses 1 to 10).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Severity(f64);

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

    /// The band by AWS's ranges, half-open so every value has one: Low [0, 4), Medium [4, 7),
    /// High [7, 9), Critical [9, 10].
    pub fn band(self) -> SeverityBand {
        match self.0 {
            v if v >= 9.0 => SeverityBand::Critical,
            v if v >= 7.0 => SeverityBand::High,
            v if v >= 4.0 => SeverityBand::Medium,
            _ => SeverityBand::Low,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

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

impl SeverityBand {
    /// The band's name: `Low`, `Medium`, `High`, `Critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "Low",
            Self::Medium => "Medium",
            Self::High => "High",
            Self::Critical => "Critical",
        }
    }

    /// The lowest severity in the band.
    pub fn min_severity(self) -> Severity {
        Severity(match self {
            Self::Low => 0.0,
            Self::Medium => 4.0,
            Self::High => 7.0,
            Self::Critical => 9.0,
        })
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
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "critical" => Ok(Self::Critical),
            _ => Err(FindingError::invalid(
                "$",
                "a severity band (`low`, `medium`, `high`, `critical`)",
                format!("`{s}`"),
            )),
        }
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
