//! Target locks: one destructive action on one target at a time, whichever finding chose it.
//!
//! The ledger keys an action by its finding, so two findings about the same access key (or
//! instance) are two entries and could run at once, on two workers or in one run. Before a
//! destructive action runs, it takes its target's lock: in the process first (actions of one run
//! or worker queue up without a call), then in the ledger ([`LedgerKey::target_lock`], which
//! other processes see), waiting a few seconds for another process's holder to finish; the lock
//! is released after the executor returns.
//! So the second finding finds the key already disabled (`already_done`) instead of disabling it
//! a second time at the same moment. A lock left by a process that died expires with its lease
//! (at once when the process was on this host).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;

use super::Remediator;
use super::carry::Request;
use super::guard::Trail;
use crate::action::{ActionError, ErrorKind, Outcome};
use crate::store::audit::Guard;
use crate::store::ledger::{Claim, ClaimRequest, LedgerKey};

/// How long an action waits for another process's action on its target to finish; after that it
/// is `in_progress`, and a queue delivers it again later (polling a shared table for longer would
/// only load it).
const WAIT: Duration = Duration::from_secs(3);

/// The targets this process is acting on: one async mutex each, while anyone holds or waits.
#[derive(Debug, Default)]
pub(crate) struct LocalLocks {
    targets: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl LocalLocks {
    async fn take(&self, target: String) -> OwnedMutexGuard<()> {
        let mutex = {
            let mut targets = self.targets.lock().unwrap_or_else(PoisonError::into_inner);
            // Forget the targets nobody holds or waits for.
            targets.retain(|_, m| Arc::strong_count(m) > 1);
            Arc::clone(targets.entry(target).or_default())
        };
        mutex.lock_owned().await
    }
}

/// A target's lock, held while its action runs: the ledger entry and this process's guard.
pub(super) struct TargetLock {
    pub(super) key: LedgerKey,
    _local: OwnedMutexGuard<()>,
}

impl Remediator {
    /// Takes the lock of `key`'s target, waiting up to [`WAIT`] for its holder; the lock, or the
    /// outcome that ends the action: `in_progress` while another action on the target still runs
    /// (a queue redelivers it), `failed` when the ledger cannot be written.
    pub(super) async fn lock(
        &self,
        key: &LedgerKey,
        request: &Request<'_>,
        trail: &mut Trail,
    ) -> Result<TargetLock, Outcome> {
        let inner = &self.inner;
        let lock = key.target_lock();
        let local = inner.locks.take(lock.joined()).await;
        let claim = ClaimRequest {
            key: &lock,
            owner: &inner.owner,
            lease: inner.lease,
            finding: request.finding,
            action: request.planned,
        };
        let mut pause = Duration::from_millis(250);
        let mut waited = Duration::ZERO;
        loop {
            match inner.ledger.claim(&claim).await {
                Ok(Claim::Acquired | Claim::TakenOver(_)) => {
                    if !waited.is_zero() {
                        trail.note(
                            Guard::Ledger,
                            format!(
                                "waited {} ms for another action on the target",
                                waited.as_millis()
                            ),
                        );
                    }
                    return Ok(TargetLock {
                        key: lock,
                        _local: local,
                    });
                }
                // A lock is released, never finished; an entry that says otherwise is cleared.
                Ok(Claim::Done(_)) => {
                    if let Err(e) = inner.ledger.release(&lock, &inner.owner).await {
                        tracing::error!("{e}");
                    }
                }
                Ok(Claim::InProgress(entry)) => {
                    if waited >= WAIT || inner.shutdown.is_stopping() {
                        let by = entry
                            .owner
                            .as_ref()
                            .map_or_else(|| "an unknown run".to_owned(), ToString::to_string);
                        trail.block(
                            Guard::Ledger,
                            "another action on the same target is running",
                        );
                        return Err(Outcome::InProgress {
                            details: format!(
                                "another action on `{}` is running (claimed by {by} at {})",
                                lock.target, entry.at
                            ),
                        });
                    }
                }
                Err(e) => {
                    trail.block(Guard::Ledger, e.to_string());
                    return Err(Outcome::Failed(ActionError::new(
                        ErrorKind::StateUnavailable,
                        format!("not executed: the ledger is unavailable: {e}"),
                    )));
                }
            }
            // The last pause ends when the wait does.
            let pause_now = pause
                .min(WAIT.saturating_sub(waited))
                .max(Duration::from_millis(1));
            tokio::time::sleep(pause_now).await;
            waited += pause_now;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }
}
