//! The idempotency ledger: an atomic claim per (finding id, action kind, target).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plan::{Action, ActionKind};

/// What a ledger entry is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LedgerKey {
    /// The finding's id.
    pub finding_id: String,
    /// The action's kind.
    pub kind: ActionKind,
    /// What the action acts on ([`Action::target`]).
    pub target: String,
}

impl LedgerKey {
    /// The key of `action` for finding `finding_id`.
    pub fn new(finding_id: &str, action: &Action) -> Self {
        Self {
            finding_id: finding_id.to_owned(),
            kind: action.kind(),
            target: action.target(),
        }
    }
}

/// The state of a claimed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Claimed; the action's result is not recorded (it is running, or the process stopped).
    Claimed,
    /// The action succeeded.
    Done,
}

/// A ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The key.
    pub key: LedgerKey,
    /// The state.
    pub state: EntryState,
    /// When the entry was last written (RFC 3339).
    pub at: String,
    /// What was done, once done.
    #[serde(default)]
    pub details: Option<String>,
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// The caller holds the key now and must [`Ledger::complete`] or [`Ledger::release`] it.
    Acquired,
    /// Someone claimed the key before.
    Held(LedgerEntry),
}

/// A ledger that could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("ledger `{path}`: {message}")]
#[non_exhaustive]
pub struct LedgerError {
    /// The ledger's location.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// Remembers which actions were carried out for which finding, so that a repeated or redelivered
/// finding does not execute a destructive action twice.
///
/// `claim` is atomic: of two concurrent claims of one key (in one process or, for file-backed
/// ledgers, several), exactly one acquires it.
#[async_trait]
pub trait Ledger: Send + Sync + std::fmt::Debug + 'static {
    /// Claims `key` before executing.
    async fn claim(&self, key: &LedgerKey) -> Result<Claim, LedgerError>;
    /// Marks a claimed key done.
    async fn complete(&self, key: &LedgerKey, details: &str) -> Result<(), LedgerError>;
    /// Gives a claimed key back after a failure, so a later delivery may try again.
    async fn release(&self, key: &LedgerKey) -> Result<(), LedgerError>;
    /// Reads a key without claiming it (dry runs use this).
    async fn get(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>, LedgerError>;
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// An in-memory ledger (lost when the process ends). Clones share the entries.
#[derive(Debug, Clone, Default)]
pub struct MemoryLedger {
    entries: Arc<Mutex<BTreeMap<LedgerKey, LedgerEntry>>>,
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every entry.
    pub fn entries(&self) -> Vec<LedgerEntry> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.values().cloned().collect()
    }
}

#[async_trait]
impl Ledger for MemoryLedger {
    async fn claim(&self, key: &LedgerKey) -> Result<Claim, LedgerError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = entries.get(key) {
            return Ok(Claim::Held(entry.clone()));
        }
        entries.insert(
            key.clone(),
            LedgerEntry {
                key: key.clone(),
                state: EntryState::Claimed,
                at: now_rfc3339(),
                details: None,
            },
        );
        Ok(Claim::Acquired)
    }

    async fn complete(&self, key: &LedgerKey, details: &str) -> Result<(), LedgerError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.insert(
            key.clone(),
            LedgerEntry {
                key: key.clone(),
                state: EntryState::Done,
                at: now_rfc3339(),
                details: Some(details.to_owned()),
            },
        );
        Ok(())
    }

    async fn release(&self, key: &LedgerKey) -> Result<(), LedgerError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.remove(key);
        Ok(())
    }

    async fn get(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>, LedgerError> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(entries.get(key).cloned())
    }
}

/// A file-backed ledger that survives restarts: one JSON file per key in a directory, named by the
/// key's SHA-256.
///
/// A claim creates the file with `create_new` (atomic across processes sharing the directory) and
/// syncs it; completion replaces it through a synced temporary file and a rename.
#[derive(Debug, Clone)]
pub struct FileLedger {
    dir: Arc<PathBuf>,
}

impl FileLedger {
    /// Opens (creating when needed) the ledger directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir)
            .map_err(|e| error(&dir, "cannot create the directory", &e))?;
        Ok(Self { dir: Arc::new(dir) })
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, key: &LedgerKey) -> PathBuf {
        let mut hasher = Sha256::new();
        for part in [
            key.finding_id.as_str(),
            key.kind.as_str(),
            key.target.as_str(),
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0u8]);
        }
        let mut name = String::with_capacity(69);
        for b in hasher.finalize() {
            let _ = write!(name, "{b:02x}");
        }
        name.push_str(".json");
        self.dir.join(name)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Path) -> Result<T, LedgerError> + Send + 'static,
    ) -> Result<T, LedgerError> {
        let dir = Arc::clone(&self.dir);
        tokio::task::spawn_blocking(move || f(&dir))
            .await
            .map_err(|e| LedgerError {
                path: self.dir.display().to_string(),
                message: format!("ledger task failed: {e}"),
            })?
    }
}

