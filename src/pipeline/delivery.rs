//! One message of a queue (an SQS message, a record of a Lambda batch): what became of it, and
//! so whether the queue may forget it.

use crate::action::{SkipReason, Status};
use crate::finding::parse_documents;
use crate::remediate::Report;

use super::Pipeline;

/// What a queue should do with a message once remedy has handled it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Disposition {
    /// Every plan was carried out and audited (each action executed, already done or skipped by
    /// a guard): delete the message.
    Done,
    /// Something may succeed later (an action failed, another run holds a claim, an audit
    /// record was not written, a policy failed, remedy stopped before an action ran): leave the
    /// message for redelivery; the queue
    /// moves it to its dead-letter queue after its maximum receive count.
    Retry(String),
    /// The message holds no finding remedy can read: never delete it; leave it for the
    /// dead-letter queue, where a person can look at it.
    Unreadable(String),
}

impl Disposition {
    /// Whether the message may be deleted.
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Done)
    }
}

/// What handling one message gave: its disposition and the report of each finding in it.
#[derive(Debug)]
pub struct Delivery {
    /// What to do with the message.
    pub disposition: Disposition,
    /// One report per finding the message held, in order.
    pub reports: Vec<Report>,
}

impl Pipeline {
    /// Handles one queued message: `body` is an EventBridge event or any shape
    /// [`parse_documents`] reads; `name` (the message id) is put in parse errors. Every finding in it is decided on and carried out; the
    /// [`Disposition`] says whether the message may be deleted. A body with any unreadable part
    /// is [`Disposition::Unreadable`] and its readable findings are not acted on, so that the
    /// whole message waits, unchanged, in the dead-letter queue.
    pub async fn handle_message(&self, body: &[u8], name: &str) -> Delivery {
        let batch = parse_documents(body, name);
        if let Some(e) = batch.errors().next() {
            return Delivery {
                disposition: Disposition::Unreadable(e.to_string()),
                reports: Vec::new(),
            };
        }
        let mut reports = Vec::new();
        for finding in batch.findings() {
            reports.push(self.handle(finding).await);
        }
        let disposition = match reports.iter().find_map(retry_reason) {
            Some(reason) => Disposition::Retry(reason),
            None => Disposition::Done,
        };
        Delivery {
            disposition,
            reports,
        }
    }
}

/// Why a finding's report does not let its message go, if it does not.
fn retry_reason(report: &Report) -> Option<String> {
    if let Some(e) = report.audit_errors.first() {
        return Some(format!("an audit record was not written: {e}"));
    }
    if let Some(failure) = report.policy_errors.first() {
        return Some(format!("a policy failed: {failure}"));
    }
    report
        .actions
        .iter()
        .find_map(|record| match record.outcome.status() {
            // Not a guard's decision: remedy stopped before the action ran. Deleting the
            // message would lose the finding; its next delivery carries the action out.
            Status::Skipped
                if matches!(record.outcome.skip_reason(), Some(SkipReason::Interrupted)) =>
            {
                Some(format!(
                    "`{}` on `{}` was interrupted: remedy is stopping",
                    record.kind, record.target
                ))
            }
            // A pending approval is stored durably: the message has done its part.
            Status::Executed | Status::AlreadyDone | Status::Skipped | Status::PendingApproval => {
                None
            }
            // The outcome says who holds it (this run, or another): said once, as it is.
            Status::InProgress | Status::Failed => Some(format!(
                "`{}` on `{}` {}",
                record.kind, record.target, record.outcome
            )),
        })
}
