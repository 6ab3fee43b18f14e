//! The [`StateStore`] suite: fixed rate windows counted atomically under contention, windows
//! that roll over and are per key, a circuit breaker that one handle trips and another sees, and
//! a kill switch engaged and released.
//!
//! Every check takes two handles on the same state, `a` and `b`, as two workers would have (two
//! clients of one table, say); pass the same handle twice when your backend has only one. Each
//! check wants fresh state: the rate windows are counted from zero, the breaker and the kill
//! switch are closed.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use remedy::store::{MemoryState, StateStore};
//! use remedy::testing::conformance::state;
//!
//! // In your crate: #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn my_state_conforms() {
//!     // Your backend here: each call makes fresh state and two handles on it.
//!     let fresh = async || {
//!         let one = MemoryState::new();
//!         let a: Arc<dyn StateStore> = Arc::new(one.clone());
//!         let b: Arc<dyn StateStore> = Arc::new(one);
//!         (a, b)
//!     };
//!     state::all(fresh).await.unwrap();
//! }
//! # fn main() { let _ = my_state_conforms(); }
//! ```

use std::sync::Arc;

use super::{Check, ConformanceError};
use crate::config::RateLimit;
use crate::plan::ActionKind;
use crate::store::state::{Breaker, ChainHead, RateKey, StateStore, Stop};

const SUITE: &str = "state";

/// Two handles on the same state.
pub type Handles = (Arc<dyn StateStore>, Arc<dyn StateStore>);

/// Runs every check of the suite, each on fresh state from `fresh`: [`rate_contention`],
/// [`rate_windows`], [`breaker`], [`kill_switch`], [`chain_head`].
pub async fn all(mut fresh: impl AsyncFnMut() -> Handles) -> Result<(), ConformanceError> {
    let (a, b) = fresh().await;
    rate_contention(a, b).await?;
    let (a, b) = fresh().await;
    rate_windows(&*a, &*b).await?;
    let (a, b) = fresh().await;
    breaker(a, b).await?;
    let (a, b) = fresh().await;
    kill_switch(&*a, &*b).await?;
    let (a, b) = fresh().await;
    chain_head(&*a, &*b).await
}

/// An audit trail's head recorded on one handle is read on the other, per trail; a shorter head
/// never replaces a longer one.
pub async fn chain_head(a: &dyn StateStore, b: &dyn StateStore) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "chain_head");
    let head = |bytes: u64, hash: &str| ChainHead {
        bytes,
        hash: hash.into(),
    };
    c.equal(
        c.ok(a.chain_head("trail-a").await, "chain_head")?,
        None,
        "no head of a fresh trail",
    )?;
    c.ok(
        a.set_chain_head("trail-a", &head(100, "h1")).await,
        "set_chain_head",
    )?;
    c.ok(
        b.set_chain_head("trail-a", &head(50, "h0")).await,
        "set_chain_head",
    )?;
    c.equal(
        c.ok(b.chain_head("trail-a").await, "chain_head")?,
        Some(head(100, "h1")),
        "a shorter head does not replace a longer one",
    )?;
    c.ok(
        b.set_chain_head("trail-a", &head(200, "h2")).await,
        "set_chain_head",
    )?;
    c.equal(
        c.ok(a.chain_head("trail-a").await, "chain_head")?,
        Some(head(200, "h2")),
        "a longer head replaces it, seen on the other handle",
    )?;
    c.equal(
        c.ok(a.chain_head("trail-b").await, "chain_head")?,
        None,
        "each trail has its own head",
    )
}

/// Eight admits racing on both handles for a limit of three admit exactly three; a fourth in
/// the same window is refused.
pub async fn rate_contention(
    a: Arc<dyn StateStore>,
    b: Arc<dyn StateStore>,
) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "rate_contention");
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
        tasks.spawn(async move { store.admit(&key, limit, now).await });
    }
    let mut admitted = 0;
    while let Some(r) = tasks.join_next().await {
        if c.ok(c.joined(r)?, "admit")? {
            admitted += 1;
        }
    }
    c.equal(admitted, 3, "eight racing admits for a limit of three")?;
    let late = c.ok(a.admit(&key, limit, now + 1).await, "admit")?;
    c.equal(late, false, "a fourth admit in the window")
}

