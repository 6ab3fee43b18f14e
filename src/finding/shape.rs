//! How a finding arrived: its [`Shape`] and, for events, the EventBridge [`Envelope`].

use std::fmt;

use time::OffsetDateTime;

use super::text::Text;

/// The shape a finding arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Shape {
    /// An EventBridge event (`"detail-type": "GuardDuty Finding"`).
    Eventbridge,
    /// A bare finding as the GuardDuty API and S3 export give it (camelCase).
    Raw,
    /// `aws guardduty get-findings` output, or a single PascalCase finding.
    Cli,
    /// A Security Hub finding (ASFF), of GuardDuty or of another product.
    Asff,
    /// An OCSF finding (bare, or in a Security Hub `Findings Imported V2` event).
    Ocsf,
}

impl Shape {
    /// `eventbridge`, `raw`, `cli`, `asff` or `ocsf`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eventbridge => "eventbridge",
            Self::Raw => "raw",
            Self::Cli => "cli",
            Self::Asff => "asff",
            Self::Ocsf => "ocsf",
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The EventBridge envelope a finding arrived in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Envelope {
    /// The event id.
    pub id: Option<Text>,
    /// The event time.
    pub time: Option<OffsetDateTime>,
    /// The event source (`aws.guardduty`, `aws.securityhub`).
    pub source: Option<Text>,
    /// The account the event was delivered in.
    pub account: Option<Text>,
    /// The region the event was delivered in.
    pub region: Option<Text>,
    /// The `detail-type`.
    pub detail_type: Option<Text>,
}
