//! Deciding from Slack: the handler of Slack's interaction requests (the Approve and Deny buttons
//! of a pending action), verified, guarded, one decision per request.
//!
//! [`SlackInteractions`] is the one handler behind both forms: `remedy serve` (an HTTP server,
//! [`listen`]) and `remedy-lambda` answering a Lambda function URL. For each request it:
//!
//! 1. refuses (401, nothing changed) a body over 64 KiB, a missing or bad `X-Slack-Signature`
//!    (`v0`, HMAC-SHA256 of `v0:TIMESTAMP:BODY` under the app's signing secret, compared in
//!    constant time) and a timestamp more than 5 minutes away;
//! 2. answers 200 at once (Slack waits 3 seconds), then, after answering:
//! 3. accepts a decision only from an `[approval] approvers` user (or a member of a listed user
//!    group); anyone else is told so, privately, and the refused attempt is in the audit trail;
//! 4. decides exactly once, through [`Remediator::approve`] / [`Remediator::deny`]: a double
//!    click, a replayed payload or a click after the request was decided or expired changes
//!    nothing and says why; every guard runs again on approval (kill switch, protection, breaker,
//!    ledger, rate limit);
//! 5. records the approver as `slack:<user id> (<name>)` with the channel and message, and
//!    updates the message (`chat.update`) to say who decided, when, and what came of it.

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::config::Secret;
use crate::id::ApprovalId;
use crate::notify::{APPROVE, DENY, Slack};
use crate::remediate::Remediator;

mod listen;

pub use listen::listen;

/// The largest interaction body read.
pub const MAX_BODY: usize = 64 * 1024;
/// How far a request's timestamp may be from now, in seconds.
pub const MAX_SKEW: u64 = 300;

/// An HTTP answer: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body (text).
    pub body: String,
}

impl Reply {
    fn ok() -> Self {
        Self {
            status: 200,
            body: String::new(),
        }
    }

    fn refused(why: &str) -> Self {
        Self {
            status: 401,
            body: why.to_owned(),
        }
    }
}

/// A verified click on a decision button, to carry out after answering Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    /// Approve (`true`) or deny.
    pub approve: bool,
    /// The request.
    pub id: ApprovalId,
    /// Who clicked: the Slack user id.
    pub user: String,
    /// Their user name, as Slack sent it (checked: letters, digits, `._-`).
    pub name: String,
    /// The channel of the message.
    pub channel: String,
    /// The message's `ts`.
    pub message_ts: String,
    /// Where to answer the clicker privately.
    pub response_url: Option<String>,
}

/// The handler of Slack's interactions for one Slack app.
#[derive(Debug, Clone)]
pub struct SlackInteractions {
    signing_secret: Secret,
    remediator: Arc<Remediator>,
    slack: Slack,
    approvers: Vec<String>,
}

impl SlackInteractions {
    /// A handler verifying with `signing_secret`, deciding with `remediator` (which must enforce
    /// to approve) and answering through `slack` (the channel's notifier: its token updates the
    /// message). Nobody may decide until [`SlackInteractions::with_approvers`] names who.
    pub fn new(signing_secret: Secret, remediator: Arc<Remediator>, slack: Slack) -> Self {
        Self {
            signing_secret,
            remediator,
            slack,
            approvers: Vec::new(),
        }
    }

    /// Who may decide: Slack user ids (`U…`, `W…`) and user group ids (`S…`).
    pub fn with_approvers(
        mut self,
        approvers: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.approvers = approvers.into_iter().map(Into::into).collect();
        self
    }

