//! Rate limits per action kind, and the local kill switch. The windows they count in, the
//! breaker they trip and the shared kill switch are kept by a [`super::StateStore`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

/// A rate limit: at most `max` actions of a kind per fixed window of `per_secs` seconds, and
/// with `per_account`, at most that many of them in any one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// The most actions in a window, every account together.
    pub max: u32,
    /// The window, in seconds.
    pub per_secs: u64,
    /// The most actions in a window in one account (the finding's): a noisy account spends its
    /// own share, not the organization's. A full account window skips the action without
    /// tripping the breaker, so the other accounts are still answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_account: Option<u32>,
}

impl RateLimit {
    /// At most `max` actions per window of `per_secs` seconds, in every account together.
    pub fn new(max: u32, per_secs: u64) -> Self {
        Self {
            max,
            per_secs,
            per_account: None,
        }
    }

    /// Also at most `max` of them in any one account.
    pub fn with_per_account(mut self, max: u32) -> Self {
        self.per_account = Some(max);
        self
    }

    /// The limit of one account's window, if there is one.
    pub fn account_window(&self) -> Option<RateLimit> {
        self.per_account
            .map(|max| RateLimit::new(max, self.per_secs))
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} per {} s", self.max, self.per_secs)?;
        if let Some(per_account) = self.per_account {
            write!(f, ", {per_account} per account")?;
        }
        Ok(())
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
