//! One contract for every shared-state backend: fixed rate windows counted atomically under
//! contention, windows that roll over, a breaker that one store trips and another sees, and a kill
//! switch engaged and released. Runs against memory (plain, boxed, behind `Arc`) and, when
//! `AWS_ENDPOINT_URL` is set (moto, see `scripts/test.sh`), DynamoDB; without it the DynamoDB part
//! says it did not run.

use std::sync::Arc;

use remedy::ActionKind;
use remedy::config::RateLimit;
use remedy::store::state::{Breaker, MemoryState, RateKey, StateStore, Stop};

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

fn breaker(open_until: u64, cause: &str) -> Breaker {
    Breaker {
        open_until,
        cause: cause.into(),
        at: "2026-12-01T00:00:00Z".into(),
        by: "run test".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_admits_of_three_admit_exactly_three() {
    for (name, a, b) in backends().await {
        let key = RateKey::new(ActionKind::DISABLE_ACCESS_KEY);
        let limit = RateLimit::new(3, 3600);
        let now = 1_800_000_000;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..8 {
            let store = if i % 2 == 0 {
                Arc::clone(&a)
            } else {
                Arc::clone(&b)
            };
            let key = key.clone();
            tasks.spawn(async move { store.admit(&key, limit, now).await.unwrap() });
        }
        let mut admitted = 0;
        while let Some(r) = tasks.join_next().await {
            if r.unwrap() {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 3, "{name}");
        assert!(!a.admit(&key, limit, now + 1).await.unwrap(), "{name}");
    }
}

#[tokio::test]
async fn windows_are_fixed_roll_over_and_are_per_key() {
    for (name, a, b) in backends().await {
        let limit = RateLimit::new(2, 60);
        let key = RateKey::new(ActionKind::RUN_COMMAND);
        let start: u64 = 1_800_000_000;
        assert_eq!(
            limit.window_start(start + 59),
            start,
            "a window starts here"
        );
        assert!(a.admit(&key, limit, start + 58).await.unwrap(), "{name}");
        assert!(b.admit(&key, limit, start + 59).await.unwrap(), "{name}");
        assert!(!a.admit(&key, limit, start + 59).await.unwrap(), "{name}");
        // The next window starts empty.
        assert!(b.admit(&key, limit, start + 60).await.unwrap(), "{name}");
        assert!(a.admit(&key, limit, start + 119).await.unwrap(), "{name}");
        assert!(!a.admit(&key, limit, start + 119).await.unwrap(), "{name}");
        // Another kind, another account, another window length: other windows.
        let notify = RateKey::new(ActionKind::NOTIFY);
        assert!(
            a.admit(&notify, limit, start + 119).await.unwrap(),
            "{name}"
        );
        let other = key.clone().with_account("111122223333");
        assert!(a.admit(&other, limit, start + 119).await.unwrap(), "{name}");
        let longer = RateLimit::new(2, 120);
        assert!(a.admit(&key, longer, start + 119).await.unwrap(), "{name}");
        // A limit of 0 admits nothing.
        let none = RateLimit::new(0, 60);
        let fresh = RateKey::new(ActionKind::DISABLE_ACCESS_KEY).with_account("444455556666");
        assert!(!a.admit(&fresh, none, start).await.unwrap(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trip_is_seen_by_every_store_and_happens_once() {
    for (name, a, b) in backends().await {
        let now = 1_800_000_000;
        assert_eq!(a.breaker(now).await.unwrap(), None, "{name}");
        // Eight workers trip at once: one of them opened it.
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..8 {
            let store = if i % 2 == 0 {
                Arc::clone(&a)
            } else {
                Arc::clone(&b)
            };
            tasks.spawn(async move {
                store
                    .trip(&breaker(now + 600, &format!("cause {i}")), now)
                    .await
                    .unwrap()
            });
        }
        let mut tripped = 0;
        while let Some(r) = tasks.join_next().await {
            if r.unwrap() {
                tripped += 1;
            }
        }
        assert_eq!(tripped, 1, "{name}");
        let seen = b.breaker(now + 1).await.unwrap().expect(name);
        assert_eq!(seen.open_until, now + 600, "{name}");
        assert!(seen.cause.starts_with("cause "), "{name}");
        assert_eq!(a.breaker(now + 599).await.unwrap(), Some(seen), "{name}");
        // Closed at `open_until`; a new trip opens it again.
        assert_eq!(a.breaker(now + 600).await.unwrap(), None, "{name}");
        assert!(
            b.trip(&breaker(now + 1200, "again"), now + 600)
                .await
                .unwrap(),
            "{name}"
        );
        assert_eq!(
            a.breaker(now + 601).await.unwrap().unwrap().cause,
            "again",
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_kill_switch_is_shared_and_says_who_and_why() {
    for (name, a, b) in backends().await {
        assert_eq!(a.stop().await.unwrap(), None, "{name}");
        let stop = Stop::new("alice@host", "incident 42");
        a.set_stop(Some(&stop)).await.unwrap();
        assert_eq!(b.stop().await.unwrap(), Some(stop.clone()), "{name}");
        assert!(stop.to_string().contains("alice@host"), "{name}");
        b.set_stop(None).await.unwrap();
        assert_eq!(a.stop().await.unwrap(), None, "{name}");
        // Releasing a released switch is fine.
        a.set_stop(None).await.unwrap();
    }
}