    /// Verifies one request (`header` reads its headers by lower-case name) at `now` (seconds
    /// since the Unix epoch): the answer to give at once and, for a verified click on a
    /// decision button, the click to carry out after answering.
    pub fn accept<'h>(
        &self,
        header: impl Fn(&str) -> Option<&'h str>,
        body: &[u8],
        now: u64,
    ) -> (Reply, Option<Click>) {
        if body.len() > MAX_BODY {
            return (Reply::refused("request too large"), None);
        }
        if let Err(why) = verify(
            &self.signing_secret,
            header("x-slack-request-timestamp"),
            header("x-slack-signature"),
            body,
            now,
        ) {
            tracing::warn!("slack interaction refused: {why}");
            return (Reply::refused(why), None);
        }
        match click(body) {
            Some(click) => (Reply::ok(), Some(click)),
            // A verified request that is not a decision (another block action): nothing to do.
            None => (Reply::ok(), None),
        }
    }

    /// Carries out a verified click: checks the clicker is an approver, decides once, updates
    /// the message. What came of it, for the log and tests.
    pub async fn carry_out(&self, click: &Click) -> String {
        let by = format!(
            "{}{} ({})",
            crate::remediate::SLACK_DECIDER,
            click.user,
            click.name
        );
        if !self.is_approver(&click.user).await {
            let why = format!("{by} is not an approver (`[approval] approvers`)");
            if let Err(e) = self.remediator.record_refused(&click.id, &by, &why).await {
                tracing::error!("the refused decision was not audited: {e}");
            }
            self.tell(
                click,
                &format!(
                    "You cannot decide request {}: you are not an approver.",
                    click.id
                ),
            )
            .await;
            return why;
        }
        let note = format!(
            "via Slack, channel {}, message {}",
            click.channel, click.message_ts
        );
        let decided = if click.approve {
            self.remediator.approve(&click.id, &by, Some(&note)).await
        } else {
            self.remediator.deny(&click.id, &by, Some(&note)).await
        };
        let said = match decided {
            Ok(report) => {
                let outcome = report
                    .actions
                    .first()
                    .map_or_else(|| "no action record".to_owned(), |r| r.outcome.to_string());
                format!(
                    "Request {} {} by {by} at {}: {outcome}",
                    click.id,
                    if click.approve { "approved" } else { "denied" },
                    crate::clock::now_rfc3339()
                )
            }
            Err(e) => {
                let why = format!("Nothing changed for request {}: {e}", click.id);
                self.tell(click, &why).await;
                return why;
            }
        };
        if let Err(e) = self
            .slack
            .update(&click.channel, &click.message_ts, &said)
            .await
        {
            tracing::error!("the decided message was not updated: {e}");
        }
        said
    }

    /// Verifies and carries out one request before answering (the Lambda form: the function may
    /// not run after it answers).
    pub async fn handle<'h>(
        &self,
        header: impl Fn(&str) -> Option<&'h str>,
        body: &[u8],
        now: u64,
    ) -> Reply {
        let (reply, click) = self.accept(header, body, now);
        if let Some(click) = click {
            let said = self.carry_out(&click).await;
            tracing::info!("{said}");
        }
        reply
    }

    async fn is_approver(&self, user: &str) -> bool {
        if self.approvers.iter().any(|a| a == user) {
            return true;
        }
        for group in self.approvers.iter().filter(|a| a.starts_with('S')) {
            match self.slack.group_members(group).await {
                Ok(members) if members.iter().any(|m| m == user) => return true,
                Ok(_) => {}
                Err(e) => tracing::error!("cannot read user group `{group}`: {e}"),
            }
        }
        false
    }

    /// Answers the clicker privately, through the interaction's `response_url` when it is
    /// Slack's (or the configured API's host, for tests).
    async fn tell(&self, click: &Click, text: &str) {
        let Some(url) = &click.response_url else {
            return;
        };
        let api_host = self.slack.api_url().trim_end_matches("/api");
        let slack_own =
            url.starts_with("https://hooks.slack.com/") || url.starts_with(&format!("{api_host}/"));
        if !slack_own {
            tracing::warn!("a response_url that is not Slack's was ignored");
            return;
        }
        if let Err(e) = self.slack.ephemeral(url, text).await {
            tracing::error!("{e}");
        }
    }
}

