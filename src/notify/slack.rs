//! Slack: `chat.postMessage` with Block Kit blocks and a plain-text fallback, one thread per
//! finding.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::escape;
use super::http::{CallError, Http};
use super::message::Message;
use crate::action::{
    ActionError, ActionRequest, ApprovalAsk, ApprovalClosed, ErrorKind, Executor, Outcome,
};
use crate::config::{SLACK_API, Secret};
use crate::store::thread::{MemoryThreads, ThreadKey, ThreadStore};

/// Posts notifications to one Slack channel with a bot token (`chat:write`).
///
/// The first message about a finding is the parent of its thread; every later one (a later
/// occurrence, an outcome, an approval) replies in that thread (`thread_ts`), the parent's `ts`
/// kept in a [`ThreadStore`] so another process replies in the same thread. At most one message
/// per second leaves for the channel (later ones wait their turn, none is dropped). A 429 or
/// `ratelimited` fails saying nothing was posted and how long Slack asked to wait, so a
/// [`crate::action::Retry`] around it posts once after that wait; a call whose result is unknown
/// (no answer in time, a broken connection) fails with that reason and is not sent again.
///
/// Finding text is inert: it is defanged and sent in `plain_text` objects (and escaped in the
/// `text` fallback), so it cannot mention anyone, link anywhere or add a block. The token is
/// never in an outcome, a log line or an error.
#[derive(Debug, Clone)]
pub struct Slack {
    channel: String,
    token: Secret,
    api_url: String,
    timeout: Duration,
    interval: Duration,
    threads: Arc<dyn ThreadStore>,
    http: Http,
    last: Arc<tokio::sync::Mutex<Option<Instant>>>,
}

