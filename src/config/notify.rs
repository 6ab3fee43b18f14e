//! `[notify]`: where each notify channel goes, its target parsed once when the file is read.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a notify channel's messages go: parsed once, when the configuration is read, so the
/// code that wires channels to notifiers matches on a kind instead of re-reading a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
#[non_exhaustive]
pub enum NotifyTarget {
    /// `"log"`: the `tracing` log (at `WARN`).
    Log,
    /// An SNS topic ARN (`arn:aws:sns:REGION:ACCOUNT:NAME`): plain-text messages.
    Sns(String),
}

impl NotifyTarget {
    /// The target as written in the configuration.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Log => "log",
            Self::Sns(arn) => arn,
        }
    }
}

impl FromStr for NotifyTarget {
    type Err = String;

    /// `log`, or an SNS topic ARN: `arn:PARTITION:sns:REGION:ACCOUNT:NAME`, every part present.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "log" {
            return Ok(Self::Log);
        }
        let parts: Vec<&str> = text.split(':').collect();
        let sns = matches!(
            parts.as_slice(),
            ["arn", partition, "sns", region, account, name]
                if [partition, region, account, name].iter().all(|p| !p.is_empty())
        );
        if sns {
            Ok(Self::Sns(text.to_owned()))
        } else {
            Err("expected an SNS topic ARN (`arn:aws:sns:…`) or `log`".to_owned())
        }
    }
}

impl fmt::Display for NotifyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<NotifyTarget> for String {
    fn from(target: NotifyTarget) -> Self {
        target.as_str().to_owned()
    }
}

/// `[notify]`: where each channel goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "RawNotify")]
pub struct NotifyConfig {
    /// Channel name to its target.
    pub channels: BTreeMap<String, NotifyTarget>,
    /// Where channels not listed go; absent: such notifications fail.
    pub default: Option<NotifyTarget>,
}

impl NotifyConfig {
    /// Whether no channel and no default is configured.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.default.is_none()
    }
}

/// `[notify]` as written: targets still strings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    #[serde(default)]
    channels: BTreeMap<String, String>,
    #[serde(default)]
    default: Option<String>,
}

impl TryFrom<RawNotify> for NotifyConfig {
    type Error = String;

    fn try_from(raw: RawNotify) -> Result<Self, Self::Error> {
        let parse = |field: String, text: &str| {
            text.parse::<NotifyTarget>()
                .map_err(|message| format!("invalid `{field}`: {message}"))
        };
        let mut channels = BTreeMap::new();
        for (name, target) in raw.channels {
            let parsed = parse(format!("notify.channels.{name}"), &target)?;
            channels.insert(name, parsed);
        }
        let default = match raw.default {
            Some(text) => Some(parse("notify.default".to_owned(), &text)?),
            None => None,
        };
        Ok(Self { channels, default })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_parsed_once() {
        assert_eq!("log".parse::<NotifyTarget>(), Ok(NotifyTarget::Log));
        let arn = "arn:aws:sns:us-east-1:123456789012:alerts";
        assert_eq!(arn.parse(), Ok(NotifyTarget::Sns(arn.to_owned())));
        for bad in [
            "mail",
            "arn:",
            "arn:aws:sns:us-east-1::t",
            "arn:aws:sqs:r:1:q",
            "LOG",
        ] {
            assert!(bad.parse::<NotifyTarget>().is_err(), "{bad}");
        }
    }
}
