//! [`Shutdown`]: stopping a remediator gracefully.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Stops a remediator gracefully: once stopped, no action starts (each is recorded as skipped,
/// `interrupted`); actions already running get until the grace period ends, then are abandoned
/// and recorded as failed with their effect unknown (their claims stay, so the next run verifies
/// and finishes them). Clones share the state.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    stopping: AtomicBool,
    deadline: Mutex<Option<Instant>>,
    changed: Notify,
}

impl Shutdown {
    /// A shutdown handle that is not stopping.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops: no new action starts; running ones get `grace`. A second call shortens the grace
    /// to what it says (`Duration::ZERO`: abandon running actions now).
    pub fn stop(&self, grace: Duration) {
        let deadline = Instant::now().checked_add(grace);
        {
            let mut current = self
                .inner
                .deadline
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let earlier = match (*current, deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            *current = earlier;
        }
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.changed.notify_waiters();
    }

    /// Whether the remediator is stopping.
    pub fn is_stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::SeqCst)
    }

    /// Resolves once the remediator is stopping (at once if it already is): what a loop that
    /// takes new work selects on.
    pub async fn stopped(&self) {
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.is_stopping() {
                return;
            }
            changed.await;
        }
    }

    /// Resolves when running actions must be abandoned (never, unless stopping).
    pub(crate) async fn grace_over(&self) {
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.is_stopping() {
                let deadline = *self
                    .inner
                    .deadline
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                // Without a deadline (a grace too long to represent), wait for a shorter one.
                if let Some(at) = deadline {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => return,
                        () = &mut changed => continue,
                    }
                }
            }
            changed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn grace_ends_and_a_second_stop_shortens_it() {
        let s = Shutdown::new();
        assert!(!s.is_stopping());
        let waiting = tokio::spawn({
            let s = s.clone();
            async move { s.grace_over().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        s.stop(Duration::from_secs(3600));
        assert!(s.is_stopping());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        s.stop(Duration::ZERO);
        tokio::time::timeout(Duration::from_secs(2), waiting)
            .await
            .unwrap()
            .unwrap();
    }
}
