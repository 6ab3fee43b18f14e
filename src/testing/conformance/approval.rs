//! The [`ApprovalStore`] suite: a request is created once however many runs ask at once, it is
//! listed while undecided, the first decision stands and every later one is refused (also when
//! deciders race on two handles), a result is kept, unknown ids are errors, and pending requests
//! come oldest first.
//!
//! Every check takes two handles on the same store, `a` and `b`, as two workers would have (two
//! opens of one directory, two clients of one table); pass the same handle twice when your
//! backend has only one. The checks make requests of their own, with ids no other run uses, so
//! they may share a store; they do not need it empty.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use remedy::store::{ApprovalStore, MemoryApprovals};
//! use remedy::testing::conformance::approval;
//!
//! // In your crate: #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn my_approvals_conform() {
//!     // Your backend here: two handles on one store.
//!     let a: Arc<dyn ApprovalStore> = Arc::new(MemoryApprovals::new());
//!     let b = Arc::clone(&a);
//!     approval::all(a, b).await.unwrap();
//! }
//! # fn main() { let _ = my_approvals_conform(); }
//! ```

use std::sync::Arc;

use super::{Check, ConformanceError, unique};
use crate::config::OnTimeout;
use crate::finding::{FindingType, Severity};
use crate::id::{AccessKeyId, ApprovalId, UserName};
use crate::plan::{Action, DisableAccessKey, FindingContext, Plan, Source};
use crate::store::approval::{
    ApprovalError, ApprovalRequest, ApprovalStore, Decision, Requested, Verdict, approval_id,
};
use crate::store::ledger::{LedgerKey, Owner};

const SUITE: &str = "approval";

/// Runs every check of the suite on the two handles `a` and `b` of one store:
/// [`created_once`], [`first_decision_stands`], [`racing`], [`unknown_ids_and_order`].
pub async fn all(
    a: Arc<dyn ApprovalStore>,
    b: Arc<dyn ApprovalStore>,
) -> Result<(), ConformanceError> {
    created_once(&*a, &*b).await?;
    first_decision_stands(&*a, &*b).await?;
    racing(Arc::clone(&a), Arc::clone(&b)).await?;
    unknown_ids_and_order(&*a, &*b).await
}

/// A request asked on `a` is created; asked again on `b` it exists, undecided, with its finding
/// and action as they were; `b` reads it back equal to what was written and lists it as pending.
pub async fn created_once(
    a: &dyn ApprovalStore,
    b: &dyn ApprovalStore,
) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "created_once");
    let r = fresh_request(c, 2_000_000_000)?;
    let created = c.ok(a.request(&r).await, "request")?;
    c.equal(created, Requested::Created, "the first request")?;
    match c.ok(b.request(&r).await, "request")? {
        Requested::Exists(existing) => {
            c.equal(&existing.id, &r.id, "the id of the existing request")?;
            c.ensure(existing.is_pending(), || {
                format!("a request asked twice is still pending, got {existing:?}")
            })?;
            c.equal(&existing.action, &r.action, "the plan survives the store")?;
            c.equal(
                &existing.finding.id,
                &r.finding.id,
                "the finding of the existing request",
            )?;
        }
        other => {
            return Err(c.fail(format!(
                "the same request again: expected it exists, got {other:?}"
            )));
        }
    }
    let got = c.ok(b.get(&r.id).await, "get")?;
    c.equal(got.as_ref(), Some(&r), "read back as written")?;
    let pending = c.ok(b.pending().await, "pending")?;
    c.ensure(pending.iter().any(|p| p.id == r.id), || {
        format!("an undecided request is pending, but pending lists {pending:?}")
    })
}

