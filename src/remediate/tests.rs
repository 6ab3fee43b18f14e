//! The remediator under cancellation: a caller that stops waiting never leaves an executed action
//! without its outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::Remediator;
use crate::action::{ActionRequest, Executor, Outcome, Status};
use crate::id::{AccessKeyId, UserName};
use crate::plan::{Action, DisableAccessKey, Principal};
use crate::store::audit::MemoryAudit;
use crate::store::ledger::MemoryLedger;
use crate::testing::{context, plan_of};

/// Disables a key slowly, counting its executions.
#[derive(Debug, Default)]
struct Slow {
    runs: AtomicUsize,
}

#[async_trait]
impl Executor for Slow {
    async fn execute(&self, _request: &ActionRequest<'_>) -> Outcome {
        self.runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        Outcome::executed("disabled")
    }
}

#[tokio::test]
async fn an_aborted_run_leaves_the_outcome_and_the_next_run_does_not_execute_again() {
    let mut finding = context("f-1", "UnauthorizedAccess:IAMUser/MaliciousIPCaller").unwrap();
    finding.principal = Some(Principal {
        user_name: Some("alice".into()),
        user_type: Some("IAMUser".into()),
        access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
        principal_id: None,
    });
    let action = Action::DisableAccessKey(DisableAccessKey {
        user_name: UserName::new("alice").unwrap(),
        access_key_id: AccessKeyId::new("AKIAIOSFODNN7EXAMPLE").unwrap(),
    });
    let plan = plan_of(finding, [action], "p");
    let slow = Arc::new(Slow::default());
    let audit = MemoryAudit::new();
    let remediator = Remediator::builder(Arc::clone(&slow) as Arc<dyn Executor>)
        .with_audit(Arc::new(audit.clone()))
        .with_ledger(Arc::new(MemoryLedger::new()))
        .enforce(true)
        .build();

    let running = {
        let (remediator, plan) = (remediator.clone(), plan.clone());
        tokio::spawn(async move { remediator.run(&plan).await })
    };
    // Abort the caller while the executor runs.
    for _ in 0..100 {
        if slow.runs.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    tokio::time::sleep(Duration::from_millis(600)).await;

    let outcomes = audit.actions();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0].outcome.status(), Status::Executed);
    assert!(outcomes[0].intent.is_some(), "the record names its intent");

    let again = remediator.run(&plan).await;
    assert_eq!(
        slow.runs.load(Ordering::SeqCst),
        1,
        "executed again: {again:?}"
    );
    assert_eq!(
        again.actions[0].outcome.status(),
        Status::AlreadyDone,
        "{again:?}"
    );
}
