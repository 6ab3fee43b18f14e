//! The [`ThreadStore`] suite: a parent recorded by one handle is read by the other, the first
//! parent holds, and of eight racing first messages one parent is kept and returned to all.
//!
//! Every check takes two handles on the same store, `a` and `b`, as two workers would have; pass
//! the same handle twice when your backend has only one. Keys are unique per check, so a store
//! that already holds threads is fine.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use remedy::store::{MemoryThreads, ThreadStore};
//! use remedy::testing::conformance::thread;
//!
//! // In your crate: #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn my_threads_conform() {
//!     let one: Arc<dyn ThreadStore> = Arc::new(MemoryThreads::new());
//!     thread::all(Arc::clone(&one), one).await.unwrap();
//! }
//! # fn main() { let _ = my_threads_conform(); }
//! ```

use std::sync::Arc;

use super::{Check, ConformanceError, unique};
use crate::store::thread::{ThreadKey, ThreadStore};

const SUITE: &str = "thread";

/// Runs every check of the suite: [`first_parent_holds`], [`contention`].
pub async fn all(a: Arc<dyn ThreadStore>, b: Arc<dyn ThreadStore>) -> Result<(), ConformanceError> {
    first_parent_holds(&*a, &*b).await?;
    contention(a, b).await
}

/// A thread without a parent reads `None`; a parent set through `a` is read through `b`; a second
/// `set_parent` returns the first parent and changes nothing; threads are per channel and per
/// finding.
pub async fn first_parent_holds(
    a: &dyn ThreadStore,
    b: &dyn ThreadStore,
) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "first_parent_holds");
    let finding = unique("finding");
    let key = ThreadKey::new("slack:C0123456789", finding.as_str());
    c.equal(c.ok(a.parent(&key).await, "parent")?, None, "a new thread")?;
    let kept = c.ok(a.set_parent(&key, "1700000000.000100").await, "set_parent")?;
    c.equal(kept.as_str(), "1700000000.000100", "the first parent set")?;
    c.equal(
        c.ok(b.parent(&key).await, "parent")?.as_deref(),
        Some("1700000000.000100"),
        "the parent read through the other handle",
    )?;
    let again = c.ok(b.set_parent(&key, "1700000999.000200").await, "set_parent")?;
    c.equal(
        again.as_str(),
        "1700000000.000100",
        "a second set_parent's answer",
    )?;
    c.equal(
        c.ok(a.parent(&key).await, "parent")?.as_deref(),
        Some("1700000000.000100"),
        "the parent after a second set_parent",
    )?;
    let other_channel = ThreadKey::new("email:secops@example.com", finding.as_str());
    c.equal(
        c.ok(a.parent(&other_channel).await, "parent")?,
        None,
        "the same finding on another channel",
    )?;
    let other_finding = ThreadKey::new("slack:C0123456789", unique("finding"));
    c.equal(
        c.ok(b.parent(&other_finding).await, "parent")?,
        None,
        "another finding on the same channel",
    )
}

/// Eight workers post the first message of one thread at once: every one of them gets the same
/// parent back, one of the eight.
pub async fn contention(
    a: Arc<dyn ThreadStore>,
    b: Arc<dyn ThreadStore>,
) -> Result<(), ConformanceError> {
    let c = Check::new(SUITE, "contention");
    let key = ThreadKey::new("slack:C0123456789", unique("finding"));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = if i % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        let key = key.clone();
        tasks.spawn(async move { store.set_parent(&key, &format!("parent-{i}")).await });
    }
    let mut kept = Vec::new();
    while let Some(r) = tasks.join_next().await {
        kept.push(c.ok(c.joined(r)?, "set_parent")?);
    }
    let first = kept.first().cloned().unwrap_or_default();
    c.ensure(kept.iter().all(|p| *p == first), || {
        format!("racing set_parent calls got different parents: {kept:?}")
    })?;
    c.ensure(first.starts_with("parent-"), || {
        format!("the parent kept is one of those set, got {first:?}")
    })?;
    c.equal(
        c.ok(a.parent(&key).await, "parent")?,
        Some(first),
        "the parent read after the race",
    )
}