impl Slack {
    /// A notifier posting to `channel` (an id such as `C0123456789`, or a name) with `token`,
    /// through `https://slack.com/api`, threads kept in memory.
    pub fn new(channel: impl Into<String>, token: Secret) -> Self {
        Self {
            channel: channel.into(),
            token,
            api_url: SLACK_API.to_owned(),
            timeout: Duration::from_secs(10),
            interval: Duration::from_secs(1),
            threads: Arc::new(MemoryThreads::new()),
            http: Http::default(),
            last: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// Another Web API base URL (Enterprise Grid, GovSlack, a test double).
    pub fn with_api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Where the threads' parents are kept (the ledger's directory, the `[state]` table).
    pub fn with_threads(mut self, threads: Arc<dyn ThreadStore>) -> Self {
        self.threads = threads;
        self
    }

    /// How long one call may take before its result counts as unknown (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The least time between two messages to the channel (default 1 s, Slack's limit).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The thread of `finding_id` on this channel.
    fn thread(&self, finding_id: &str) -> ThreadKey {
        ThreadKey::new(format!("slack:{}", self.channel), finding_id)
    }

    /// Where the ask of approval request `id` on this channel is kept (`CHANNEL_ID/TS`).
    fn ask(&self, id: &str) -> ThreadKey {
        ThreadKey::new(format!("slack-ask:{}", self.channel), id)
    }

    /// Replaces the ask of the request `closed` closed (its buttons gone) with what became of
    /// it; a note when that did not happen for a reason other than there being no ask here.
    async fn replace_ask(&self, closed: &ApprovalClosed) -> Option<String> {
        let at = match self.threads.parent(&self.ask(&closed.id)).await {
            Ok(Some(at)) => at,
            Ok(None) => return None,
            Err(e) => return Some(format!("the ask was not replaced: {e}")),
        };
        let Some((channel, ts)) = at.split_once('/') else {
            return Some(format!(
                "the ask was not replaced: its place `{at}` is unreadable"
            ));
        };
        match self.update(channel, ts, &closed.said).await {
            Ok(()) => Some(format!(
                "the ask (message {ts}) replaced: its buttons are gone"
            )),
            Err(e) => Some(format!("the ask was not replaced: {e}")),
        }
    }

    /// POSTs `body` to `chat.postMessage`, one message per interval.
    async fn post(&self, body: &Value) -> Result<super::http::Answer, CallError> {
        let mut last = self.last.lock().await;
        if let Some(at) = *last {
            let wait = self.interval.saturating_sub(at.elapsed());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        let auth = format!("Bearer {}", self.token.expose());
        let url = format!("{}/chat.postMessage", self.api_url);
        let answer = self
            .http
            .post_json(
                &url,
                &[("authorization", &auth)],
                body.to_string().into_bytes(),
                self.timeout,
            )
            .await;
        *last = Some(Instant::now());
        answer
    }
}

impl Slack {
    /// Calls Web API `method` with `body`: the answer's JSON when Slack says `ok`, else why not
    /// (the token is never in it).
    async fn call(&self, method: &str, body: &Value) -> Result<Value, String> {
        let auth = format!("Bearer {}", self.token.expose());
        let url = format!("{}/{method}", self.api_url);
        let answer = self
            .http
            .post_json(
                &url,
                &[("authorization", &auth)],
                body.to_string().into_bytes(),
                self.timeout,
            )
            .await
            .map_err(|e| match e {
                CallError::NotSent(why) | CallError::Unknown(why) => {
                    format!("slack {method}: {why}")
                }
            })?;
        let reply: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if answer.status == 200 && reply.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(reply);
        }
        let code: String = reply
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        Err(format!(
            "slack {method} failed: HTTP {} `{code}`",
            answer.status
        ))
    }

    /// Replaces message `ts` of channel `channel` (`chat.update`) with `text`, one section.
    pub async fn update(&self, channel: &str, ts: &str, text: &str) -> Result<(), String> {
        let text = escape::slack_plain(&escape::value(text, 2900));
        let body = json!({
            "channel": channel,
            "ts": ts,
            "text": escape::slack(&text),
            "blocks": [{"type": "section", "text": {"type": "plain_text", "text": text, "emoji": false}}],
        });
        self.call("chat.update", &body).await.map(|_| ())
    }

    /// The members of Slack user group `group` (`usergroups.users.list`, scope
    /// `usergroups:read`).
    pub async fn group_members(&self, group: &str) -> Result<Vec<String>, String> {
        let reply = self
            .call("usergroups.users.list", &json!({"usergroup": group}))
            .await?;
        Ok(reply
            .get("users")
            .and_then(Value::as_array)
            .map(|users| {
                users
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Answers the person who clicked, visible to them only, through the interaction's
    /// `response_url` (which the caller checked is Slack's).
    pub async fn ephemeral(&self, response_url: &str, text: &str) -> Result<(), String> {
        let body = json!({
            "response_type": "ephemeral",
            "replace_original": false,
            "text": escape::slack(&escape::value(text, 2900)),
        });
        self.http
            .post_json(
                response_url,
                &[],
                body.to_string().into_bytes(),
                self.timeout,
            )
            .await
            .map(|_| ())
            .map_err(|e| match e {
                CallError::NotSent(why) | CallError::Unknown(why) => {
                    format!("slack response_url: {why}")
                }
            })
    }

    /// The Web API's base URL.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }
}

/// The Block Kit blocks of `message`: a header, the facts, the policy's message, what remedy did
/// and the context line. Values are `plain_text`; only remedy's own labels are `mrkdwn`.
pub fn blocks(message: &Message) -> Value {
    let plain = |t: &str, max: usize| json!({"type": "plain_text", "text": escape::slack_plain(&escape::value(t, max)), "emoji": false});
    let mut fields = vec![
        json!({"type": "mrkdwn", "text": "*Severity*"}),
        plain(&format!("{} ({})", message.band, message.severity), 100),
        json!({"type": "mrkdwn", "text": "*Account / region*"}),
        plain(&format!("{} / {}", message.account, message.region), 100),
    ];
    for (label, value) in message.facts.iter().take(3) {
        fields.push(json!({"type": "mrkdwn", "text": format!("*{}*", escape::slack(label))}));
        fields.push(plain(value, 300));
    }
    let mut did: Vec<String> = message.done.clone();
    if did.is_empty() {
        did.push("nothing but this notification".to_owned());
    }
    did.extend(message.why.iter().map(|w| format!("decided by {w}")));
    for (approve, deny) in &message.decide {
        did.push(format!("approve: {approve}"));
        did.push(format!("deny: {deny}"));
    }
    let mut context = format!("finding {}", message.finding_id);
    if let Some(n) = message.count {
        context.push_str(&format!(" · seen {n} times"));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": plain(&message.title, 150)}),
        json!({"type": "section", "fields": fields}),
        json!({"type": "section", "text": plain(&message.text, 2900)}),
        json!({"type": "section", "text": lines(&did, 2900)}),
    ];
    let mut elements = vec![plain(&context, 300)];
    if let Some(url) = &message.console_url {
        let url = url.replace('&', "&amp;");
        elements.push(json!({"type": "mrkdwn", "text": format!("<{url}|Open in GuardDuty>")}));
    }
    blocks.push(json!({"type": "context", "elements": elements}));
    if let Some(ask) = &message.approval {
        blocks.push(buttons(ask));
    }
    Value::Array(blocks)
}

/// The `action_id` of the Approve button; the button's `value` is the request's id.
pub const APPROVE: &str = "remedy_approve";
/// The `action_id` of the Deny button.
pub const DENY: &str = "remedy_deny";

/// The Approve and Deny buttons of a request (Approve asks for a confirmation).
fn buttons(ask: &ApprovalAsk) -> Value {
    let id = escape::slack_plain(&escape::value(&ask.id, 100));
    let would = escape::slack_plain(&escape::value(&ask.would, 250));
    json!({
        "type": "actions",
        "block_id": "remedy_decision",
        "elements": [
            {
                "type": "button",
                "action_id": APPROVE,
                "style": "primary",
                "value": ask.id,
                "text": {"type": "plain_text", "text": "Approve", "emoji": false},
                "confirm": {
                    "title": {"type": "plain_text", "text": "Approve this action?"},
                    "text": {"type": "plain_text", "text": format!("{would} (request {id}); every guard runs again first")},
                    "confirm": {"type": "plain_text", "text": "Approve"},
                    "deny": {"type": "plain_text", "text": "Cancel"}
                }
            },
            {
                "type": "button",
                "action_id": DENY,
                "style": "danger",
                "value": ask.id,
                "text": {"type": "plain_text", "text": "Deny", "emoji": false}
            }
        ]
    })
}

/// A `plain_text` object of several lines, each made inert on its own (line breaks kept).
fn lines(lines: &[String], max: usize) -> Value {
    let each = max / lines.len().max(1);
    let text: Vec<String> = lines
        .iter()
        .map(|l| escape::slack_plain(&escape::value(l, each.max(40))))
        .collect();
    json!({"type": "plain_text", "text": text.join("\n"), "emoji": false})
}

/// The `text` fallback (notifications, screen readers): the summary, escaped for `mrkdwn`.
pub fn fallback(message: &Message) -> String {
    escape::slack(&escape::value(&message.summary(), 300))
}

#[async_trait]
impl Executor for Slack {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let message = match Message::from_request(request, "the Slack notifier") {
            Ok(m) => m,
            Err(unsupported) => return unsupported,
        };
        let key = self.thread(&message.finding_id);
        let (parent, mut notes) = match self.threads.parent(&key).await {
            Ok(parent) => (parent, Vec::new()),
            Err(e) => (None, vec![format!("posted as a new thread: {e}")]),
        };
        let mut body = json!({
            "channel": self.channel,
            "text": fallback(&message),
            "blocks": blocks(&message),
            "unfurl_links": false,
            "unfurl_media": false,
            "link_names": false,
        });
        if let (Some(parent), Some(map)) = (&parent, body.as_object_mut()) {
            map.insert("thread_ts".to_owned(), Value::String(parent.clone()));
        }
        let answer = match self.post(&body).await {
            Ok(answer) => answer,
            Err(CallError::NotSent(why)) => {
                return Outcome::Failed(
                    ActionError::new(ErrorKind::Unavailable, format!("slack: {why}"))
                        .with_nothing_done(None),
                );
            }
            Err(CallError::Unknown(why)) => {
                return Outcome::Failed(
                    ActionError::new(ErrorKind::Timeout, format!("slack: {why}"))
                        .with_retryable(false),
                );
            }
        };
        let reply: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let error = reply.get("error").and_then(Value::as_str).unwrap_or("");
        if answer.status == 429 || error == "ratelimited" {
            let after = answer.retry_after.unwrap_or(Duration::from_secs(1));
            return Outcome::Failed(
                ActionError::new(
                    ErrorKind::Throttled,
                    format!(
                        "slack rate limited the post (retry after {} s); nothing was posted",
                        after.as_secs()
                    ),
                )
                .with_nothing_done(Some(after)),
            );
        }
        if answer.status != 200 {
            return Outcome::Failed(
                ActionError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "slack answered HTTP {}; whether the message was posted is unknown",
                        answer.status
                    ),
                )
                .with_retryable(false),
            );
        }
        if reply.get("ok").and_then(Value::as_bool) != Some(true) {
            let code: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            let kind = match code.as_str() {
                "invalid_auth" | "not_authed" | "account_inactive" | "token_revoked"
                | "token_expired" | "missing_scope" | "no_permission" => {
                    ErrorKind::PermissionDenied
                }
                "channel_not_found" | "not_in_channel" | "is_archived" => ErrorKind::NotFound,
                _ => ErrorKind::InvalidInput,
            };
            return Outcome::failed(kind, format!("slack refused the post: `{code}`"));
        }
        let ts = reply
            .get("ts")
            .and_then(Value::as_str)
            .filter(|ts| {
                !ts.is_empty() && ts.len() <= 64 && ts.bytes().all(|b| b.is_ascii_graphic())
            })
            .unwrap_or("")
            .to_owned();
        let place = match &parent {
            Some(parent) => format!("a reply in thread {parent}"),
            None => {
                if !ts.is_empty()
                    && let Err(e) = self.threads.set_parent(&key, &ts).await
                {
                    notes.push(format!("its thread was not kept: {e}"));
                }
                "a new thread".to_owned()
            }
        };
        // Where the ask is, so that an answer given without the channel (a timeout) can replace
        // it; and that replacement.
        if let Some(ask) = request.approval
            && !ts.is_empty()
        {
            let channel_id = reply
                .get("channel")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty() && c.len() <= 64)
                .filter(|c| c.bytes().all(|b| b.is_ascii_alphanumeric()))
                .unwrap_or(&self.channel);
            let at = format!("{channel_id}/{ts}");
            if let Err(e) = self.threads.set_parent(&self.ask(&ask.id), &at).await {
                notes.push(format!("the ask's place was not kept: {e}"));
            }
        }
        if let Some(closed) = request.closes {
            notes.extend(self.replace_ask(closed).await);
        }
        let mut summary = format!(
            "posted to slack channel `{}` for channel `{}` (message {ts}, {place})",
            self.channel, message.channel
        );
        for note in notes {
            summary.push_str("; ");
            summary.push_str(&note);
        }
        Outcome::executed(summary)
    }
}
