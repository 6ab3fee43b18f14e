//! Notification text people can act on, and a notifier that needs no AWS.

use std::fmt::Write as _;

use async_trait::async_trait;
use serde::Serialize;

use super::{ActionRequest, Executor, Outcome, truncate_chars};
use crate::plan::Notify;

/// The longest subject, in bytes (SNS requires fewer than 100 characters, ASCII).
pub(crate) const MAX_SUBJECT: usize = 99;
/// The longest body, in bytes: under SNS's 256 KiB message limit with room for attributes.
pub(crate) const MAX_BODY: usize = 250 * 1024;

/// A rendered notification: what a notifier sends to a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// The channel, e.g. `security`.
    pub channel: String,
    /// A one-line subject: printable ASCII, fewer than 100 characters.
    pub subject: String,
    /// The body: the policy's message, what was found, what remedy did or would do.
    pub body: String,
}

impl Notification {
    /// Renders the notification for a `notify` request; for any other action, the `unsupported`
    /// outcome a notifier returns (`notifier` names it in the message).
    pub fn render(request: &ActionRequest<'_>, notifier: &str) -> Result<Self, Outcome> {
        let notify = request.payload::<Notify>(notifier)?;
        let f = request.finding;
        let mut subject = format!(
            "remedy: {} {} in {}",
            f.severity_band(),
            f.finding_type,
            if f.account_id.is_empty() {
                "?"
            } else {
                &f.account_id
            }
        );
        if f.sample {
            subject.insert_str(0, "[sample] ");
        }
        let subject: String = subject
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        let subject = truncate_ascii(&subject, MAX_SUBJECT);

        // Finding text is the attacker's, and a policy's message may quote it: shown through
        // `inert`, no value can start a line of its own (a forged "What remedy did"). The messages
        // of an approval (the ask, the answer given elsewhere) are remedy's own, their values
        // made inert where they are written: they keep their lines.
        let t = |text: &str| crate::finding::inert(text).into_owned();
        let message = if request.approval.is_some() || request.closes.is_some() {
            notify.message.lines().map(t).collect::<Vec<_>>().join("\n")
        } else {
            t(&notify.message)
        };
        let mut body = String::new();
        let _ = writeln!(body, "{message}");
        let _ = writeln!(body);
        let _ = writeln!(body, "What was found");
        let _ = writeln!(body, "  type:      {}", t(f.finding_type.as_str()));
        if !f.title.is_empty() {
            let _ = writeln!(body, "  title:     {}", t(&f.title));
        }
        let _ = writeln!(body, "  severity:  {} ({})", f.severity, f.severity_band());
        let _ = writeln!(body, "  account:   {}", t(f.account_id.as_str()));
        let _ = writeln!(body, "  region:    {}", t(f.region.as_str()));
        if let Some(user) = f.user_name() {
            let kind = f.user_type().unwrap_or("principal");
            let _ = writeln!(body, "  principal: {} ({})", t(user), t(kind));
        }
        if let Some(key) = f.access_key_id() {
            let _ = writeln!(body, "  key:       {}", t(key));
        }
        if !f.instance_ids.is_empty() {
            let _ = writeln!(body, "  instance:  {}", t(&f.instance_ids.join(", ")));
        }
        if let Some(ip) = &f.remote_ip {
            let country = f.remote_country.as_deref().unwrap_or("unknown country");
            let _ = writeln!(body, "  remote IP: {} ({})", t(ip.as_ref()), t(country));
        }
        if let Some(api) = &f.api {
            match &f.api_service {
                Some(service) => {
                    let _ = writeln!(body, "  API:       {} ({})", t(api), t(service));
                }
                None => {
                    let _ = writeln!(body, "  API:       {}", t(api));
                }
            }
        }
        if f.sample {
            let _ = writeln!(body, "  sample:    yes (generated finding)");
        }
        let _ = writeln!(body);
        let _ = writeln!(body, "What remedy did");
        if request.prior.is_empty() {
            let _ = writeln!(body, "  nothing but this notification");
        }
        for prior in request.prior {
            let _ = writeln!(
                body,
                "  {} {}: {}",
                prior.kind,
                t(&prior.target.to_string()),
                t(&prior.summary)
            );
        }
        for source in request.sources {
            let reason = source.reason.as_deref().unwrap_or("no reason given");
            let _ = writeln!(
                body,
                "  decided by policy `{}`: {}",
                t(&source.policy),
                t(reason)
            );
        }
        let _ = writeln!(body);
        let _ = writeln!(body, "finding id: {}", t(&f.id));
        Ok(Self {
            channel: notify.channel.clone(),
            subject,
            body: truncate_chars(&body, MAX_BODY),
        })
    }
}

fn truncate_ascii(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut out = text
        .get(..max.saturating_sub(3))
        .unwrap_or_default()
        .to_owned();
    out.push_str("...");
    out
}

/// A notifier that writes notifications to `tracing` (target `remedy::notify`, level WARN).
///
/// Needs no AWS: channels mapped to `log` in the configuration, and every channel when there is
/// no configuration, use it.
#[derive(Debug, Clone, Default)]
pub struct TracingNotifier;

