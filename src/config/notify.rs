//! `[notify]`: where each notify channel goes, its target parsed once when the file is read.
//!
//! A channel is a string (`"log"` or an SNS topic ARN: plain text) or a table naming a kind:
//! `sns` (with `format = "chatbot"` for AWS Chatbot's custom notifications), `slack`, `teams`
//! or `email`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};

use super::SecretSource;

/// The default `api_url` of a Slack channel.
pub const SLACK_API: &str = "https://slack.com/api";

/// Where a notify channel's messages go: parsed once, when the configuration is read, so the
/// code that wires channels to notifiers matches on a kind instead of re-reading a string.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotifyTarget {
    /// `"log"`: the `tracing` log (at `WARN`).
    Log,
    /// An SNS topic ARN (`arn:aws:sns:REGION:ACCOUNT:NAME`): plain-text messages.
    Sns(String),
    /// An SNS topic for AWS Chatbot (Amazon Q Developer in chat applications): its
    /// custom-notification JSON, threaded by finding (`kind = "sns", format = "chatbot"`).
    Chatbot(String),
    /// A Slack channel, through the Web API's `chat.postMessage` (`kind = "slack"`).
    Slack(SlackTarget),
    /// A Microsoft Teams Workflows webhook: Adaptive Cards (`kind = "teams"`).
    Teams(TeamsTarget),
    /// Email through SES v2 (`kind = "email"`).
    Email(EmailTarget),
}

/// A Slack channel: where and with which bot token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlackTarget {
    /// The channel id (`C0123456789`) or name.
    pub channel: String,
    /// Where the bot token (`xoxb-…`) comes from (`token_env` or `token_secret`).
    pub token: SecretSource,
    /// The Web API's base URL (default [`SLACK_API`]; Enterprise Grid, GovSlack and tests set it).
    pub api_url: String,
    /// Where the app's signing secret comes from, for its buttons (`signing_secret_env` or
    /// `signing_secret`).
    pub signing_secret: Option<SecretSource>,
    /// How long one call may take before its result counts as unknown (default 10 s).
    pub timeout_secs: u64,
}

/// A Microsoft Teams Workflows webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamsTarget {
    /// Where the webhook URL (a secret: whoever holds it can post) comes from (`webhook_env`).
    pub webhook: SecretSource,
    /// How long one call may take before its result counts as unknown (default 10 s).
    pub timeout_secs: u64,
}

/// Email through SES v2 `SendEmail`: a text and an HTML part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailTarget {
    /// The sender, an address SES has verified.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// The SES region (default: remedy's own).
    pub region: Option<String>,
}

impl NotifyTarget {
    /// The target in a few words, for messages: `log`, the topic's ARN, `slack channel C012…`.
    pub fn describe(&self) -> String {
        match self {
            Self::Log => "log".to_owned(),
            Self::Sns(arn) => arn.clone(),
            Self::Chatbot(arn) => format!("{arn} (AWS Chatbot)"),
            Self::Slack(slack) => format!("slack channel {}", slack.channel),
            Self::Teams(_) => "teams webhook".to_owned(),
            Self::Email(email) => format!("email to {}", email.to.join(", ")),
        }
    }

