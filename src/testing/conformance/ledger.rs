//! The [`Ledger`] suite: claims are atomic under contention, leases expire and are taken over, a
//! failure releases the claim, a finished entry stays finished, and a claim whose owner's process
//! is gone expires at once.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use remedy::store::{Ledger, MemoryLedger};
//! use remedy::testing::conformance::ledger;
//!
//! // In your crate: #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn my_ledger_conforms() {
//!     // Your backend here: each call makes a fresh, empty one.
//!     let fresh = async || Arc::new(MemoryLedger::new()) as Arc<dyn Ledger>;
//!     ledger::all(fresh).await.unwrap();
//! }
//! # fn main() { let _ = my_ledger_conforms(); }
//! ```

use std::sync::Arc;
use std::time::Duration;

use super::{Check, ConformanceError, unique};
use crate::plan::{Action, FindingContext, Notify, Plan, PlannedAction, Source};
use crate::store::ledger::{Claim, ClaimRequest, EntryState, Ledger, LedgerKey, Owner};

const SUITE: &str = "ledger";

/// Runs every check of the suite, each on a fresh, empty ledger from `fresh`: [`contract`], then
/// [`contention`].
pub async fn all(mut fresh: impl AsyncFnMut() -> Arc<dyn Ledger>) -> Result<(), ConformanceError> {
    contract(&*fresh().await).await?;
    contention(fresh().await).await
}

/// One claim's life on `ledger`, which must be fresh and empty (it counts the live claims): a
/// first claim is acquired and a second owner finds it in progress (with the owner, finding and
/// action stored); only its owner releases it; a completed entry is done for every later claim,
/// is no live claim and is released by nobody; an expired lease is taken over (with the entry as
/// it was) and the former owner's late release does not free it; a claim whose owner's process is
/// gone (same host, no such process) is taken over at once.
pub async fn contract(ledger: &dyn Ledger) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "contract");
    let run = unique("contract");
    let f = finding(c, &format!("{run}-1"))?;
    let a = planned(c, "m")?;
    let key = LedgerKey::new(&f, &a);
    let (one, two) = (Owner::with_run("one"), Owner::with_run("two"));
    let lease = Duration::from_secs(600);
    let take = async |key: &LedgerKey, owner: &Owner, lease: Duration| {
        claim(ledger, c, key, owner, lease, &f, &a).await
    };

    c.equal(c.ok(ledger.get(&key).await, "get")?, None, "a fresh key")?;
    c.equal(
        take(&key, &one, lease).await?,
        Claim::Acquired,
        "the first claim",
    )?;
    // A live claim of another owner: in progress, not done.
    match take(&key, &two, lease).await? {
        Claim::InProgress(e) => {
            c.equal(
                e.owner.as_ref().map(|o| o.run.as_str()),
                Some("one"),
                "the owner of a claim in progress",
            )?;
            c.equal(
                e.finding.as_ref().map(|f| &f.id),
                Some(&f.id),
                "the finding of a claim in progress",
            )?;
            c.equal(
                e.action.as_ref(),
                Some(&a),
                "the action of a claim in progress",
            )?;
        }
        other => {
            return Err(c.fail(format!(
                "a second owner's claim: expected in progress, got {other:?}"
            )));
        }
    }
    let live = c.ok(ledger.claims().await, "claims")?;
    c.equal(live.len(), 1, "live claims while one is held")?;
    // Another owner cannot release it; its owner can (a failure).
    c.ok(ledger.release(&key, &two).await, "release by another owner")?;
    let after = take(&key, &two, lease).await?;
    c.ensure(matches!(after, Claim::InProgress(_)), || {
        format!("a claim released by another owner than its own: expected still in progress, got {after:?}")
    })?;
    c.ok(ledger.release(&key, &one).await, "release by its owner")?;
    c.equal(
        c.ok(ledger.get(&key).await, "get")?,
        None,
        "a released claim",
    )?;
    c.equal(
        take(&key, &two, lease).await?,
        Claim::Acquired,
        "a claim after a release",
    )?;
    c.ok(ledger.complete(&key, &two, "done it").await, "complete")?;
    match take(&key, &one, lease).await? {
        Claim::Done(e) => {
            c.equal(e.state, EntryState::Done, "the state of a completed entry")?;
            c.equal(
                e.details.as_deref(),
                Some("done it"),
                "the details of a completed entry",
            )?;
        }
        other => {
            return Err(c.fail(format!(
                "a claim of a completed entry: expected done, got {other:?}"
            )));
        }
    }
    let live = c.ok(ledger.claims().await, "claims")?;
    c.ensure(live.is_empty(), || {
        format!("a completed entry is no live claim, but claims lists {live:?}")
    })?;
    // A finished entry is not released by anyone.
    c.ok(
        ledger.release(&key, &two).await,
        "release of a completed entry",
    )?;
    let state = c.ok(ledger.get(&key).await, "get")?.map(|e| e.state);
    c.equal(
        state,
        Some(EntryState::Done),
        "a completed entry after a release",
    )?;

    // Expiry: a lease that ran out is taken over, with the entry as it was.
    let other = LedgerKey::new(&finding(c, &format!("{run}-2"))?, &a);
    c.equal(
        take(&other, &one, Duration::ZERO).await?,
        Claim::Acquired,
        "a claim with no lease",
    )?;
    match take(&other, &two, lease).await? {
        Claim::TakenOver(previous) => c.equal(
            previous.owner.map(|o| o.run),
            Some("one".to_owned()),
            "the previous owner of a claim taken over",
        )?,
        other => {
            return Err(c.fail(format!(
                "a claim of an expired lease: expected taken over, got {other:?}"
            )));
        }
    }
    // Now two holds it: one's late release does not free it.
    c.ok(ledger.release(&other, &one).await, "a late release")?;
    let after = take(&other, &one, lease).await?;
    c.ensure(matches!(after, Claim::InProgress(_)), || {
        format!("a claim taken over, after the former owner's late release: expected in progress, got {after:?}")
    })?;

    // An owner whose process is gone (same host, no such process): expired at once.
    let mut dead = Owner::with_run("dead");
    dead.pid = u32::MAX - 7;
    let third = LedgerKey::new(&finding(c, &format!("{run}-3"))?, &a);
    take(&third, &dead, lease).await?;
    if dead.process_start.is_some() {
        let after = take(&third, &one, lease).await?;
        c.ensure(matches!(after, Claim::TakenOver(_)), || {
            format!("a claim of a process that is gone: expected taken over, got {after:?}")
        })?;
    }
    Ok(())
}

