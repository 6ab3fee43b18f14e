//! One contract for every ledger backend: claims are atomic under contention, leases expire and
//! are taken over, a failure releases the claim, a finished entry stays finished, and the owner's
//! process dying expires its claims at once. Runs against memory, files and, when
//! `AWS_ENDPOINT_URL` is set (moto, see `scripts/test.sh`), DynamoDB; without it the DynamoDB
//! part says it did not run.

use std::sync::Arc;
use std::time::Duration;

use remedy::plan::{FindingContext, Notify, PlannedAction, Source};
use remedy::store::ledger::{
    Claim, ClaimRequest, EntryState, FileLedger, Ledger, LedgerKey, MemoryLedger, Owner,
};
use remedy::testing::context;
use remedy::{Action, Plan};

/// The backends under test; each call gives a fresh, empty ledger (and keeps what it needs).
async fn backends() -> Vec<(&'static str, Arc<dyn Ledger>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let file: Arc<dyn Ledger> = Arc::new(FileLedger::open(dir.path()).unwrap());
    #[cfg_attr(
        not(feature = "aws"),
        expect(unused_mut, reason = "only the `aws` feature adds a backend")
    )]
    let mut all: Vec<(&'static str, Arc<dyn Ledger>, Option<tempfile::TempDir>)> = vec![
        ("memory", Arc::new(MemoryLedger::new()), None),
        ("file", file, Some(dir)),
        (
            "boxed memory",
            Arc::new(Box::new(MemoryLedger::new())),
            None,
        ),
    ];
    #[cfg(feature = "aws")]
    match dynamo().await {
        Some(ledger) => all.push(("dynamodb", ledger, None)),
        None => eprintln!(
            "dynamodb ledger not tested: AWS_ENDPOINT_URL is not set (run scripts/test.sh)"
        ),
    }
    all
}

