//! One contract for every approval store, the public suite
//! `remedy::testing::conformance::approval`: a request is created once however many runs ask at
//! once, it is listed while undecided, the first decision stands and every later one is refused
//! (also when deciders race on two handles), a result is kept, and unknown ids are errors. Runs
//! against memory, the file store (two handles on one directory) and, when `AWS_ENDPOINT_URL` is
//! set (moto, see `scripts/test.sh`), DynamoDB; without it the DynamoDB part says it did not run.

use std::sync::Arc;

use remedy::id::ApprovalId;
use remedy::store::approval::{ApprovalRequest, ApprovalStore, FileApprovals, MemoryApprovals};
use remedy::testing::conformance;

/// A backend: its name and two handles on the same store (as two workers would have).
type Pair = (&'static str, Arc<dyn ApprovalStore>, Arc<dyn ApprovalStore>);

async fn backends() -> Vec<(Pair, Option<tempfile::TempDir>)> {
    let memory = Arc::new(MemoryApprovals::new());
    let dir = tempfile::tempdir().unwrap();
    let file_a = FileApprovals::open(dir.path().join("approvals")).unwrap();
    let file_b = FileApprovals::open(dir.path().join("approvals")).unwrap();
    #[cfg_attr(
        not(feature = "aws"),
        expect(unused_mut, reason = "only the `aws` feature adds a backend")
    )]
    let mut all: Vec<(Pair, Option<tempfile::TempDir>)> = vec![
        (("memory", memory.clone(), memory), None),
        (("file", Arc::new(file_a), Arc::new(file_b)), Some(dir)),
    ];
    #[cfg(feature = "aws")]
    match dynamo::pair().await {
        Some((a, b)) => all.push((("dynamodb", a, b), None)),
        None => eprintln!(
            "dynamodb approvals not tested: AWS_ENDPOINT_URL is not set (run scripts/test.sh)"
        ),
    }
    all
}

#[cfg(feature = "aws")]
mod dynamo {
    use std::sync::Arc;

    use remedy::aws::{AwsSettings, StateTable};
    use remedy::store::approval::ApprovalStore;

    /// A fresh table on moto and two stores on it, each with its own client.
    pub(super) async fn pair() -> Option<(Arc<dyn ApprovalStore>, Arc<dyn ApprovalStore>)> {
        let url = std::env::var("AWS_ENDPOINT_URL").ok()?;
        let settings = AwsSettings::default()
            .with_endpoint_url(url)
            .with_region("us-east-1")
            .with_static_credentials("testing", "testing");
        let name = format!(
            "approval-conformance-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let one = StateTable::new(&settings, &name, 1).await;
        one.init().await.unwrap();
        let two = StateTable::new(&settings, &name, 1).await;
        Some((Arc::new(one.approvals()), Arc::new(two.approvals())))
    }
}

/// A request for disabling `key` of finding `finding_id`, expiring at `expires_at`.
fn request(finding_id: &str, key: &str, expires_at: u64) -> ApprovalRequest {
    conformance::approval::request(finding_id, key, expires_at).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_created_once_and_listed_while_undecided() {
    for ((name, a, b), _dir) in backends().await {
        if let Err(e) = conformance::approval::created_once(&*a, &*b).await {
            panic!("{name}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_decision_stands_and_later_ones_are_refused() {
    for ((name, a, b), _dir) in backends().await {
        if let Err(e) = conformance::approval::first_decision_stands(&*a, &*b).await {
            panic!("{name}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_deciders_and_askers_each_have_exactly_one_winner() {
    for ((name, a, b), _dir) in backends().await {
        if let Err(e) = conformance::approval::racing(a, b).await {
            panic!("{name}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_are_errors_and_pending_is_oldest_first() {
    for ((name, a, b), _dir) in backends().await {
        if let Err(e) = conformance::approval::unknown_ids_and_order(&*a, &*b).await {
            panic!("{name}: {e}");
        }
    }
}

/// The suite's `all`, as a backend author calls it: every check on one store, through two
/// handles (or one handle twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_runs_every_check_on_one_store() {
    let memory: Arc<dyn ApprovalStore> = Arc::new(MemoryApprovals::new());
    conformance::approval::all(Arc::clone(&memory), memory)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file: Arc<dyn ApprovalStore> = Arc::new(FileApprovals::open(dir.path()).unwrap());
    conformance::approval::all(Arc::clone(&file), file)
        .await
        .unwrap();
}

#[test]
fn ids_are_derived_from_the_key_and_refuse_paths() {
    let one = request("f-1", "AKIAIOSFODNN7EXAMPLE", 1);
    let again = request("f-1", "AKIAIOSFODNN7EXAMPLE", 2);
    let other = request("f-1", "AKIAI44QH8DHBEXAMPLE", 1);
    assert_eq!(one.id, again.id, "one action of one finding is one request");
    assert_ne!(one.id, other.id);
    for bad in [
        "apr-../../etc/passwd",
        "apr-0123",
        "APR-0123456789ABCDEF0123",
        "",
    ] {
        assert!(ApprovalId::new(bad).is_err(), "{bad}");
    }
}