/// Windows are fixed: a limit of two per minute admits two in a window, refuses the third, and
/// admits again when the next window starts; another kind, another account or another window
/// length counts in its own window; a limit of zero admits nothing.
pub async fn rate_windows(a: &dyn StateStore, b: &dyn StateStore) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "rate_windows");
    let limit = RateLimit::new(2, 60);
    let key = RateKey::new(ActionKind::RUN_COMMAND);
    let start: u64 = 1_800_000_000;
    c.equal(
        limit.window_start(start + 59),
        start,
        "a window starts here",
    )?;
    let admit = async |store: &dyn StateStore, key: &RateKey, limit: RateLimit, at: u64| {
        c.ok(store.admit(key, limit, at).await, "admit")
    };
    c.equal(
        admit(a, &key, limit, start + 58).await?,
        true,
        "the first admit of a window",
    )?;
    c.equal(
        admit(b, &key, limit, start + 59).await?,
        true,
        "the second admit, on the other handle",
    )?;
    c.equal(
        admit(a, &key, limit, start + 59).await?,
        false,
        "the third admit of a window of two",
    )?;
    // The next window starts empty.
    c.equal(
        admit(b, &key, limit, start + 60).await?,
        true,
        "the first admit of the next window",
    )?;
    c.equal(
        admit(a, &key, limit, start + 119).await?,
        true,
        "the second admit of the next window",
    )?;
    c.equal(
        admit(a, &key, limit, start + 119).await?,
        false,
        "the third admit of the next window",
    )?;
    // Another kind, another account, another window length: other windows.
    let notify = RateKey::new(ActionKind::NOTIFY);
    c.equal(
        admit(a, &notify, limit, start + 119).await?,
        true,
        "another kind",
    )?;
    let other = key.clone().with_account("111122223333");
    c.equal(
        admit(a, &other, limit, start + 119).await?,
        true,
        "another account",
    )?;
    let longer = RateLimit::new(2, 120);
    c.equal(
        admit(a, &key, longer, start + 119).await?,
        true,
        "another window length",
    )?;
    // A limit of 0 admits nothing.
    let none = RateLimit::new(0, 60);
    let fresh = RateKey::new(ActionKind::DISABLE_ACCESS_KEY).with_account("444455556666");
    c.equal(
        admit(a, &fresh, none, start).await?,
        false,
        "a limit of zero",
    )
}

/// The breaker starts closed; eight trips racing on both handles open it once (exactly one trip
/// reports it opened it); both handles see it open until `open_until`, closed from then on, and
/// a new trip opens it again.
pub async fn breaker(
    a: Arc<dyn StateStore>,
    b: Arc<dyn StateStore>,
) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "breaker");
    let now = 1_800_000_000;
    c.equal(
        c.ok(a.breaker(now).await, "breaker")?,
        None,
        "a fresh breaker",
    )?;
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
                .trip(&open(now + 600, &format!("cause {i}")), now)
                .await
        });
    }
    let mut tripped = 0;
    while let Some(r) = tasks.join_next().await {
        if c.ok(c.joined(r)?, "trip")? {
            tripped += 1;
        }
    }
    c.equal(tripped, 1, "trips that opened the breaker, of eight racing")?;
    let Some(seen) = c.ok(b.breaker(now + 1).await, "breaker")? else {
        return Err(c.fail("the other handle sees the breaker closed after a trip"));
    };
    c.equal(seen.open_until, now + 600, "the breaker's open_until")?;
    c.ensure(seen.cause.starts_with("cause "), || {
        format!(
            "the breaker's cause is one of the trips', got {:?}",
            seen.cause
        )
    })?;
    let still = c.ok(a.breaker(now + 599).await, "breaker")?;
    c.equal(still, Some(seen), "the breaker a second before open_until")?;
    // Closed at `open_until`; a new trip opens it again.
    let closed = c.ok(a.breaker(now + 600).await, "breaker")?;
    c.equal(closed, None, "the breaker at open_until")?;
    let again = c.ok(b.trip(&open(now + 1200, "again"), now + 600).await, "trip")?;
    c.equal(again, true, "a trip of a closed breaker")?;
    let cause = c
        .ok(a.breaker(now + 601).await, "breaker")?
        .map(|b| b.cause);
    c.equal(
        cause.as_deref(),
        Some("again"),
        "the cause after a new trip",
    )
}

/// The kill switch starts released; engaged on one handle it is seen on the other with who and
/// why; released on the other, it is released for the first; releasing it again is no error.
pub async fn kill_switch(a: &dyn StateStore, b: &dyn StateStore) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "kill_switch");
    c.equal(c.ok(a.stop().await, "stop")?, None, "a fresh kill switch")?;
    let stop = Stop::new("alice@host", "incident 42");
    c.ok(a.set_stop(Some(&stop)).await, "set_stop")?;
    let seen = c.ok(b.stop().await, "stop")?;
    c.equal(
        seen,
        Some(stop.clone()),
        "the switch engaged on the other handle",
    )?;
    c.ensure(stop.to_string().contains("alice@host"), || {
        format!("a stop says who engaged it, got {stop}")
    })?;
    c.ok(b.set_stop(None).await, "set_stop(None)")?;
    c.equal(
        c.ok(a.stop().await, "stop")?,
        None,
        "the switch released on the other handle",
    )?;
    // Releasing a released switch is fine.
    c.ok(
        a.set_stop(None).await,
        "set_stop(None) of a released switch",
    )
}

fn open(open_until: u64, cause: &str) -> Breaker {
    Breaker {
        open_until,
        cause: cause.into(),
        at: "2026-12-01T00:00:00Z".into(),
        by: "run test".into(),
    }
}
