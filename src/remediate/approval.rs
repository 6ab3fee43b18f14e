//! How the remediator asks for, and acts on, approvals.

use std::time::Instant;

use super::carry::Request;
use super::guard::{Enforcement, Trail};
use super::{Remediator, Report};

mod rules;
mod tell;
use crate::action::{ActionError, ErrorKind, Outcome, SkipReason};
use crate::clock::{now_rfc3339, rfc3339_at};
use crate::id::ApprovalId;
use crate::plan::{Action, FindingContext, Plan, PlannedAction};
use crate::store::approval::{
    ApprovalError, ApprovalRequest, Decision, Requested, Verdict, approval_id,
};
use crate::store::audit::{ActionRecord, ApprovalEvent, ApprovalRecord, AuditRecord, Guard, Mode};
use crate::store::ledger::{EntryState, LedgerKey};
pub(crate) use rules::ApprovalRules;
#[cfg(feature = "chat")]
pub(crate) use tell::SLACK_DECIDER;

impl Remediator {
    /// The approval requests nobody has decided on, oldest first.
    pub async fn pending(&self) -> Result<Vec<ApprovalRequest>, ApprovalError> {
        self.inner.approvals.pending().await
    }

    /// The approval request `id`, decided or not, checked against what it claims
    /// ([`ApprovalRequest::check`]) and against the ledger: a request with no decision whose
    /// action the ledger shows done lost its decision, and is an error, not a fresh request.
    pub async fn approval(&self, id: &ApprovalId) -> Result<ApprovalRequest, ApprovalError> {
        let request = self
            .inner
            .approvals
            .get(id)
            .await?
            .ok_or_else(|| ApprovalError::NotFound(id.clone()))?;
        self.trusted(&request).await?;
        Ok(request)
    }

    /// `Ok` when `request` holds together and the ledger agrees with it.
    async fn trusted(&self, request: &ApprovalRequest) -> Result<(), ApprovalError> {
        let invalid = |message: String| ApprovalError::Invalid {
            store: "approvals".into(),
            message,
        };
        request.check().map_err(invalid)?;
        if let Some(key) = &self.inner.audit_key {
            request.check_seals(key).map_err(invalid)?;
        }
        if request.decision.is_none()
            && let Ok(Some(entry)) = self.inner.ledger.get(&request.key).await
            && entry.state == EntryState::Done
        {
            return Err(invalid(format!(
                "request `{}` has no decision, but the ledger shows its action done: its decision \
                 was removed",
                request.id
            )));
        }
        Ok(())
    }

    /// Approves request `id` as `by` and carries its action out through every guard again (kill
    /// switch, account, protection, breaker, ledger, rate limit): the report's action record says
    /// what came of it. A request decided already, an expired one, or a remediator that does not
    /// enforce is refused, and nothing changes.
    ///
    /// The channel that was asked is told, once, who decided and what came of the action (a
    /// reply in the finding's thread; a Slack ask loses its buttons), its record last in the
    /// report; a decision made in Slack (`by` = `slack:…`) is not, as the click's own message
    /// already says it.
    pub async fn approve(
        &self,
        id: &ApprovalId,
        by: &str,
        note: Option<&str>,
    ) -> Result<Report, ApprovalError> {
        if self.mode() != Mode::Enforce {
            return Err(ApprovalError::NotEnforcing);
        }
        let request = self.undecided(id).await?;
        if request.is_expired(self.inner.clock.now_secs()) {
            return Err(ApprovalError::Expired {
                id: id.clone(),
                expires: request.expires,
                on_timeout: request.on_timeout,
            });
        }
        let decision = Decision::by(Verdict::Approve, by, note.map(str::to_owned));
        self.decide(id, decision).await
    }

