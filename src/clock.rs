//! The clock every record and lease reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Now, in RFC 3339 (UTC), as records write it.
pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `secs` since the Unix epoch in RFC 3339 (UTC); the number itself if it is out of range.
pub(crate) fn rfc3339_at(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// The time the remediator's guards count by (rate windows, the circuit breaker, approval
/// expiry): the system's clock, or a virtual one that `remedy replay` sets to each finding's
/// `updatedAt` as it simulates the guards over history. Clones share the virtual time.
#[derive(Debug, Clone, Default)]
pub(crate) struct Clock {
    virtual_secs: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// A virtual clock standing at `secs` since the Unix epoch until [`Clock::set`] moves it.
    pub(crate) fn virtual_at(secs: u64) -> Self {
        Self {
            virtual_secs: Some(Arc::new(AtomicU64::new(secs))),
        }
    }

    /// Sets a virtual clock to `secs` (the system's clock cannot be set: nothing happens).
    pub(crate) fn set(&self, secs: u64) {
        if let Some(at) = &self.virtual_secs {
            at.store(secs, Ordering::SeqCst);
        }
    }

    /// Seconds since the Unix epoch, by this clock.
    pub(crate) fn now_secs(&self) -> u64 {
        match &self.virtual_secs {
            Some(at) => at.load(Ordering::SeqCst),
            None => now_secs(),
        }
    }
}
