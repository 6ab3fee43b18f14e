//! One contract for every approval store: a request is created once however many runs ask at
//! once, it is listed while undecided, the first decision stands and every later one is refused
//! (also when deciders race on two handles), a result is kept, and unknown ids are errors. Runs
//! against memory, the file store (two handles on one directory) and, when `AWS_ENDPOINT_URL` is
//! set (moto, see `scripts/test.sh`), DynamoDB; without it the DynamoDB part says it did not run.

use std::sync::Arc;

use remedy::config::OnTimeout;
use remedy::id::{AccessKeyId, ApprovalId, UserName};
use remedy::plan::{DisableAccessKey, FindingContext, PlannedAction, Source};
use remedy::store::approval::{
    ApprovalError, ApprovalRequest, ApprovalStore, FileApprovals, MemoryApprovals,
};
use remedy::store::approval::{Decision, Requested, Verdict, approval_id};
use remedy::store::ledger::{LedgerKey, Owner};
use remedy::{Action, FindingType, Severity};

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
    let finding = FindingContext::new(
        finding_id,
        FindingType::new("UnauthorizedAccess:IAMUser/MaliciousIPCaller").unwrap(),
        Severity::new(8.0).unwrap(),
    );
    let mut plan = remedy::Plan::new(finding.clone(), "v1");
    plan.push(
        Action::DisableAccessKey(DisableAccessKey {
            user_name: UserName::new("alice").unwrap(),
            access_key_id: AccessKeyId::new(key).unwrap(),
        }),
        Source {
            policy: "disable-key".into(),
            version: "v1".into(),
            reason: Some("a malicious IP".into()),
            line: Some(3),
        },
    );
    let action: PlannedAction = plan.actions.remove(0);
    let key = LedgerKey::new(&finding, &action);
    ApprovalRequest {
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
    }
}

fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_created_once_and_listed_while_undecided() {
    for ((name, a, b), _dir) in backends().await {
        let r = request(&unique("f"), "AKIAIOSFODNN7EXAMPLE", 2_000_000_000);
        assert_eq!(a.request(&r).await.unwrap(), Requested::Created, "{name}");
        match b.request(&r).await.unwrap() {
            Requested::Exists(existing) => {
                assert_eq!(existing.id, r.id, "{name}");
                assert!(existing.is_pending(), "{name}");
                assert_eq!(
                    existing.action, r.action,
                    "{name}: the plan survives the store"
                );
                assert_eq!(existing.finding.id, r.finding.id, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        let got = b.get(&r.id).await.unwrap().unwrap();
        assert_eq!(got, r, "{name}: read back as written");
        let pending = b.pending().await.unwrap();
        assert!(pending.iter().any(|p| p.id == r.id), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_decision_stands_and_later_ones_are_refused() {
    for ((name, a, b), _dir) in backends().await {
        let r = request(&unique("f"), "AKIAIOSFODNN7EXAMPLE", 2_000_000_000);
        a.request(&r).await.unwrap();
        let yes = Decision::by(Verdict::Approve, "alice", Some("checked".into()));
        let decided = a.decide(&r.id, &yes).await.unwrap();
        assert_eq!(decided.decision.as_ref(), Some(&yes), "{name}");
        let no = Decision::by(Verdict::Deny, "mallory", None);
        match b.decide(&r.id, &no).await {
            Err(ApprovalError::AlreadyDecided { decision, .. }) => {
                assert_eq!(*decision, yes, "{name}: the first decision is reported");
            }
            other => panic!("{name}: {other:?}"),
        }
        let stored = b.get(&r.id).await.unwrap().unwrap();
        assert_eq!(stored.decision, Some(yes), "{name}: unchanged");
        assert!(
            !b.pending().await.unwrap().iter().any(|p| p.id == r.id),
            "{name}: a decided request is not pending"
        );
        assert!(
            b.unfinished().await.unwrap().iter().any(|p| p.id == r.id),
            "{name}: decided, but its action has no result yet"
        );
        b.finish(&r.id, "executed: key disabled").await.unwrap();
        assert!(
            !a.unfinished().await.unwrap().iter().any(|p| p.id == r.id),
            "{name}: finished"
        );
        let stored = a.get(&r.id).await.unwrap().unwrap();
        assert_eq!(stored.result.as_deref(), Some("executed: key disabled"));
        // Asking again finds the decided request: a redelivery does not ask twice.
        match a.request(&r).await.unwrap() {
            Requested::Exists(existing) => assert!(!existing.is_pending(), "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_deciders_and_askers_each_have_exactly_one_winner() {
    for ((name, a, b), _dir) in backends().await {
        let r = request(&unique("f"), "AKIAIOSFODNN7EXAMPLE", 2_000_000_000);
        let mut asks = tokio::task::JoinSet::new();
        for i in 0..8 {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let r = r.clone();
            asks.spawn(async move { store.request(&r).await.unwrap() });
        }
        let created = asks
            .join_all()
            .await
            .into_iter()
            .filter(|c| *c == Requested::Created)
            .count();
        assert_eq!(
            created, 1,
            "{name}: one of eight askers creates the request"
        );

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
        let results = decisions.join_all().await;
        let winners: Vec<&Decision> = results
            .iter()
            .filter_map(|(d, r)| r.as_ref().ok().map(|_| d))
            .collect();
        assert_eq!(winners.len(), 1, "{name}: {results:?}");
        for (_, result) in &results {
            if let Err(e) = result {
                assert!(
                    matches!(e, ApprovalError::AlreadyDecided { .. }),
                    "{name}: {e}"
                );
            }
        }
        let stored = a.get(&r.id).await.unwrap().unwrap();
        assert_eq!(stored.decision.as_ref(), Some(winners[0]), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_are_errors_and_pending_is_oldest_first() {
    for ((name, a, b), _dir) in backends().await {
        let nobody = ApprovalId::new("apr-0123456789abcdef0123").unwrap();
        assert_eq!(a.get(&nobody).await.unwrap(), None, "{name}");
        let d = Decision::by(Verdict::Approve, "alice", None);
        assert!(
            matches!(a.decide(&nobody, &d).await, Err(ApprovalError::NotFound(_))),
            "{name}"
        );
        assert!(
            matches!(
                a.finish(&nobody, "x").await,
                Err(ApprovalError::NotFound(_))
            ),
            "{name}"
        );
        let later = request(&unique("f"), "AKIAIOSFODNN7EXAMPLE", 2_000_000_500);
        let sooner = request(&unique("f"), "AKIAIOSFODNN7EXAMPLE", 2_000_000_100);
        a.request(&later).await.unwrap();
        b.request(&sooner).await.unwrap();
        let ids: Vec<ApprovalId> = a
            .pending()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        let s = ids.iter().position(|i| *i == sooner.id).unwrap();
        let l = ids.iter().position(|i| *i == later.id).unwrap();
        assert!(s < l, "{name}: {ids:?}");
    }
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
