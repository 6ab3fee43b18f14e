//! One contract for every shared-state backend, the public suite
//! `remedy::testing::conformance::state` (fixed rate windows counted atomically under contention,
//! windows that roll over, a breaker that one store trips and another sees, and a kill switch
//! engaged and released), run against memory (plain, boxed, behind `Arc`) and, when
//! `AWS_ENDPOINT_URL` is set (moto, see `scripts/test.sh`), DynamoDB; without it the DynamoDB part
//! says it did not run.

use std::sync::Arc;

use remedy::store::state::{MemoryState, StateStore};
use remedy::testing::conformance;

/// A backend: its name and two handles on the same state.
type Pair = (&'static str, Arc<dyn StateStore>, Arc<dyn StateStore>);

/// Pairs of stores over the same state (two handles, as two workers would have); each call gives
/// fresh state.
async fn backends() -> Vec<Pair> {
    let memory = MemoryState::new();
    let boxed = MemoryState::new();
    #[cfg_attr(
        not(feature = "aws"),
        expect(unused_mut, reason = "only the `aws` feature adds a backend")
    )]
    let mut all: Vec<Pair> = vec![
        ("memory", Arc::new(memory.clone()), Arc::new(memory)),
        (
            "boxed memory",
            Arc::new(Box::new(boxed.clone())),
            Arc::new(boxed),
        ),
    ];
    #[cfg(feature = "aws")]
    match dynamo::pair().await {
        Some((a, b)) => all.push(("dynamodb", a, b)),
        None => eprintln!(
            "dynamodb state not tested: AWS_ENDPOINT_URL is not set (run scripts/test.sh)"
        ),
    }
    all
}

#[cfg(feature = "aws")]
mod dynamo {
    use std::sync::Arc;

    use remedy::aws::{AwsSettings, StateTable};
    use remedy::store::state::StateStore;

    /// A fresh table on moto and two stores on it, each with its own client.
    pub(super) async fn pair() -> Option<(Arc<dyn StateStore>, Arc<dyn StateStore>)> {
        let url = std::env::var("AWS_ENDPOINT_URL").ok()?;
        let settings = AwsSettings::default()
            .with_endpoint_url(url)
            .with_region("us-east-1")
            .with_static_credentials("testing", "testing");
        let name = format!(
            "state-conformance-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let one = StateTable::new(&settings, &name, 1).await;
        one.init().await.unwrap();
        let two = StateTable::new(&settings, &name, 1).await;
        Some((Arc::new(one.state()), Arc::new(two.state())))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_admits_of_three_admit_exactly_three() {
    for (name, a, b) in backends().await {
        if let Err(e) = conformance::state::rate_contention(a, b).await {
            panic!("{name}: {e}");
        }
    }
}

#[tokio::test]
async fn windows_are_fixed_roll_over_and_are_per_key() {
    for (name, a, b) in backends().await {
        if let Err(e) = conformance::state::rate_windows(&*a, &*b).await {
            panic!("{name}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trip_is_seen_by_every_store_and_happens_once() {
    for (name, a, b) in backends().await {
        if let Err(e) = conformance::state::breaker(a, b).await {
            panic!("{name}: {e}");
        }
    }
}

#[tokio::test]
async fn the_kill_switch_is_shared_and_says_who_and_why() {
    for (name, a, b) in backends().await {
        if let Err(e) = conformance::state::kill_switch(&*a, &*b).await {
            panic!("{name}: {e}");
        }
    }
}

#[tokio::test]
async fn the_audit_trails_head_is_shared_and_never_moves_back() {
    for (name, a, b) in backends().await {
        if let Err(e) = conformance::state::chain_head(&*a, &*b).await {
            panic!("{name}: {e}");
        }
    }
}

/// The suite's `all`, as a backend author calls it: each check on fresh state, through two
/// handles (or one handle twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_runs_every_check_on_fresh_state() {
    conformance::state::all(async || {
        let state = MemoryState::new();
        let a: Arc<dyn StateStore> = Arc::new(state.clone());
        (a, Arc::new(state) as Arc<dyn StateStore>)
    })
    .await
    .unwrap();
    conformance::state::all(async || {
        let one: Arc<dyn StateStore> = Arc::new(MemoryState::new());
        (Arc::clone(&one), one)
    })
    .await
    .unwrap();
}