/// A decision on `a` is kept; a later one on `b` is refused with [`ApprovalError::AlreadyDecided`]
/// naming the first, and changes nothing; a decided request is not pending but unfinished until
/// [`ApprovalStore::finish`] stores its result; asking again finds the decided request.
pub async fn first_decision_stands(
    a: &dyn ApprovalStore,
    b: &dyn ApprovalStore,
) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "first_decision_stands");
    let r = fresh_request(c, 2_000_000_000)?;
    c.ok(a.request(&r).await, "request")?;
    let yes = Decision::by(Verdict::Approve, "alice", Some("checked".into()));
    let decided = c.ok(a.decide(&r.id, &yes).await, "decide")?;
    c.equal(
        decided.decision.as_ref(),
        Some(&yes),
        "the decision returned by decide",
    )?;
    let no = Decision::by(Verdict::Deny, "mallory", None);
    match b.decide(&r.id, &no).await {
        Err(ApprovalError::AlreadyDecided { decision, .. }) => {
            c.equal(&*decision, &yes, "the first decision is reported")?;
        }
        other => {
            return Err(c.fail(format!(
                "a second decision: expected already decided, got {other:?}"
            )));
        }
    }
    let stored = c.ok(b.get(&r.id).await, "get")?.map(|s| s.decision);
    c.equal(stored, Some(Some(yes)), "the decision after a refused one")?;
    let pending = c.ok(b.pending().await, "pending")?;
    c.ensure(!pending.iter().any(|p| p.id == r.id), || {
        "a decided request is not pending, but pending lists it".to_owned()
    })?;
    let unfinished = c.ok(b.unfinished().await, "unfinished")?;
    c.ensure(unfinished.iter().any(|p| p.id == r.id), || {
        "a decided request without a result is unfinished, but unfinished does not list it"
            .to_owned()
    })?;
    c.ok(b.finish(&r.id, "executed: key disabled").await, "finish")?;
    let unfinished = c.ok(a.unfinished().await, "unfinished")?;
    c.ensure(!unfinished.iter().any(|p| p.id == r.id), || {
        "a finished request is not unfinished, but unfinished lists it".to_owned()
    })?;
    let result = c.ok(a.get(&r.id).await, "get")?.and_then(|s| s.result);
    c.equal(
        result.as_deref(),
        Some("executed: key disabled"),
        "the stored result",
    )?;
    // Asking again finds the decided request: a redelivery does not ask twice.
    match c.ok(a.request(&r).await, "request")? {
        Requested::Exists(existing) => c.ensure(!existing.is_pending(), || {
            format!("a decided request asked again is not pending, got {existing:?}")
        }),
        other => Err(c.fail(format!(
            "a decided request asked again: expected it exists, got {other:?}"
        ))),
    }
}

/// Eight runs ask for one request at once on both handles: exactly one creates it. Eight
/// deciders decide it at once: exactly one decision is accepted, every other is refused with
/// [`ApprovalError::AlreadyDecided`], and the stored decision is the accepted one.
pub async fn racing(
    a: Arc<dyn ApprovalStore>,
    b: Arc<dyn ApprovalStore>,
) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "racing");
    let r = fresh_request(c, 2_000_000_000)?;
    let mut asks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let r = r.clone();
        asks.spawn(async move { store.request(&r).await });
    }
    let mut created = 0;
    while let Some(asked) = asks.join_next().await {
        if c.ok(c.joined(asked)?, "request")? == Requested::Created {
            created += 1;
        }
    }
    c.equal(created, 1, "askers of eight that created the request")?;

    let mut decisions = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let id = r.id.clone();
        let verdict = if i % 3 == 0 {
            Verdict::Deny
        } else {
            Verdict::Approve
        };
        let decision = Decision::by(verdict, format!("person-{i}"), None);
        decisions.spawn(async move { (decision.clone(), store.decide(&id, &decision).await) });
    }
    let mut winners = Vec::new();
    while let Some(joined) = decisions.join_next().await {
        match c.joined(joined)? {
            (decision, Ok(_)) => winners.push(decision),
            (_, Err(ApprovalError::AlreadyDecided { .. })) => {}
            (_, Err(e)) => {
                return Err(c.fail(format!(
                    "a racing decision: expected accepted or already decided, got {e}"
                )));
            }
        }
    }
    let [winner] = winners.as_slice() else {
        return Err(c.fail(format!(
            "deciders of eight whose decision was accepted: expected one, got {winners:?}"
        )));
    };
    let stored = c.ok(a.get(&r.id).await, "get")?.and_then(|s| s.decision);
    c.equal(
        stored.as_ref(),
        Some(winner),
        "the stored decision is the accepted one",
    )
}

