//! Conformance suites for the store traits: run the checks remedy's own backends pass against
//! yours, from your own `cargo test`.
//!
//! | trait | suite |
//! | --- | --- |
//! | [`Ledger`](crate::store::Ledger) | [`ledger`] |
//! | [`StateStore`](crate::store::StateStore) | [`state`] |
//! | [`ApprovalStore`](crate::store::ApprovalStore) | [`approval`] |
//! | [`AuditSink`](crate::store::AuditSink) | [`audit`] |
//! | [`ThreadStore`](crate::store::ThreadStore) | [`thread`] |
//!
//! Each suite is a handful of async check functions, one per part of the contract, and an `all`
//! function that runs every check of the suite. The checks take the backend from you (remedy
//! does not know how to make yours): some want a fresh, empty one (said in their docs; the `all`
//! of such a suite asks you for a fresh backend per check, with an async closure), some two
//! handles on the same store (as two workers would have; pass the same handle twice when your
//! backend has no other way), some an `Arc` to share between racing tasks. Checks that only make
//! sense for one backend (a file store surviving a restart, a torn file) are not here: keep them
//! in your own tests.
//!
//! A check returns `Ok(())` or a [`ConformanceError`] naming the suite, the check and what was
//! wrong; it never panics on its own (an error of your backend is a failed check, and a panic of
//! your backend inside a racing task is reported as one too). Return the result from your test,
//! or `unwrap` it. Run the suites on a multi-thread runtime: the contention checks race tasks,
//! and on one thread they would not race.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use remedy::store::{Ledger, MemoryLedger};
//! use remedy::testing::conformance::{ConformanceError, ledger};
//!
//! // In your crate: #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn my_ledger_keeps_the_contract() -> Result<(), ConformanceError> {
//!     // Every check, each on a fresh, empty ledger (yours instead of `MemoryLedger`).
//!     ledger::all(async || Arc::new(MemoryLedger::new()) as Arc<dyn Ledger>).await?;
//!     // Or one check, on a ledger you made for it.
//!     let mine: Arc<dyn Ledger> = Arc::new(MemoryLedger::new());
//!     ledger::contention(mine).await
//! }
//! # fn main() { let _ = my_ledger_keeps_the_contract(); }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

pub mod approval;
pub mod audit;
pub mod ledger;
pub mod state;
pub mod thread;

/// A check of a conformance suite that a backend did not pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{suite} conformance, check `{check}`: {message}")]
#[non_exhaustive]
pub struct ConformanceError {
    /// The suite: `ledger`, `state`, `approval` or `audit`.
    pub suite: &'static str,
    /// The check, as its function is named (`contract`, `contention`, ...).
    pub check: &'static str,
    /// What was wrong: the step, what was expected and what the backend did.
    pub message: String,
}

/// The check being run: makes its errors.
#[derive(Debug, Clone, Copy)]
struct Check {
    suite: &'static str,
    check: &'static str,
}

impl Check {
    fn new(suite: &'static str, check: &'static str) -> Self {
        Self { suite, check }
    }

    /// A failure of this check.
    fn fail(self, message: impl Into<String>) -> ConformanceError {
        ConformanceError {
            suite: self.suite,
            check: self.check,
            message: message.into(),
        }
    }

    /// Fails with `what` unless `holds`.
    fn ensure(self, holds: bool, what: impl FnOnce() -> String) -> Result<(), ConformanceError> {
        if holds {
            Ok(())
        } else {
            Err(self.fail(what()))
        }
    }

    /// Fails unless `got == want`, saying `what` was compared.
    fn equal<T: PartialEq + fmt::Debug>(
        self,
        got: T,
        want: T,
        what: &str,
    ) -> Result<(), ConformanceError> {
        self.ensure(got == want, || {
            format!("{what}: expected {want:?}, got {got:?}")
        })
    }

    /// The value of a backend call, or a failure saying which call failed.
    fn ok<T, E: fmt::Display>(
        self,
        result: Result<T, E>,
        what: &str,
    ) -> Result<T, ConformanceError> {
        result.map_err(|e| self.fail(format!("{what} failed: {e}")))
    }

    /// The value of a racing task, or a failure when it panicked or was cancelled.
    fn joined<T>(self, joined: Result<T, tokio::task::JoinError>) -> Result<T, ConformanceError> {
        joined.map_err(|e| {
            if e.is_panic() {
                self.fail("a racing task panicked")
            } else {
                self.fail(format!("a racing task did not finish: {e}"))
            }
        })
    }
}

/// A string no other check (of this process or an earlier one) uses: `prefix`, the time, the
/// process and a counter.
fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}-{nanos}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