    /// A target from its table (`kind = "…"` and that kind's keys); `field` names it in errors.
    fn from_table(field: &str, table: serde_json::Value) -> Result<Self, String> {
        let kind = table
            .get("kind")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| {
                format!("invalid `{field}`: a table needs `kind` (sns, slack, teams or email)")
            })?
            .to_owned();
        let mut table = table;
        if let Some(map) = table.as_object_mut() {
            map.remove("kind");
        }
        let bad = |message: String| format!("invalid `{field}`: {message}");
        let parsed = match kind.as_str() {
            "sns" => {
                let raw: RawSns = serde_json::from_value(table).map_err(|e| bad(e.to_string()))?;
                let Self::Sns(topic) = raw.topic.parse::<Self>().map_err(bad)? else {
                    return Err(bad("`topic` must be an SNS topic ARN".to_owned()));
                };
                match raw.format.as_deref() {
                    None | Some("text") => Self::Sns(topic),
                    Some("chatbot") => Self::Chatbot(topic),
                    Some(other) => {
                        return Err(bad(format!(
                            "`format` is `text` or `chatbot`, not `{other}`"
                        )));
                    }
                }
            }
            "slack" => {
                let raw: RawSlack =
                    serde_json::from_value(table).map_err(|e| bad(e.to_string()))?;
                let token = SecretSource::either(
                    raw.token_env,
                    raw.token_secret,
                    ("token_env", "token_secret"),
                )
                .map_err(bad)?
                .ok_or_else(|| bad("give `token_env` or `token_secret`".to_owned()))?;
                let signing_secret = SecretSource::either(
                    raw.signing_secret_env,
                    raw.signing_secret,
                    ("signing_secret_env", "signing_secret"),
                )
                .map_err(bad)?;
                if raw.channel.is_empty()
                    || raw.channel.len() > 80
                    || !raw
                        .channel
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_#.".contains(&b))
                {
                    return Err(bad(format!(
                        "`{}` is not a Slack channel id or name",
                        raw.channel
                    )));
                }
                let api_url = raw.api_url.unwrap_or_else(|| SLACK_API.to_owned());
                check_url(&api_url).map_err(bad)?;
                Self::Slack(SlackTarget {
                    channel: raw.channel,
                    token,
                    api_url: api_url.trim_end_matches('/').to_owned(),
                    signing_secret,
                    timeout_secs: timeout(raw.timeout_secs).map_err(bad)?,
                })
            }
            "teams" => {
                let raw: RawTeams =
                    serde_json::from_value(table).map_err(|e| bad(e.to_string()))?;
                Self::Teams(TeamsTarget {
                    webhook: SecretSource::env(raw.webhook_env).map_err(bad)?,
                    timeout_secs: timeout(raw.timeout_secs).map_err(bad)?,
                })
            }
            "email" => {
                let raw: RawEmail =
                    serde_json::from_value(table).map_err(|e| bad(e.to_string()))?;
                if raw.to.is_empty() {
                    return Err(bad("`to` names at least one address".to_owned()));
                }
                for address in std::iter::once(&raw.from).chain(&raw.to) {
                    if !is_address(address) {
                        return Err(bad(format!("`{address}` is not an email address")));
                    }
                }
                Self::Email(EmailTarget {
                    from: raw.from,
                    to: raw.to,
                    region: raw.region,
                })
            }
            other => {
                return Err(bad(format!(
                    "unknown kind `{other}`: expected sns, slack, teams or email"
                )));
            }
        };
        Ok(parsed)
    }
}

/// `Ok` for an `http` or `https` URL without spaces or control characters.
fn check_url(url: &str) -> Result<(), String> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && !url.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(format!("`{url}` is not an http(s) URL"))
    }
}

/// A timeout from 1 to 300 s (default 10).
fn timeout(secs: Option<u64>) -> Result<u64, String> {
    match secs.unwrap_or(10) {
        secs @ 1..=300 => Ok(secs),
        secs => Err(format!(
            "`timeout_secs` {secs} is out of range: must be from 1 to 300"
        )),
    }
}

/// A plain `local@domain` address: no display name, spaces, commas or line breaks (a header
/// injection needs one).
fn is_address(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && text.len() <= 254
        && text
            .chars()
            .all(|c| c.is_ascii_graphic() && !"<>(),;:\\\"[]".contains(c))
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
            Err(
                "expected an SNS topic ARN (`arn:aws:sns:…`), `log`, or a table with `kind`"
                    .to_owned(),
            )
        }
    }
}

impl fmt::Display for NotifyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Serialize for NotifyTarget {
    /// A string for `log` and a plain SNS topic, a table with `kind` for the others; secrets by
    /// their source only.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Log => serializer.serialize_str("log"),
            Self::Sns(arn) => serializer.serialize_str(arn),
            Self::Chatbot(arn) => {
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry("kind", "sns")?;
                map.serialize_entry("topic", arn)?;
                map.serialize_entry("format", "chatbot")?;
                map.end()
            }
            Self::Slack(slack) => tagged(serializer, "slack", slack),
            Self::Teams(teams) => tagged(serializer, "teams", teams),
            Self::Email(email) => tagged(serializer, "email", email),
        }
    }
}