/// Checks Slack's signature of `body`: `v0=` and the hex HMAC-SHA256 of `v0:TIMESTAMP:BODY`,
/// compared in constant time, with a timestamp within [`MAX_SKEW`] of `now`.
pub fn verify(
    secret: &Secret,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: u64,
) -> Result<(), &'static str> {
    let timestamp = timestamp.ok_or("missing timestamp")?;
    let signature = signature.ok_or("missing signature")?;
    let at: u64 = timestamp.trim().parse().map_err(|_| "bad timestamp")?;
    if at.abs_diff(now) > MAX_SKEW {
        return Err("stale timestamp");
    }
    let hex = signature.strip_prefix("v0=").ok_or("bad signature")?;
    let expected = unhex(hex).ok_or("bad signature")?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| "bad signing secret")?;
    mac.update(b"v0:");
    mac.update(timestamp.trim().as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| "bad signature")
}

/// `v0=` and the signature of `body` at `timestamp` (for tests and doubles).
pub fn sign(secret: &Secret, timestamp: u64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("v0={hex}")
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The click in a form-encoded interaction body (`payload=…`), when it is a decision button.
fn click(body: &[u8]) -> Option<Click> {
    let text = std::str::from_utf8(body).ok()?;
    let encoded = text
        .split('&')
        .find_map(|pair| pair.strip_prefix("payload="))?;
    let spaced = encoded.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()?
        .into_owned();
    let payload: Value = serde_json::from_str(&decoded).ok()?;
    if payload.get("type")?.as_str()? != "block_actions" {
        return None;
    }
    let action = payload.get("actions")?.as_array()?.first()?;
    let approve = match action.get("action_id")?.as_str()? {
        APPROVE => true,
        DENY => false,
        _ => return None,
    };
    let id = ApprovalId::new(action.get("value")?.as_str()?).ok()?;
    let user = payload.get("user")?;
    let user_id = plain(user.get("id")?.as_str()?, 32)?;
    let name = user
        .get("username")
        .or_else(|| user.get("name"))
        .and_then(Value::as_str)
        .and_then(|n| plain(n, 64))
        .unwrap_or_else(|| "unknown".to_owned());
    let container = payload.get("container")?;
    let channel = container
        .get("channel_id")
        .or_else(|| payload.get("channel")?.get("id"))?
        .as_str()
        .and_then(|c| plain(c, 32))?;
    let message_ts = plain(container.get("message_ts")?.as_str()?, 32)?;
    let response_url = payload
        .get("response_url")
        .and_then(Value::as_str)
        .filter(|u| u.len() <= 512 && !u.chars().any(char::is_whitespace))
        .map(str::to_owned);
    Some(Click {
        approve,
        id,
        user: user_id,
        name,
        channel,
        message_ts,
        response_url,
    })
}

/// `text` when it is 1 to `max` characters of letters, digits and `._-`.
fn plain(text: &str, max: usize) -> Option<String> {
    let ok = !text.is_empty()
        && text.len() <= max
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    ok.then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_in_time_and_content() {
        let secret = Secret::new("8f742231b10e8888abcd99yyyzzz85a5");
        let body = b"payload=%7B%7D";
        let now = 1_700_000_000;
        let good = sign(&secret, now, body);
        let at = now.to_string();
        assert_eq!(verify(&secret, Some(&at), Some(&good), body, now), Ok(()));
        assert_eq!(
            verify(&secret, Some(&at), Some(&good), body, now + 301),
            Err("stale timestamp")
        );
        assert_eq!(
            verify(&secret, Some(&at), Some(&good), b"payload=x", now),
            Err("bad signature")
        );
        assert_eq!(
            verify(&secret, None, Some(&good), body, now),
            Err("missing timestamp")
        );
        assert_eq!(
            verify(&secret, Some(&at), None, body, now),
            Err("missing signature")
        );
        let other = sign(&Secret::new("another-secret-of-the-same-length"), now, body);
        assert_eq!(
            verify(&secret, Some(&at), Some(&other), body, now),
            Err("bad signature")
        );
    }
}
