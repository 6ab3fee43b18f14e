//! The local kill switch. The rate windows, the breaker and the shared kill switch are kept by a
//! [`StateStore`](crate::store::StateStore).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
