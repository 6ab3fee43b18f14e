//! Threads: the first message a channel got about a finding, so that every later one is a reply
//! to it, in any process.
//!
//! A notifier that threads (Slack keeps the parent's `ts`, email its `Message-ID`) asks the
//! [`ThreadStore`] for the parent of a thread before it sends and records the id of what it sent
//! when there was none. The in-memory backend serves one process; [`FileThreads`] keeps the
//! parents in the ledger's directory, so a restart replies in the same thread; the DynamoDB
//! backend (`aws::DynamoThreads`, the `[state]` table) serves every worker.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::state::{StateError, StateErrorKind};

/// The thread of one finding on one channel: what a [`ThreadStore`] is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ThreadKey {
    /// Where the messages go, e.g. `slack:C0123456789` or `email:secops@example.com`.
    pub channel: String,
    /// The finding.
    pub finding_id: String,
}

impl ThreadKey {
    /// The thread of `finding_id` on `channel`.
    pub fn new(channel: impl Into<String>, finding_id: impl Into<String>) -> Self {
        Self {
            channel: channel.into(),
            finding_id: finding_id.into(),
        }
    }

    /// A fixed-length digest of the key (hex SHA-256), for backends that key by a file name or
    /// a bounded string: finding ids are the finding's, so they are never used as names.
    pub fn digest(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(self.channel.as_bytes());
        hash.update([0]);
        hash.update(self.finding_id.as_bytes());
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Where the parents of threads are kept.
///
/// Of two concurrent [`ThreadStore::set_parent`] calls for one key, exactly one parent is kept and
/// both callers get it back.
#[async_trait]
pub trait ThreadStore: Send + Sync + std::fmt::Debug + 'static {
    /// The parent message of the thread, if one was recorded.
    async fn parent(&self, key: &ThreadKey) -> Result<Option<String>, StateError>;
    /// Records `parent` as the thread's parent unless one is recorded already; returns the parent
    /// that holds.
    async fn set_parent(&self, key: &ThreadKey, parent: &str) -> Result<String, StateError>;
}

#[async_trait]
impl<T: ThreadStore + ?Sized> ThreadStore for Arc<T> {
    async fn parent(&self, key: &ThreadKey) -> Result<Option<String>, StateError> {
        (**self).parent(key).await
    }

    async fn set_parent(&self, key: &ThreadKey, parent: &str) -> Result<String, StateError> {
        (**self).set_parent(key, parent).await
    }
}

/// Threads in memory: one process, forgotten when it ends.
#[derive(Debug, Clone, Default)]
pub struct MemoryThreads {
    parents: Arc<Mutex<HashMap<ThreadKey, String>>>,
}

impl MemoryThreads {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ThreadStore for MemoryThreads {
    async fn parent(&self, key: &ThreadKey) -> Result<Option<String>, StateError> {
        let parents = self.parents.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(parents.get(key).cloned())
    }

    async fn set_parent(&self, key: &ThreadKey, parent: &str) -> Result<String, StateError> {
        let mut parents = self.parents.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(parents
            .entry(key.clone())
            .or_insert_with(|| parent.to_owned())
            .clone())
    }
}

/// Threads in a directory (the ledger's `threads/`): one small file per thread, named by the
/// key's digest, created once (`create_new`), so two processes on one machine keep one parent.
#[derive(Debug, Clone)]
pub struct FileThreads {
    dir: Arc<PathBuf>,
}

/// The longest parent id kept (Slack's `ts` and an email's `Message-ID` are far shorter).
const MAX_PARENT: usize = 1024;

impl FileThreads {
    /// Opens (creating when needed) the directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StateError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, &e))?;
        Ok(Self { dir: Arc::new(dir) })
    }

    fn path(&self, key: &ThreadKey) -> PathBuf {
        self.dir.join(key.digest())
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> StateError {
    StateError::new(
        StateErrorKind::Unavailable,
        format!("thread file `{}`: {e}", path.display()),
    )
}

/// A parent read back from a file: one line of printable text, or nothing usable.
fn read_parent(path: &Path) -> Result<Option<String>, StateError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes).trim().to_owned();
            let usable = !text.is_empty()
                && text.len() <= MAX_PARENT
                && text.chars().all(|c| c.is_ascii_graphic());
            Ok(usable.then_some(text))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, &e)),
    }
}

#[async_trait]
impl ThreadStore for FileThreads {
    async fn parent(&self, key: &ThreadKey) -> Result<Option<String>, StateError> {
        let path = self.path(key);
        tokio::task::spawn_blocking(move || read_parent(&path))
            .await
            .map_err(|e| StateError::new(StateErrorKind::Unavailable, e.to_string()))?
    }

    async fn set_parent(&self, key: &ThreadKey, parent: &str) -> Result<String, StateError> {
        let path = self.path(key);
        let dir = Arc::clone(&self.dir);
        let parent = parent.to_owned();
        tokio::task::spawn_blocking(move || {
            use std::io::Write;
            // Written aside, then linked in place: the name appears only with its content, and
            // only once.
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let tmp = dir.join(format!(
                ".{}.{}.{}",
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("thread"),
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            let mut file = std::fs::File::create(&tmp).map_err(|e| io_error(&tmp, &e))?;
            file.write_all(parent.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| io_error(&tmp, &e))?;
            let linked = std::fs::hard_link(&tmp, &path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => Ok(parent),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Ok(read_parent(&path)?.unwrap_or(parent))
                }
                Err(e) => Err(io_error(&path, &e)),
            }
        })
        .await
        .map_err(|e| StateError::new(StateErrorKind::Unavailable, e.to_string()))?
    }
}