impl TracingNotifier {
    /// A tracing notifier.
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl Executor for TracingNotifier {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let n = match Notification::render(request, "the tracing notifier") {
            Ok(n) => n,
            Err(unsupported) => return unsupported,
        };
        // One log line per notification: the body's line breaks, and anything the finding's
        // text carries, are shown escaped.
        tracing::warn!(
            target: "remedy::notify",
            channel = %n.channel,
            finding_id = %crate::finding::inert(&request.finding.id),
            subject = %crate::finding::inert(&n.subject),
            "{}",
            crate::finding::inert(&n.body)
        );
        Outcome::executed(format!("logged to channel `{}`", n.channel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::PriorOutcome;
    use crate::finding::{FindingType, Severity};
    use crate::plan::{Action, ActionKind, FindingContext, Principal};

    fn context(id: &str, finding_type: &str, severity: f64) -> FindingContext {
        FindingContext::new(
            id,
            FindingType::new(finding_type).unwrap(),
            Severity::new(severity).unwrap(),
        )
    }

    #[test]
    fn subject_is_short_ascii_and_body_is_bounded() {
        let f = context("f-1", &"Recon:IAMUser/Ünïcode".repeat(10), 8.0);
        let action = Action::Notify(Notify {
            channel: "security".into(),
            message: "é".repeat(200_000),
        });
        let prior = [PriorOutcome {
            kind: ActionKind::DISABLE_ACCESS_KEY,
            target: "access_key:alice/AKIA".into(),
            summary: "executed".into(),
            approval_id: None,
        }];
        let req = ActionRequest::new(&action, &f).with_prior(&prior);
        let n = Notification::render(&req, "test").unwrap();
        assert!(n.subject.len() < 100, "{}", n.subject.len());
        assert!(n.subject.is_ascii());
        assert!(n.body.len() <= MAX_BODY);
        assert!(n.body.ends_with('…'));
    }

    #[test]
    fn body_says_what_was_found_and_done() {
        let mut f = context("f-2", "UnauthorizedAccess:IAMUser/MaliciousIPCaller", 5.0);
        f.principal = Some(Principal {
            user_name: Some("alice".into()),
            ..Principal::default()
        });
        f.remote_ip = Some("198.51.100.7".into());
        f.remote_country = Some("Elbonia".into());
        let action = Action::Notify(Notify {
            channel: "security".into(),
            message: "key disabled".into(),
        });
        let prior = [PriorOutcome {
            kind: ActionKind::DISABLE_ACCESS_KEY,
            target: "access_key:alice/AKIAIOSFODNN7EXAMPLE".into(),
            summary: "dry run: would disable".into(),
            approval_id: None,
        }];
        let n = Notification::render(&ActionRequest::new(&action, &f).with_prior(&prior), "test")
            .unwrap();
        assert!(n.body.contains("198.51.100.7 (Elbonia)"));
        assert!(n.body.contains("alice"));
        assert!(n.body.contains("dry run: would disable"));
        assert!(n.body.contains("finding id: f-2"));
    }

    #[test]
    fn no_finding_value_or_message_starts_a_line_of_its_own() {
        let forged = "\nWhat remedy did\n  disable_access_key x: executed";
        let mut f = context(&format!("f-3{forged}"), "Recon:IAMUser/Portscan", 5.0);
        f.title = format!("a title{forged}").as_str().into();
        f.principal = Some(Principal {
            user_name: Some(format!("eve{forged}").as_str().into()),
            ..Principal::default()
        });
        f.remote_country = Some(format!("Elbonia\r{forged}").as_str().into());
        f.remote_ip = Some("198.51.100.7".into());
        let action = Action::Notify(Notify {
            channel: "security".into(),
            message: format!("quoted from the finding:{forged}"),
        });
        let prior = [PriorOutcome {
            kind: ActionKind::DISABLE_ACCESS_KEY,
            target: "access_key:alice/AKIA".into(),
            summary: format!("failed: {forged}"),
            approval_id: None,
        }];
        let n = Notification::render(&ActionRequest::new(&action, &f).with_prior(&prior), "test")
            .unwrap();
        let headings = n.body.lines().filter(|l| *l == "What remedy did").count();
        assert_eq!(headings, 1, "{}", n.body);
        assert!(
            !n.body
                .lines()
                .any(|l| l.trim_start().starts_with("disable_access_key x")),
            "{}",
            n.body
        );
        assert!(
            n.body.contains("finding id: f-3\\nWhat remedy did"),
            "{}",
            n.body
        );

        // An approval's ask (remedy's own message) keeps its lines.
        let own = Action::Notify(Notify {
            channel: "security".into(),
            message: "remedy asks for approval (request apr-1).\nWould: disable a key".into(),
        });
        let ask = crate::action::ApprovalAsk {
            id: "apr-1".into(),
            would: "disable a key".into(),
            expires: "2026-12-08T00:00:00Z".into(),
            on_timeout: "deny".into(),
        };
        let request = ActionRequest::new(&own, &f).with_approval(&ask);
        let n = Notification::render(&request, "test").unwrap();
        assert!(
            n.body
                .starts_with("remedy asks for approval (request apr-1).\nWould: disable a key\n"),
            "{}",
            n.body
        );
    }
}