    /// Records in the audit trail that `by` tried to decide request `id` and was refused
    /// (`why`, e.g. not an approver). The request is unchanged.
    pub async fn record_refused(
        &self,
        id: &ApprovalId,
        by: &str,
        why: &str,
    ) -> Result<(), ApprovalError> {
        let request = self.approval(id).await?;
        let refusal = Decision::by(Verdict::Deny, by, Some(why.to_owned()));
        let record = approval_record(&request, ApprovalEvent::Refused, Some(&refusal));
        self.inner
            .audit
            .record(&record)
            .await
            .map_err(|e| ApprovalError::Invalid {
                store: "audit".into(),
                message: e.to_string(),
            })
    }

    /// Denies request `id` as `by`: its action is not carried out, and the audit trail says who
    /// denied it and why. A request decided already is refused, and nothing changes.
    pub async fn deny(
        &self,
        id: &ApprovalId,
        by: &str,
        note: Option<&str>,
    ) -> Result<Report, ApprovalError> {
        self.undecided(id).await?;
        let decision = Decision::by(Verdict::Deny, by, note.map(str::to_owned));
        self.decide(id, decision).await
    }

    /// Applies the timeout of every pending request that has expired: `on_timeout = "deny"`
    /// closes it, `"approve"` carries its action out through every guard. A request someone
    /// decides on meanwhile is left to that decision. Also finishes what a decider left: a
    /// request decided over a minute ago whose action was not carried out (the deciding process
    /// stopped half-way, or the action failed in a way that may succeed later) is carried out
    /// again under its decision; the ledger keeps it from running twice. One report per request
    /// handled here; the channel that was asked is told what each timeout decided (see
    /// [`Remediator::approve`]).
    pub async fn expire(&self) -> Result<Vec<Report>, ApprovalError> {
        if self.mode() != Mode::Enforce {
            return Err(ApprovalError::NotEnforcing);
        }
        let now = self.inner.clock.now_secs();
        let mut reports = Vec::new();
        for request in self.inner.approvals.unfinished().await? {
            if let Err(e) = self.trusted(&request).await {
                // An edited request is never carried out, by a person or by its timeout.
                tracing::error!("{e}");
                continue;
            }
            match request.decision.clone() {
                None if request.is_expired(now) => {
                    match self
                        .decide(&request.id, Decision::timeout(request.on_timeout))
                        .await
                    {
                        Ok(report) => reports.push(report),
                        Err(ApprovalError::AlreadyDecided { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Some(decision) if decided_before(&decision, now.saturating_sub(LEFT_AFTER)) => {
                    reports.push(self.carry_decided(&request, &decision, Vec::new()).await);
                }
                _ => {}
            }
        }
        Ok(reports)
    }

    async fn undecided(&self, id: &ApprovalId) -> Result<ApprovalRequest, ApprovalError> {
        let request = self.approval(id).await?;
        match request.decision {
            Some(decision) => Err(ApprovalError::AlreadyDecided {
                id: id.clone(),
                decision: Box::new(decision),
            }),
            None => Ok(request),
        }
    }

    /// Records `decision` (once), audits it, and carries it out.
    async fn decide(&self, id: &ApprovalId, decision: Decision) -> Result<Report, ApprovalError> {
        let inner = &self.inner;
        let decision = match &inner.audit_key {
            Some(key) => decision.sealed(id, key),
            None => decision,
        };
        let request = inner.approvals.decide(id, &decision).await?;
        let mut audit_errors = Vec::new();
        let event = match decision.verdict {
            Verdict::Approve => ApprovalEvent::Approved,
            Verdict::Deny => ApprovalEvent::Denied,
        };
        let record = approval_record(&request, event, Some(&decision));
        if let Err(e) = inner.audit.record(&record).await {
            tracing::error!("{e}");
            audit_errors.push(e.to_string());
        }
        let mut report = self.carry_decided(&request, &decision, audit_errors).await;
        if !decision.by.starts_with(tell::SLACK_DECIDER) {
            let outcome = report.actions.first().map(|r| r.outcome.clone());
            if let Some(told) = self
                .tell_decided(&request, &decision, outcome.as_ref())
                .await
            {
                self.keep(&mut report, told).await;
            }
        }
        Ok(report)
    }

    /// Carries out (or records the denial of) a decided request, and stores its result unless the
    /// action may succeed later (then [`Remediator::expire`] tries again).
    async fn carry_decided(
        &self,
        request: &ApprovalRequest,
        decision: &Decision,
        audit_errors: Vec<String>,
    ) -> Report {
        let mut plan = Plan::new(request.finding.clone(), "approval");
        plan.actions.push(request.action.clone());
        let mut report = match decision.verdict {
            Verdict::Approve => self.run_approved(&plan, decision).await,
            Verdict::Deny => self.record_denied(request, decision).await,
        };
        report.audit_errors.splice(0..0, audit_errors);
        let Some(record) = report.actions.first() else {
            return report;
        };
        let outcome = &record.outcome;
        let later = outcome.status() == crate::action::Status::InProgress
            || outcome.error().is_some_and(ActionError::retryable);
        if later {
            return report;
        }
        let result = outcome.to_string();
        if let Err(e) = self.inner.approvals.finish(&request.id, &result).await {
            tracing::error!("{e}");
            report
                .audit_errors
                .push(format!("the request's result was not stored: {e}"));
        }
        report
    }

    /// The record of a denied (or timed-out) request's action: skipped, and why.
    async fn record_denied(&self, request: &ApprovalRequest, decision: &Decision) -> Report {
        let mut report = Report::new(request.finding.clone(), self.mode());
        let mut trail = Trail::default();
        trail.block(Guard::Approval, decision.to_string());
        let outcome = Outcome::Skipped(SkipReason::Denied {
            by: decision.by.clone(),
            at: decision.at.clone(),
            note: decision.note.clone(),
            approval_id: request.id.clone(),
        });
        let record = self.record(
            &request.finding,
            &request.action.action,
            request.action.sources.clone(),
            trail,
            outcome,
            Instant::now(),
        );
        self.keep(&mut report, record).await;
        report
    }

    /// Whether `planned` waits for a person: `Some(outcome)` stops it here (pending, denied, or
    /// a request that cannot be stored), `None` lets it go on to the ledger and the executor.
    /// `approved` is the decision of the request being carried out, if it is one.
    pub(in crate::remediate) async fn approval_gate(
        &self,
        request: &Request<'_>,
        enforcement: &Enforcement,
        key: &LedgerKey,
        trail: &mut Trail,
        extra: &mut Vec<ActionRecord>,
    ) -> Option<Outcome> {
        let inner = &self.inner;
        let Request {
            finding,
            planned,
            approved,
            ..
        } = *request;
        let rules = &inner.approval;
        if !rules.requires(planned, finding) {
            return None;
        }
        if let Some(decision) = approved {
            trail.note(Guard::Approval, decision.to_string());
            return None;
        }
        let channel = &rules.config.notify;
        match enforcement {
            Enforcement::Enforce => {}
            Enforcement::DryRun => {
                trail.note(
                    Guard::Approval,
                    format!("would wait for a person's approval (channel `{channel}`)"),
                );
                return None;
            }
            Enforcement::Shadow(_) => return None,
        }
        // Done before: nobody needs to be asked.
        if let Some(done) = self.peek(key, trail).await {
            return Some(done);
        }
        if matches!(planned.action, Action::SuppressSimilar(_)) && !inner.approvals_kept {
            let why = "a suppression waits for a person's approval, and no approval store is \
                       configured (`[approval] path` or `[state] dynamodb_table`)";
            trail.block(Guard::Approval, why);
            return Some(Outcome::failed(ErrorKind::InvalidInput, why));
        }
        let request = self.new_request(finding, planned, key);
        match inner.approvals.request(&request).await {
            Ok(Requested::Created) => {
                let record = approval_record(&request, ApprovalEvent::Requested, None);
                if let Err(e) = inner.audit.record(&record).await {
                    tracing::error!("{e}");
                    trail.note(Guard::Approval, format!("the request was not audited: {e}"));
                }
                trail.block(
                    Guard::Approval,
                    format!(
                        "asked `{channel}` (request {}); waiting until {}, then {}",
                        request.id, request.expires, request.on_timeout
                    ),
                );
                extra.extend(self.ask(&request, trail).await);
                Some(pending(&request))
            }
            Ok(Requested::Exists(existing)) => match &existing.decision {
                None => {
                    // Asked again only if the first ask did not get through.
                    extra.extend(self.ask(&existing, trail).await);
                    trail.block(
                        Guard::Approval,
                        format!(
                            "requested at {} (request {}); still waiting",
                            existing.requested_at, existing.id
                        ),
                    );
                    Some(pending(&existing))
                }
                Some(decision) if decision.verdict == Verdict::Approve => {
                    trail.note(Guard::Approval, decision.to_string());
                    None
                }
                Some(decision) => {
                    trail.block(Guard::Approval, decision.to_string());
                    Some(Outcome::Skipped(SkipReason::Denied {
                        by: decision.by.clone(),
                        at: decision.at.clone(),
                        note: decision.note.clone(),
                        approval_id: existing.id.clone(),
                    }))
                }
            },
            Err(e) => {
                trail.block(Guard::Approval, e.to_string());
                Some(Outcome::Failed(ActionError::new(
                    ErrorKind::StateUnavailable,
                    format!("not executed: the approval request cannot be stored: {e}"),
                )))
            }
        }
    }

    fn new_request(
        &self,
        finding: &FindingContext,
        planned: &PlannedAction,
        key: &LedgerKey,
    ) -> ApprovalRequest {
        let config = &self.inner.approval.config;
        let now = self.inner.clock.now_secs();
        let expires_at = now.saturating_add(config.timeout_secs);
        let request = ApprovalRequest {
            id: approval_id(key),
            requested_at: now_rfc3339(),
            expires_at,
            expires: rfc3339_at(expires_at),
            on_timeout: config.on_timeout,
            channel: config.notify.clone(),
            requested_by: self.inner.owner.clone(),
            key: key.clone(),
            finding: finding.clone(),
            action: planned.clone(),
            decision: None,
            result: None,
            seal: None,
        };
        match &self.inner.audit_key {
            Some(key) => request.sealed(key),
            None => request,
        }
    }
}

/// How long after its decision a request without a result counts as left half-way.
const LEFT_AFTER: u64 = 60;

/// Whether `decision` was made before `secs` (since the Unix epoch); an unreadable time counts as
/// long ago.
fn decided_before(decision: &Decision, secs: u64) -> bool {
    let Ok(at) =
        time::OffsetDateTime::parse(&decision.at, &time::format_description::well_known::Rfc3339)
    else {
        return true;
    };
    u64::try_from(at.unix_timestamp()).is_ok_and(|t| t < secs)
}

fn pending(request: &ApprovalRequest) -> Outcome {
    Outcome::PendingApproval {
        approval_id: request.id.clone(),
        expires: request.expires.clone(),
        on_timeout: request.on_timeout.to_string(),
        details: format!(
            "waiting for a person to approve {} (request {}, until {}, then {})",
            request.action.action.describe(),
            request.id,
            request.expires,
            request.on_timeout
        ),
    }
}

/// The audit record of a request (`decision` absent) or of its decision.
fn approval_record(
    request: &ApprovalRequest,
    event: ApprovalEvent,
    decision: Option<&Decision>,
) -> AuditRecord {
    let action = &request.action;
    AuditRecord::Approval(Box::new(ApprovalRecord {
        time: now_rfc3339(),
        event,
        approval_id: request.id.clone(),
        finding_id: std::sync::Arc::clone(&request.finding.id),
        account_id: request.finding.account_id.clone(),
        kind: action.action.kind(),
        target: action.action.target(),
        policy: action
            .sources
            .first()
            .map_or_else(|| "remedy".into(), |s| s.policy.to_string()),
        channel: request.channel.clone(),
        expires: request.expires.clone(),
        on_timeout: request.on_timeout.to_string(),
        by: decision.map(|d| d.by.clone()),
        note: decision.and_then(|d| d.note.clone()),
    }))
}