fn error(path: &Path, what: &str, e: &dyn std::fmt::Display) -> LedgerError {
    LedgerError {
        path: path.display().to_string(),
        message: format!("{what}: {e}"),
    }
}

fn sync_dir(dir: &Path) {
    // Makes the new directory entry durable; not supported everywhere, so best effort.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn write_entry(
    file: &mut std::fs::File,
    entry: &LedgerEntry,
    path: &Path,
) -> Result<(), LedgerError> {
    let json = serde_json::to_vec(entry).map_err(|e| error(path, "cannot encode the entry", &e))?;
    file.write_all(&json)
        .and_then(|()| file.sync_all())
        .map_err(|e| error(path, "cannot write", &e))
}

fn read_entry(path: &Path) -> Result<Option<LedgerEntry>, LedgerError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| error(path, "unreadable entry", &e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(error(path, "cannot read", &e)),
    }
}

#[async_trait]
impl Ledger for FileLedger {
    async fn claim(&self, key: &LedgerKey) -> Result<Claim, LedgerError> {
        let path = self.path_of(key);
        let key = key.clone();
        self.blocking(move |dir| {
            let entry = LedgerEntry {
                key,
                state: EntryState::Claimed,
                at: now_rfc3339(),
                details: None,
            };
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    write_entry(&mut file, &entry, &path)?;
                    sync_dir(dir);
                    Ok(Claim::Acquired)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // A claim being written right now may still be empty: it is held all the same.
                    let held = read_entry(&path).ok().flatten().unwrap_or(entry);
                    Ok(Claim::Held(held))
                }
                Err(e) => Err(error(&path, "cannot claim", &e)),
            }
        })
        .await
    }

    async fn complete(&self, key: &LedgerKey, details: &str) -> Result<(), LedgerError> {
        let path = self.path_of(key);
        let entry = LedgerEntry {
            key: key.clone(),
            state: EntryState::Done,
            at: now_rfc3339(),
            details: Some(details.to_owned()),
        };
        self.blocking(move |dir| {
            let tmp = path.with_extension("tmp");
            let mut file =
                std::fs::File::create(&tmp).map_err(|e| error(&tmp, "cannot create", &e))?;
            write_entry(&mut file, &entry, &tmp)?;
            std::fs::rename(&tmp, &path).map_err(|e| error(&path, "cannot replace", &e))?;
            sync_dir(dir);
            Ok(())
        })
        .await
    }

    async fn release(&self, key: &LedgerKey) -> Result<(), LedgerError> {
        let path = self.path_of(key);
        self.blocking(move |dir| {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(error(&path, "cannot release", &e)),
            }
            sync_dir(dir);
            Ok(())
        })
        .await
    }

    async fn get(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>, LedgerError> {
        let path = self.path_of(key);
        self.blocking(move |_| read_entry(&path)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Notify;

    fn key(id: &str) -> LedgerKey {
        LedgerKey::new(
            id,
            &Action::Notify(Notify {
                channel: "security".into(),
                message: "m".into(),
            }),
        )
    }

    async fn contract(ledger: &dyn Ledger) {
        let k = key("f-1");
        assert_eq!(ledger.get(&k).await.unwrap(), None);
        assert_eq!(ledger.claim(&k).await.unwrap(), Claim::Acquired);
        assert!(
            matches!(ledger.claim(&k).await.unwrap(), Claim::Held(e) if e.state == EntryState::Claimed)
        );
        ledger.release(&k).await.unwrap();
        assert_eq!(ledger.claim(&k).await.unwrap(), Claim::Acquired);
        ledger.complete(&k, "done it").await.unwrap();
        match ledger.claim(&k).await.unwrap() {
            Claim::Held(e) => {
                assert_eq!(e.state, EntryState::Done);
                assert_eq!(e.details.as_deref(), Some("done it"));
            }
            Claim::Acquired => panic!("claimed twice"),
        }
        assert_eq!(ledger.claim(&key("f-2")).await.unwrap(), Claim::Acquired);
    }

    #[tokio::test]
    async fn memory_ledger_contract() {
        contract(&MemoryLedger::new()).await;
    }

    #[tokio::test]
    async fn file_ledger_contract_and_restart() {
        let dir = tempfile::tempdir().unwrap();
        contract(&FileLedger::open(dir.path()).unwrap()).await;
        // A new ledger on the same directory (a restart) sees what was done.
        let again = FileLedger::open(dir.path()).unwrap();
        let entry = again.get(&key("f-1")).await.unwrap().unwrap();
        assert_eq!(entry.state, EntryState::Done);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_claims_acquire_once() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = FileLedger::open(dir.path()).unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let l = ledger.clone();
            tasks.spawn(async move { l.claim(&key("race")).await.unwrap() });
        }
        let mut acquired = 0;
        while let Some(r) = tasks.join_next().await {
            if r.unwrap() == Claim::Acquired {
                acquired += 1;
            }
        }
        assert_eq!(acquired, 1);
    }
}