/// `{"kind": KIND, "target": {...}}`: a channel table as remedy shows it.
fn tagged<S: serde::Serializer, T: Serialize>(
    serializer: S,
    kind: &str,
    target: &T,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(2))?;
    map.serialize_entry("kind", kind)?;
    map.serialize_entry("target", target)?;
    map.end()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSns {
    topic: String,
    #[serde(default)]
    format: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlack {
    channel: String,
    #[serde(default)]
    token_env: Option<String>,
    #[serde(default)]
    token_secret: Option<String>,
    #[serde(default)]
    api_url: Option<String>,
    #[serde(default)]
    signing_secret_env: Option<String>,
    #[serde(default)]
    signing_secret: Option<String>,
    #[serde(default)]
    timeout_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeams {
    webhook_env: String,
    #[serde(default)]
    timeout_secs: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    from: String,
    to: Vec<String>,
    #[serde(default)]
    region: Option<String>,
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

/// `[notify]` as written: targets still strings or tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    #[serde(default)]
    channels: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    default: Option<serde_json::Value>,
}

impl TryFrom<RawNotify> for NotifyConfig {
    type Error = String;

    fn try_from(raw: RawNotify) -> Result<Self, Self::Error> {
        let parse = |field: String, value: &serde_json::Value| match value {
            serde_json::Value::String(text) => text
                .parse::<NotifyTarget>()
                .map_err(|message| format!("invalid `{field}`: {message}")),
            serde_json::Value::Object(_) => NotifyTarget::from_table(&field, value.clone()),
            _ => Err(format!(
                "invalid `{field}`: expected a string (`log`, an SNS topic ARN) or a table with `kind`"
            )),
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

    fn notify(toml: &str) -> Result<NotifyConfig, String> {
        #[derive(Deserialize)]
        struct File {
            notify: NotifyConfig,
        }
        toml::from_str::<File>(toml)
            .map(|f| f.notify)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn channel_tables_name_a_kind_and_check_their_keys() {
        let config = notify(
            r#"
            [notify.channels]
            security = "arn:aws:sns:us-east-1:123456789012:security-alerts"
            chatops  = { kind = "sns", topic = "arn:aws:sns:us-east-1:123456789012:chatops", format = "chatbot" }
            slack    = { kind = "slack", channel = "C0123456789", token_env = "SLACK_BOT_TOKEN" }
            teams    = { kind = "teams", webhook_env = "TEAMS_WEBHOOK_URL" }
            mail     = { kind = "email", from = "remedy@example.com", to = ["secops@example.com"] }
            "#,
        )
        .unwrap();
        let c = &config.channels;
        assert!(matches!(c["security"], NotifyTarget::Sns(_)));
        assert!(matches!(c["chatops"], NotifyTarget::Chatbot(_)));
        let NotifyTarget::Slack(slack) = &c["slack"] else {
            panic!()
        };
        assert_eq!(slack.api_url, SLACK_API);
        assert_eq!(slack.token, SecretSource::Env("SLACK_BOT_TOKEN".into()));
        assert!(matches!(c["teams"], NotifyTarget::Teams(_)));
        assert!(matches!(c["mail"], NotifyTarget::Email(_)));

        for (bad, says) in [
            (r#"x = { kind = "slack", channel = "C1" }"#, "token_env"),
            (
                r#"x = { kind = "slack", channel = "C1", token_env = "A", token_secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:x" }"#,
                "not both",
            ),
            (
                r#"x = { kind = "slack", channel = "C1", token_env = "A", tokn = "B" }"#,
                "tokn",
            ),
            (
                r#"x = { kind = "slack", channel = "<!channel>", token_env = "A" }"#,
                "channel",
            ),
            (
                r#"x = { kind = "slack", channel = "C1", token_env = "A", api_url = "ftp://x" }"#,
                "URL",
            ),
            (
                r#"x = { kind = "sns", topic = "arn:aws:sns:us-east-1:123456789012:t", format = "html" }"#,
                "format",
            ),
            (
                r#"x = { kind = "email", from = "a@example.com", to = ["b@example.com\nBcc: c@evil.com"] }"#,
                "address",
            ),
            (
                r#"x = { kind = "email", from = "a@example.com", to = [] }"#,
                "at least one",
            ),
            (r#"x = { kind = "pager" }"#, "unknown kind"),
            (r#"x = { channel = "C1" }"#, "kind"),
            ("x = 3", "expected a string"),
        ] {
            let err = notify(&format!("[notify.channels]\n{bad}\n")).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
