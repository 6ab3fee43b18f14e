//! One contract for every ledger backend, the public suite `remedy::testing::conformance::ledger`
//! (claims are atomic under contention, leases expire and are taken over, a failure releases the
//! claim, a finished entry stays finished, and the owner's process dying expires its claims at
//! once), run against memory, files and, when `AWS_ENDPOINT_URL` is set (moto, see
//! `scripts/test.sh`), DynamoDB; without it the DynamoDB part says it did not run. What only the
//! file ledger promises (a restart, a torn entry) is checked here.

use std::sync::Arc;
use std::time::Duration;

use remedy::plan::{FindingContext, Notify, PlannedAction, Source};
use remedy::store::ledger::{
    Claim, ClaimRequest, EntryState, FileLedger, Ledger, LedgerKey, MemoryLedger, Owner,
};
use remedy::testing::{conformance, context};
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
        if let Err(e) = conformance::ledger::contract(&*ledger).await {
            panic!("{name}: {e}");
        }
    }
    // Different messages are different keys; the same message is the same key.
    let f = finding("f-1");
    assert_ne!(
        LedgerKey::new(&f, &planned("a")),
        LedgerKey::new(&f, &planned("b"))
    );
    assert_eq!(
        LedgerKey::new(&f, &planned("a")),
        LedgerKey::new(&f, &planned("a"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_claimers_one_wins() {
    for (name, ledger, _dir) in backends().await {
        if let Err(e) = conformance::ledger::contention(ledger).await {
            panic!("{name}: {e}");
        }
    }
}

/// The suite's `all`, as a backend author calls it: each check on a fresh ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_runs_every_check_on_fresh_ledgers() {
    conformance::ledger::all(async || Arc::new(MemoryLedger::new()) as Arc<dyn Ledger>)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    conformance::ledger::all(async || {
        n += 1;
        Arc::new(FileLedger::open(dir.path().join(n.to_string())).unwrap()) as Arc<dyn Ledger>
    })
    .await
    .unwrap();
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