/// Reading an unknown id finds nothing, deciding or finishing it is
/// [`ApprovalError::NotFound`]; pending requests are listed oldest (soonest to expire) first.
pub async fn unknown_ids_and_order(
    a: &dyn ApprovalStore,
    b: &dyn ApprovalStore,
) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "unknown_ids_and_order");
    let nobody = c.ok(
        ApprovalId::new("apr-0123456789abcdef0123"),
        "an approval id",
    )?;
    c.equal(c.ok(a.get(&nobody).await, "get")?, None, "an unknown id")?;
    let d = Decision::by(Verdict::Approve, "alice", None);
    let decided = a.decide(&nobody, &d).await;
    c.ensure(matches!(decided, Err(ApprovalError::NotFound(_))), || {
        format!("deciding an unknown id: expected not found, got {decided:?}")
    })?;
    let finished = a.finish(&nobody, "x").await;
    c.ensure(matches!(finished, Err(ApprovalError::NotFound(_))), || {
        format!("finishing an unknown id: expected not found, got {finished:?}")
    })?;
    let later = fresh_request(c, 2_000_000_500)?;
    let sooner = fresh_request(c, 2_000_000_100)?;
    c.ok(a.request(&later).await, "request")?;
    c.ok(b.request(&sooner).await, "request")?;
    let ids: Vec<ApprovalId> = c
        .ok(a.pending().await, "pending")?
        .into_iter()
        .map(|p| p.id)
        .collect();
    let (Some(s), Some(l)) = (
        ids.iter().position(|i| *i == sooner.id),
        ids.iter().position(|i| *i == later.id),
    ) else {
        return Err(c.fail(format!(
            "two undecided requests are pending, but pending lists {ids:?}"
        )));
    };
    c.ensure(s < l, || {
        format!("pending lists the request expiring sooner first, got {ids:?}")
    })
}

/// A valid request: disabling access key `access_key_id` of user `alice` for finding
/// `finding_id`, expiring at `expires_at` (seconds since the Unix epoch), denied on timeout,
/// asked on channel `security` by this process. Its id and key are derived from the finding and
/// the action, as the remediator derives them: the same finding and key make the same request.
pub fn request(
    finding_id: &str,
    access_key_id: &str,
    expires_at: u64,
) -> Result<ApprovalRequest, ConformanceError> {
    let c = Check::new(SUITE, "request");
    let finding_type = c.ok(
        FindingType::new("UnauthorizedAccess:IAMUser/MaliciousIPCaller"),
        "a finding type",
    )?;
    let severity = Severity::new(8.0).ok_or_else(|| c.fail("severity 8 is not a severity"))?;
    let finding = FindingContext::new(finding_id, finding_type, severity);
    let mut plan = Plan::new(finding.clone(), "v1");
    plan.push(
        Action::DisableAccessKey(DisableAccessKey {
            user_name: c.ok(UserName::new("alice"), "a user name")?,
            access_key_id: c.ok(AccessKeyId::new(access_key_id), "an access key id")?,
        }),
        Source {
            policy: "disable-key".into(),
            version: "v1".into(),
            reason: Some("a malicious IP".into()),
            line: Some(3),
        },
    );
    let action = plan
        .actions
        .pop()
        .ok_or_else(|| c.fail("a plan with one action has none"))?;
    let key = LedgerKey::new(&finding, &action);
    Ok(ApprovalRequest {
        id: approval_id(&key),
        requested_at: "2026-12-01T00:00:00Z".into(),
        expires_at,
        expires: "2026-12-01T01:00:00Z".into(),
        on_timeout: OnTimeout::Deny,
        channel: "security".into(),
        requested_by: Owner::current().clone(),
        key,
        finding,
        action,
        decision: None,
        result: None,
        seal: None,
    })
}

/// A request of a finding no other run uses.
fn fresh_request(c: Check, expires_at: u64) -> Result<ApprovalRequest, ConformanceError> {
    request(&unique("f"), "AKIAIOSFODNN7EXAMPLE", expires_at)
        .map_err(|e| c.fail(format!("cannot make a request: {}", e.message)))
}