/// Races on `ledger` (shared by the racing tasks; it need not be empty): eight owners claim one
/// key at once and exactly one acquires it, the seven others find it in progress; eight owners
/// claim one expired claim at once and exactly one takes it over.
pub async fn contention(ledger: Arc<dyn Ledger>) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "contention");
    let run = unique("race");
    let f = finding(c, &run)?;
    let a = planned(c, "m")?;
    let key = LedgerKey::new(&f, &a);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (ledger, key, f, a) = (Arc::clone(&ledger), key.clone(), f.clone(), a.clone());
        tasks.spawn(async move {
            let owner = Owner::with_run(format!("owner-{i}"));
            claim(&*ledger, c, &key, &owner, Duration::from_secs(60), &f, &a).await
        });
    }
    let (mut acquired, mut in_progress) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match c.joined(r)?? {
            Claim::Acquired => acquired += 1,
            Claim::InProgress(_) => in_progress += 1,
            other => {
                return Err(c.fail(format!(
                    "eight claims of a new key: expected acquired or in progress, got {other:?}"
                )));
            }
        }
    }
    c.equal(
        (acquired, in_progress),
        (1, 7),
        "eight claims of a new key (acquired, in progress)",
    )?;

    // Eight takers of one expired claim: one takes it over.
    let key = LedgerKey::new(&finding(c, &format!("{run}-2"))?, &a);
    claim(
        &*ledger,
        c,
        &key,
        &Owner::with_run("old"),
        Duration::ZERO,
        &f,
        &a,
    )
    .await?;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let (ledger, key, f, a) = (Arc::clone(&ledger), key.clone(), f.clone(), a.clone());
        tasks.spawn(async move {
            let owner = Owner::with_run(format!("taker-{i}"));
            claim(&*ledger, c, &key, &owner, Duration::from_secs(60), &f, &a).await
        });
    }
    let mut taken = 0;
    while let Some(r) = tasks.join_next().await {
        if matches!(c.joined(r)??, Claim::TakenOver(_)) {
            taken += 1;
        }
    }
    c.equal(taken, 1, "eight claims of an expired claim taken over")
}

/// A finding context of a GuardDuty type.
fn finding(c: Check, id: &str) -> Result<FindingContext, ConformanceError> {
    c.ok(
        crate::testing::context(id, "UnauthorizedAccess:IAMUser/MaliciousIPCaller"),
        "a finding context",
    )
}

/// A `notify` action with `message`, chosen by policy `p`.
fn planned(c: Check, message: &str) -> Result<PlannedAction, ConformanceError> {
    let mut plan = Plan::new(finding(c, "x")?, "v");
    plan.push(
        Action::Notify(Notify {
            channel: "security".into(),
            message: message.into(),
        }),
        Source {
            policy: "p".into(),
            version: "v".into(),
            reason: None,
            line: None,
        },
    );
    plan.actions
        .pop()
        .ok_or_else(|| c.fail("a plan with one action has none"))
}

async fn claim(
    ledger: &dyn Ledger,
    c: Check,
    key: &LedgerKey,
    owner: &Owner,
    lease: Duration,
    finding: &FindingContext,
    action: &PlannedAction,
) -> Result<Claim, ConformanceError> {
    let request = ClaimRequest {
        key,
        owner,
        lease,
        finding,
        action,
    };
    c.ok(ledger.claim(&request).await, "claim")
}
