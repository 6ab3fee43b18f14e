//! AWS Chatbot's custom notifications (Amazon Q Developer in chat applications): the JSON an
//! SNS topic subscribed by Chatbot must carry for Slack or Teams to show it.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::escape;
use super::message::Message;

/// The most bytes of a published message (SNS's limit is 256 KiB).
const MAX_JSON: usize = 250 * 1024;

/// The thread of a finding: the same value for every message about it, whatever the channel or
/// process (a digest of the finding id, so the id's text is not repeated).
pub fn thread_id(finding_id: &str) -> String {
    let digest = Sha256::digest(finding_id.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("remedy-{hex}")
}

/// The custom-notification JSON of `message`: `version`, `source = "custom"`, `content` (title,
/// description in `client-markdown`, next steps) and `metadata` (`threadId`, `summary`), under
/// SNS's size limit.
pub fn render(message: &Message) -> String {
    let md = |t: &str| escape::markdown(&escape::value(t, escape::MAX_VALUE));
    let mut description = format!("{}\n\n", md(&message.text));
    description.push_str(&format!(
        "*Severity* {} ({})  *Account* {}  *Region* {}\n",
        message.severity,
        message.band,
        md(&message.account),
        md(&message.region)
    ));
    for (label, value) in &message.facts {
        description.push_str(&format!("*{label}* {}\n", md(value)));
    }
    if let Some(n) = message.count {
        description.push_str(&format!("*Seen* {n} times\n"));
    }
    for line in &message.done {
        description.push_str(&format!("• {}\n", md(line)));
    }
    for line in &message.why {
        description.push_str(&format!("• decided by {}\n", md(line)));
    }
    let mut next_steps: Vec<String> = Vec::new();
    for (approve, deny) in &message.decide {
        next_steps.push(format!("Approve: `{approve}`"));
        next_steps.push(format!("Deny: `{deny}`"));
    }
    if let Some(url) = &message.console_url {
        next_steps.push(format!("[Open the finding in GuardDuty]({url})"));
    }
    next_steps.push(format!("Finding id: {}", md(&message.finding_id)));
    let build = |description: &str| {
        json!({
            "version": "1.0",
            "source": "custom",
            "content": {
                "textType": "client-markdown",
                "title": escape::value(&message.title, 250),
                "description": description,
                "nextSteps": next_steps,
            },
            "metadata": {
                "threadId": thread_id(&message.finding_id),
                "summary": escape::value(&message.summary(), 250),
            }
        })
        .to_string()
    };
    let mut out = build(&description);
    if out.len() > MAX_JSON {
        let keep = MAX_JSON
            .saturating_sub(out.len() - description.len())
            .saturating_sub(64);
        let cut: String = description.chars().take(keep / 4).collect();
        out = build(&format!("{cut}…"));
    }
    out
}
