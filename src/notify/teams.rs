//! Microsoft Teams: an Adaptive Card posted to a Workflows webhook.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::escape;
use super::http::{CallError, Http};
use super::message::Message;
use crate::action::{ActionError, ActionRequest, ErrorKind, Executor, Outcome};
use crate::config::Secret;

/// Posts notifications to a Teams channel through a Workflows webhook (the Office 365
/// connectors are retired): one Adaptive Card per message.
///
/// The webhook URL is a secret (whoever holds it can post) and never appears in an outcome or a
/// log. Throttling, which Workflows signals as a 429 or as a 200 whose body says 429, fails
/// saying nothing was posted, so a [`crate::action::Retry`] posts once after the wait. Workflows
/// webhooks cannot reply in a thread: each message is a card of its own, its title saying how
/// many times the finding was seen.
#[derive(Debug, Clone)]
pub struct Teams {
    webhook: Secret,
    timeout: Duration,
    http: Http,
}

impl Teams {
    /// A notifier posting to the Workflows webhook `url`.
    pub fn new(url: Secret) -> Self {
        Self {
            webhook: url,
            timeout: Duration::from_secs(10),
            http: Http::default(),
        }
    }

    /// How long one call may take before its result counts as unknown (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The Adaptive Card message of `message`: text blocks and a fact set, values escaped for the
/// card's Markdown.
pub fn card(message: &Message) -> Value {
    let md = |t: &str, max: usize| escape::markdown(&escape::value(t, max));
    let mut facts = vec![
        json!({"title": "Severity", "value": format!("{} ({})", message.band, message.severity)}),
        json!({"title": "Type", "value": md(&message.finding_type, 200)}),
        json!({"title": "Account", "value": md(&message.account, 100)}),
        json!({"title": "Region", "value": md(&message.region, 100)}),
    ];
    for (label, value) in &message.facts {
        facts.push(json!({"title": label, "value": md(value, 300)}));
    }
    if let Some(n) = message.count {
        facts.push(json!({"title": "Seen", "value": format!("{n} times")}));
    }
    let mut did: Vec<String> = message.done.iter().map(|d| md(d, 500)).collect();
    if did.is_empty() {
        did.push("nothing but this notification".to_owned());
    }
    did.extend(
        message
            .why
            .iter()
            .map(|w| format!("decided by {}", md(w, 500))),
    );
    for (approve, deny) in &message.decide {
        did.push(format!("approve: {}", md(approve, 200)));
        did.push(format!("deny: {}", md(deny, 200)));
    }
    let body = vec![
        json!({"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true,
               "text": md(&message.summary(), 200)}),
        json!({"type": "TextBlock", "wrap": true, "text": md(&message.text, 2000)}),
        json!({"type": "FactSet", "facts": facts}),
        json!({"type": "TextBlock", "wrap": true, "text": did.join("\n\n")}),
        json!({"type": "TextBlock", "wrap": true, "isSubtle": true,
               "text": format!("finding {}", md(&message.finding_id, 200))}),
    ];
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if let (Some(url), Some(map)) = (&message.console_url, card.as_object_mut()) {
        map.insert(
            "actions".to_owned(),
            json!([{"type": "Action.OpenUrl", "title": "Open in GuardDuty", "url": url}]),
        );
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": card,
        }]
    })
}

#[async_trait]
impl Executor for Teams {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let message = match Message::from_request(request, "the Teams notifier") {
            Ok(m) => m,
            Err(unsupported) => return unsupported,
        };
        let body = card(&message).to_string().into_bytes();
        let answer = match self
            .http
            .post_json(self.webhook.expose(), &[], body, self.timeout)
            .await
        {
            Ok(answer) => answer,
            // The errors of the client never hold the URL; say so plainly anyway.
            Err(CallError::NotSent(why)) => {
                return Outcome::Failed(
                    ActionError::new(
                        ErrorKind::Unavailable,
                        format!("teams webhook: {}", without_url(&why)),
                    )
                    .with_nothing_done(None),
                );
            }
            Err(CallError::Unknown(why)) => {
                return Outcome::Failed(
                    ActionError::new(
                        ErrorKind::Timeout,
                        format!("teams webhook: {}", without_url(&why)),
                    )
                    .with_retryable(false),
                );
            }
        };
        let text = String::from_utf8_lossy(&answer.body);
        let throttled = answer.status == 429 || (answer.status == 200 && text.contains("429"));
        if throttled {
            let after = answer.retry_after.unwrap_or(Duration::from_secs(5));
            return Outcome::Failed(
                ActionError::new(
                    ErrorKind::Throttled,
                    format!(
                        "teams throttled the post (retry after {} s); nothing was posted",
                        after.as_secs()
                    ),
                )
                .with_nothing_done(Some(after)),
            );
        }
        match answer.status {
            200..=299 => Outcome::executed(format!(
                "posted a card to the teams webhook for channel `{}`",
                message.channel
            )),
            400..=499 => Outcome::failed(
                ErrorKind::InvalidInput,
                format!("the teams webhook refused the card: HTTP {}", answer.status),
            ),
            status => Outcome::Failed(
                ActionError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "the teams webhook answered HTTP {status}; whether the card was posted is unknown"
                    ),
                )
                .with_retryable(false),
            ),
        }
    }
}

/// `text` with anything that looks like a URL cut out (the webhook URL is a secret).
fn without_url(text: &str) -> String {
    text.split(' ')
        .map(|w| if w.contains("://") { "<url>" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}
