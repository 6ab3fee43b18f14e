//! Rate limits per action kind, the circuit breaker they trip, and the kill switch.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::plan::ActionKind;

/// A rate limit: at most `max` actions of a kind per `per_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// The most actions in a window.
    pub max: u32,
    /// The window, in seconds.
    pub per_secs: u64,
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} per {} s", self.max, self.per_secs)
    }
}

/// Sliding-window rate limits per action kind, and the circuit breaker they trip.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    limits: BTreeMap<ActionKind, RateLimit>,
    windows: Mutex<BTreeMap<ActionKind, VecDeque<Instant>>>,
    cooldown: Duration,
    /// While open: until when (`None`: until the process ends) and why.
    open: Mutex<Option<(Option<Instant>, String)>>,
}

/// What the limiter said about one action.
pub(crate) enum Admission {
    Admitted,
    Limited { limit: RateLimit, tripped: bool },
}

impl Limiter {
    pub(crate) fn new(limits: BTreeMap<ActionKind, RateLimit>, cooldown: Duration) -> Self {
        Self {
            limits,
            windows: Mutex::default(),
            cooldown,
            open: Mutex::default(),
        }
    }

    /// The breaker's cause while it is open.
    pub(crate) fn open_cause(&self) -> Option<String> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        match &*open {
            Some((until, cause)) if until.is_none_or(|t| Instant::now() < t) => Some(cause.clone()),
            Some(_) => {
                *open = None;
                None
            }
            None => None,
        }
    }

    /// Counts one action of `kind`; when the limit is exceeded, trips the breaker for destructive
    /// kinds (`tripped` is true for the call that tripped it).
    pub(crate) fn admit(&self, kind: &ActionKind, destructive: bool) -> Admission {
        let Some(limit) = self.limits.get(kind).copied() else {
            return Admission::Admitted;
        };
        let now = Instant::now();
        let window = Duration::from_secs(limit.per_secs);
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let times = windows.entry(kind.clone()).or_default();
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            times.pop_front();
        }
        if times.len() < limit.max as usize {
            times.push_back(now);
            return Admission::Admitted;
        }
        drop(windows);
        let mut tripped = false;
        if destructive {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            if open
                .as_ref()
                .is_none_or(|(until, _)| until.is_some_and(|t| now >= t))
            {
                // A cooldown too long to add to the clock keeps the breaker open for good.
                let until = now.checked_add(self.cooldown);
                *open = Some((until, format!("rate limit of `{kind}` ({limit}) exceeded")));
                tripped = true;
            }
        }
        Admission::Limited { limit, tripped }
    }

    pub(crate) fn cooldown(&self) -> Duration {
        self.cooldown
    }
}

/// A global stop for destructive actions: a flag, and optionally a file whose existence engages
/// it (`touch` the file to stop remedy without restarting it). Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct KillSwitch {
    flag: Arc<AtomicBool>,
    file: Option<PathBuf>,
}

impl KillSwitch {
    /// A released switch with no file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also engages the switch while `path` exists.
    pub fn with_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Engages the switch.
    pub fn engage(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Releases the flag (the file, if any, still counts).
    pub fn release(&self) {
        self.flag.store(false, Ordering::SeqCst);
    }

    /// Where the switch is engaged from, or `None` when it is released.
    pub fn engaged(&self) -> Option<String> {
        if self.flag.load(Ordering::SeqCst) {
            return Some("engaged by the host".into());
        }
        let file = self.file.as_ref()?;
        file.try_exists()
            .unwrap_or(true)
            .then(|| format!("file `{}` exists", file.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_trips_once_and_blocks() {
        let limits = BTreeMap::from([(
            ActionKind::DISABLE_ACCESS_KEY,
            RateLimit {
                max: 2,
                per_secs: 60,
            },
        )]);
        let l = Limiter::new(limits, Duration::from_secs(u64::MAX));
        let k = ActionKind::DISABLE_ACCESS_KEY;
        assert!(matches!(l.admit(&k, true), Admission::Admitted));
        assert!(matches!(l.admit(&k, true), Admission::Admitted));
        assert!(l.open_cause().is_none());
        assert!(matches!(
            l.admit(&k, true),
            Admission::Limited { tripped: true, .. }
        ));
        assert!(matches!(
            l.admit(&k, true),
            Admission::Limited { tripped: false, .. }
        ));
        assert!(l.open_cause().unwrap().contains("disable_access_key"));
        assert!(matches!(
            l.admit(&ActionKind::NOTIFY, false),
            Admission::Admitted
        ));
    }

    #[test]
    fn kill_switch_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("STOP");
        let k = KillSwitch::new().with_file(&path);
        assert!(k.engaged().is_none());
        std::fs::write(&path, "").unwrap();
        assert!(k.engaged().unwrap().contains("STOP"));
        std::fs::remove_file(&path).unwrap();
        k.clone().engage();
        assert!(k.engaged().is_some());
    }
}
