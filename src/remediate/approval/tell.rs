//! What the approval channel is told: the ask (with the commands, or the buttons, that decide)
//! and, when nobody decided in time, what the timeout decided and what came of it.
//!
//! Both messages go through the ledger like any notification, so each is sent once per request
//! however often the finding is delivered or `expire` runs.

use std::time::Instant;

use super::super::Remediator;
use super::super::carry::AboutRequest;
use super::super::guard::Trail;
use crate::action::{ApprovalAsk, ApprovalClosed, Outcome};
use crate::config::OnTimeout;
use crate::finding::inert;
use crate::plan::{Action, FindingContext, Notify, PlannedAction};
use crate::store::approval::{ApprovalRequest, Decision, Verdict};
use crate::store::audit::{ActionRecord, Guard};
use crate::store::ledger::LedgerKey;

/// How a decision made in Slack names its decider (`slack:<user id> (<name>)`): the click's own
/// message says how it was decided, so the channel is not told again.
pub(crate) const SLACK_DECIDER: &str = "slack:";

impl Remediator {
    /// Asks the request's channel, once: a redelivered finding asks again only when the earlier
    /// ask did not get through. The record of the ask, unless it was made before.
    pub(super) async fn ask(
        &self,
        request: &ApprovalRequest,
        trail: &mut Trail,
    ) -> Option<ActionRecord> {
        let ask = ApprovalAsk {
            id: request.id.to_string(),
            would: request.action.action.describe(),
            expires: request.expires.clone(),
            on_timeout: request.on_timeout.to_string(),
        };
        let note = format!("asks for approval of request {}", request.id);
        let about = AboutRequest::Ask(&ask);
        let sent = self
            .send_once(request, ask_message(request), note, about)
            .await;
        if sent.is_none() {
            trail.note(Guard::Approval, "the channel was asked before");
        }
        sent
    }

    /// Tells the request's channel who decided it (`decision`, a person's or the timeout's) and
    /// what came of the action (`outcome`): the people who were asked are not left with a
    /// question answered elsewhere. The record of the message, unless it was sent before.
    pub(super) async fn tell_decided(
        &self,
        request: &ApprovalRequest,
        decision: &Decision,
        outcome: Option<&Outcome>,
    ) -> Option<ActionRecord> {
        let note = format!("tells how request {} was decided", request.id);
        let closed = ApprovalClosed {
            id: request.id.to_string(),
            said: closed_ask(request, decision),
        };
        let about = AboutRequest::Closes(&closed);
        let message = decided_message(request, decision, outcome);
        self.send_once(request, message, note, about).await
    }

    /// Sends `message` to the request's channel about its finding, once (the ledger keyed by the
    /// message), saying what `about` says (an ask's buttons, a closed ask replaced): the record
    /// of the attempt, or `None` when the ledger shows it sent before.
    async fn send_once(
        &self,
        request: &ApprovalRequest,
        message: String,
        note: String,
        about: AboutRequest<'_>,
    ) -> Option<ActionRecord> {
        let start = Instant::now();
        let planned = PlannedAction {
            action: Action::Notify(Notify {
                channel: request.channel.clone(),
                message,
            }),
            sources: Vec::new(),
            repeat_on_update: false,
            ask_first: false,
        };
        let finding: &FindingContext = &request.finding;
        let key = LedgerKey::new(finding, &planned);
        let mut trail = Trail::default();
        trail.note(Guard::Approval, note);
        let outcome = match self.claim(&key, finding, &planned, &mut trail).await {
            Ok(_) => {
                let outcome = super::super::carry::execute_isolated(
                    &self.inner.executor,
                    finding,
                    &planned.action,
                    &[],
                    &[],
                    about,
                    Some(key.joined()),
                )
                .await;
                self.finish(&key, &outcome, &mut trail).await;
                outcome
            }
            Err(Outcome::AlreadyDone { .. }) => return None,
            Err(other) => other,
        };
        Some(self.record(finding, &planned.action, Vec::new(), trail, outcome, start))
    }
}

/// What the channel is told: what would be done, why, by which policy, until when, what happens
/// then, and the commands that decide. Finding and policy text is made inert.
fn ask_message(request: &ApprovalRequest) -> String {
    let finding = &request.finding;
    let planned = &request.action;
    let mut text = format!(
        "remedy asks for approval (request {id}).\n\
         Would: {would}\n\
         Finding: {fid} ({ftype}, severity {sev}) in account {account}, region {region}.\n",
        id = request.id,
        would = inert(&planned.action.describe()),
        fid = inert(&finding.id),
        ftype = inert(finding.finding_type.as_str()),
        sev = finding.severity,
        account = inert(finding.account_id.as_str()),
        region = inert(finding.region.as_str()),
    );
    for source in &planned.sources {
        let why = source.reason.as_deref().unwrap_or("no reason given");
        text.push_str(&format!(
            "Chosen by policy `{}` (version {}): {}\n",
            inert(&source.policy),
            source.version,
            inert(why)
        ));
    }
    let then = match request.on_timeout {
        OnTimeout::Deny => "it is denied and not carried out",
        OnTimeout::Approve => "it is approved and carried out, through every guard",
    };
    text.push_str(&format!(
        "Expires at {}; then {then}.\n\
         Approve: remedy approve {id} --by NAME [--note TEXT]\n\
         Deny:    remedy deny {id} --by NAME [--note TEXT]\n\
         (with the same --config as the run that asked)",
        request.expires,
        id = request.id
    ));
    text
}

/// How `decision` reads for people: `denied by its timeout`, `approved by bob at T (note)`.
fn decided(decision: &Decision) -> String {
    let verdict = match decision.verdict {
        Verdict::Approve => "approved",
        Verdict::Deny => "denied",
    };
    if decision.timed_out {
        return format!("{verdict} by its timeout");
    }
    let note = decision
        .note
        .as_deref()
        .map(|n| format!(" ({})", inert(n)))
        .unwrap_or_default();
    format!(
        "{verdict} by {} at {}{note}",
        inert(&decision.by),
        inert(&decision.at)
    )
}

/// What a chat channel's ask says once it was decided without the channel (its buttons gone).
fn closed_ask(request: &ApprovalRequest, decision: &Decision) -> String {
    format!(
        "Request {} ({}): {}. The thread says what came of it.",
        request.id,
        inert(&request.action.action.describe()),
        decided(decision)
    )
}

/// What the channel is told once request `request` is decided (`decision`): by whom (or by its
/// timeout) and, when approved, the action's outcome. Finding and decider text is made inert.
fn decided_message(
    request: &ApprovalRequest,
    decision: &Decision,
    outcome: Option<&Outcome>,
) -> String {
    let head = if decision.timed_out {
        format!(
            "remedy: nobody decided request {} by {}: {}",
            request.id,
            request.expires,
            decided(decision)
        )
    } else {
        format!("remedy: request {} was {}", request.id, decided(decision))
    };
    let mut text = format!(
        "{head}.\n\
         Action: {would}\n\
         Finding: {fid} in account {account}, region {region}.",
        would = inert(&request.action.action.describe()),
        fid = inert(&request.finding.id),
        account = inert(request.finding.account_id.as_str()),
        region = inert(request.finding.region.as_str()),
    );
    match (decision.verdict, outcome) {
        (Verdict::Approve, Some(outcome)) => {
            text.push_str(&format!("\nOutcome: {}", inert(&outcome.to_string())));
        }
        (Verdict::Deny, _) => text.push_str("\nNot carried out."),
        (Verdict::Approve, None) => {}
    }
    text
}