/// A ledger in a fresh table on moto.
#[cfg(feature = "aws")]
async fn dynamo() -> Option<Arc<dyn Ledger>> {
    use remedy::aws::{AwsSettings, StateTable};
    let url = std::env::var("AWS_ENDPOINT_URL").ok()?;
    let settings = AwsSettings::default()
        .with_endpoint_url(url)
        .with_region("us-east-1")
        .with_static_credentials("testing", "testing");
    let name = format!(
        "ledger-conformance-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let table = StateTable::new(&settings, name, 1).await;
    table.init().await.unwrap();
    Some(Arc::new(table.ledger()))
}

fn finding(id: &str) -> FindingContext {
    context(id, "UnauthorizedAccess:IAMUser/MaliciousIPCaller").unwrap()
}

fn planned(message: &str) -> PlannedAction {
    let mut plan = Plan::new(finding("x"), "v");
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
    plan.actions.remove(0)
}

async fn claim(
    ledger: &dyn Ledger,
    key: &LedgerKey,
    owner: &Owner,
    lease: Duration,
    f: &FindingContext,
    a: &PlannedAction,
) -> Claim {
    ledger
        .claim(&ClaimRequest {
            key,
            owner,
            lease,
            finding: f,
            action: a,
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ledger_keeps_the_contract() {
    for (name, ledger, _dir) in backends().await {
        let f = finding("f-1");
        let a = planned("m");
        let key = LedgerKey::new(&f, &a);
        let (one, two) = (Owner::with_run("one"), Owner::with_run("two"));
        let lease = Duration::from_secs(600);

        assert_eq!(ledger.get(&key).await.unwrap(), None, "{name}");
        assert_eq!(
            claim(&*ledger, &key, &one, lease, &f, &a).await,
            Claim::Acquired,
            "{name}"
        );
        // A live claim of another owner: in progress, not done.
        match claim(&*ledger, &key, &two, lease, &f, &a).await {
            Claim::InProgress(e) => {
                assert_eq!(e.owner.as_ref().unwrap().run, "one", "{name}");
                assert_eq!(e.finding.as_ref().unwrap().id, f.id, "{name}");
                assert_eq!(e.action.as_ref(), Some(&a), "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert_eq!(ledger.claims().await.unwrap().len(), 1, "{name}");
        // Another owner cannot release it; its owner can (a failure).
        ledger.release(&key, &two).await.unwrap();
        assert!(matches!(
            claim(&*ledger, &key, &two, lease, &f, &a).await,
            Claim::InProgress(_)
        ));
        ledger.release(&key, &one).await.unwrap();
        assert_eq!(ledger.get(&key).await.unwrap(), None, "{name}: released");
        assert_eq!(
            claim(&*ledger, &key, &two, lease, &f, &a).await,
            Claim::Acquired,
            "{name}"
        );
        ledger.complete(&key, &two, "done it").await.unwrap();
        match claim(&*ledger, &key, &one, lease, &f, &a).await {
            Claim::Done(e) => {
                assert_eq!(e.state, EntryState::Done);
                assert_eq!(e.details.as_deref(), Some("done it"));
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(ledger.claims().await.unwrap().is_empty(), "{name}");
        // A finished entry is not released by anyone.
        ledger.release(&key, &two).await.unwrap();
        assert!(matches!(
            ledger.get(&key).await.unwrap().map(|e| e.state),
            Some(EntryState::Done)
        ));

        // Expiry: a lease that ran out is taken over, with the entry as it was.
        let other = LedgerKey::new(&finding("f-2"), &a);
        assert_eq!(
            claim(&*ledger, &other, &one, Duration::ZERO, &f, &a).await,
            Claim::Acquired
        );
        match claim(&*ledger, &other, &two, lease, &f, &a).await {
            Claim::TakenOver(previous) => {
                assert_eq!(previous.owner.unwrap().run, "one", "{name}");
            }
            c => panic!("{name}: {c:?}"),
        }
        // Now two holds it: one's late release does not free it.
        ledger.release(&other, &one).await.unwrap();
        assert!(matches!(
            claim(&*ledger, &other, &one, lease, &f, &a).await,
            Claim::InProgress(_)
        ));

        // An owner whose process is gone (same host, no such process): expired at once.
        let mut dead = Owner::with_run("dead");
        dead.pid = u32::MAX - 7;
        let third = LedgerKey::new(&finding("f-3"), &a);
        claim(&*ledger, &third, &dead, lease, &f, &a).await;
        if dead.process_start.is_some() {
            assert!(
                matches!(
                    claim(&*ledger, &third, &one, lease, &f, &a).await,
                    Claim::TakenOver(_)
                ),
                "{name}"
            );
        }

        // Different messages are different keys; the same message is the same key.
        assert_ne!(
            LedgerKey::new(&f, &planned("a")),
            LedgerKey::new(&f, &planned("b"))
        );
        assert_eq!(
            LedgerKey::new(&f, &planned("a")),
            LedgerKey::new(&f, &planned("a"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_claimers_one_wins() {
    for (name, ledger, _dir) in backends().await {
        let f = finding("race");
        let a = planned("m");
        let key = LedgerKey::new(&f, &a);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..8 {
            let (ledger, key, f, a) = (Arc::clone(&ledger), key.clone(), f.clone(), a.clone());
            tasks.spawn(async move {
                let owner = Owner::with_run(format!("owner-{i}"));
                claim(&*ledger, &key, &owner, Duration::from_secs(60), &f, &a).await
            });
        }
        let mut acquired = 0;
        let mut in_progress = 0;
        while let Some(r) = tasks.join_next().await {
            match r.unwrap() {
                Claim::Acquired => acquired += 1,
                Claim::InProgress(_) => in_progress += 1,
                other => panic!("{name}: {other:?}"),
            }
        }
        assert_eq!((acquired, in_progress), (1, 7), "{name}");

        // Eight takers of one expired claim: one takes it over.
        let key = LedgerKey::new(&finding("race-2"), &a);
        claim(
            &*ledger,
            &key,
            &Owner::with_run("old"),
            Duration::ZERO,
            &f,
            &a,
        )
        .await;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..8 {
            let (ledger, key, f, a) = (Arc::clone(&ledger), key.clone(), f.clone(), a.clone());
            tasks.spawn(async move {
                let owner = Owner::with_run(format!("taker-{i}"));
                claim(&*ledger, &key, &owner, Duration::from_secs(60), &f, &a).await
            });
        }
        let mut taken = 0;
        while let Some(r) = tasks.join_next().await {
            if matches!(r.unwrap(), Claim::TakenOver(_)) {
                taken += 1;
            }
        }
        assert_eq!(taken, 1, "{name}");
    }
}

#[tokio::test]
async fn the_file_ledger_survives_a_restart_and_a_torn_entry() {
    let dir = tempfile::tempdir().unwrap();
    let f = finding("f-1");
    let a = planned("m");
    let key = LedgerKey::new(&f, &a);
    let one = Owner::with_run("one");
    {
        let ledger = FileLedger::open(dir.path()).unwrap();
        claim(&ledger, &key, &one, Duration::from_secs(60), &f, &a).await;
        ledger.complete(&key, &one, "done").await.unwrap();
    }
    let again = FileLedger::open(dir.path()).unwrap();
    assert_eq!(
        again.get(&key).await.unwrap().unwrap().state,
        EntryState::Done
    );
    // A claim file left empty by a crash counts as an expired claim: taken over, not "done".
    let torn = LedgerKey::new(&finding("f-torn"), &a);
    claim(&again, &torn, &one, Duration::from_secs(60), &f, &a).await;
    for entry in std::fs::read_dir(dir.path().join("claims")).unwrap() {
        std::fs::write(entry.unwrap().path(), b"").unwrap();
    }
    assert!(matches!(
        claim(
            &again,
            &torn,
            &Owner::with_run("two"),
            Duration::from_secs(60),
            &f,
            &a
        )
        .await,
        Claim::TakenOver(_)
    ));
}
