//! [`FileLedger`]: the ledger in a directory, shared by every process on the host.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::{
    Claim, ClaimRequest, EntryState, Ledger, LedgerEntry, LedgerError, LedgerKey, Owner, decide,
    done, now_rfc3339, now_secs, releasable,
};

/// How many lock files the keys are spread over.
const STRIPES: u8 = 64;

/// A ledger that survives restarts and is shared by the processes of one host: one JSON file per
/// key, named by the key's SHA-256, in `claims/` while claimed and in `done/` once finished.
///
/// Every change of a key happens under an exclusive lock (`flock`) on one of 64 lock files, so
/// concurrent claims from several processes are decided one at a time; the kernel releases the
/// lock of a process that dies. Entries are written to a temporary file, synced and renamed into
/// place, so a crash or a full disk never leaves a half-written entry in use (an unreadable claim
/// counts as expired: it is taken over and the state verified). Not for network file systems.
#[derive(Debug, Clone)]
pub struct FileLedger {
    dir: Arc<PathBuf>,
}

impl FileLedger {
    /// Opens (creating when needed) the ledger directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let dir = dir.as_ref().to_path_buf();
        for sub in ["claims", "done", "locks"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| error(&dir, "cannot create the directory", &e))?;
        }
        Ok(Self { dir: Arc::new(dir) })
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, LedgerError> + Send + 'static,
    ) -> Result<T, LedgerError> {
        let store = Store {
            dir: Arc::clone(&self.dir),
        };
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| error(&self.dir, "ledger task failed", &e))?
    }
}

/// The directory's files for one key.
struct Paths {
    claim: PathBuf,
    done: PathBuf,
    lock: PathBuf,
}

struct Store {
    dir: Arc<PathBuf>,
}

impl Store {
    fn paths(&self, key: &LedgerKey) -> Paths {
        let hash = Sha256::digest(key.joined().as_bytes());
        let mut name = String::with_capacity(69);
        for b in hash.iter() {
            let _ = write!(name, "{b:02x}");
        }
        name.push_str(".json");
        let stripe = hash.first().copied().unwrap_or(0) % STRIPES;
        Paths {
            claim: self.dir.join("claims").join(&name),
            done: self.dir.join("done").join(&name),
            lock: self.dir.join("locks").join(format!("{stripe:02}.lock")),
        }
    }

    /// Runs `f` holding the exclusive lock of `paths`.
    fn locked<T>(
        &self,
        paths: &Paths,
        f: impl FnOnce() -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&paths.lock)
            .map_err(|e| error(&paths.lock, "cannot open the lock", &e))?;
        lock.lock()
            .map_err(|e| error(&paths.lock, "cannot lock", &e))?;
        let result = f();
        // Closing the file releases the lock too; unlock first to be explicit.
        let _ = lock.unlock();
        result
    }

    fn write(&self, path: &Path, entry: &LedgerEntry) -> Result<(), LedgerError> {
        let json =
            serde_json::to_vec(entry).map_err(|e| error(path, "cannot encode the entry", &e))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let result = File::create(&tmp)
            .and_then(|mut file| {
                file.write_all(&json)?;
                file.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(error(path, "cannot write", &e));
        }
        sync_dir(path);
        Ok(())
    }

    fn remove(&self, path: &Path) -> Result<(), LedgerError> {
        match std::fs::remove_file(path) {
            Ok(()) => {
                sync_dir(path);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(error(path, "cannot remove", &e)),
        }
    }
}

fn error(path: &Path, what: &str, e: &dyn std::fmt::Display) -> LedgerError {
    LedgerError::new(path.display().to_string(), format!("{what}: {e}"))
}

fn sync_dir(path: &Path) {
    // Makes the directory entry durable; not supported everywhere, so best effort.
    if let Some(dir) = path.parent()
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
}

/// The entry in `path`: `None` when there is none, a claim of nobody when it cannot be read (a
/// crash or a full disk while it was written): such a claim is expired and is taken over.
fn read(path: &Path, key: &LedgerKey) -> Result<Option<LedgerEntry>, LedgerError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            LedgerEntry {
                key: key.clone(),
                state: EntryState::Claimed,
                at: now_rfc3339(),
                details: Some("an unreadable entry (interrupted write)".into()),
                owner: None,
                expires: None,
                finding: None,
                action: None,
            }
        }))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(error(path, "cannot read", &e)),
    }
}

/// The entry of `key`: finished, else claimed.
fn current(paths: &Paths, key: &LedgerKey) -> Result<Option<LedgerEntry>, LedgerError> {
    match read(&paths.done, key)? {
        Some(done) if done.state == EntryState::Done => Ok(Some(done)),
        _ => read(&paths.claim, key),
    }
}

#[async_trait]
impl Ledger for FileLedger {
    async fn claim(&self, request: &ClaimRequest<'_>) -> Result<Claim, LedgerError> {
        let (key, owner, lease) = (request.key.clone(), request.owner.clone(), request.lease);
        let (finding, action) = (request.finding.clone(), request.action.clone());
        self.blocking(move |store| {
            let request = ClaimRequest {
                key: &key,
                owner: &owner,
                lease,
                finding: &finding,
                action: &action,
            };
            let paths = store.paths(&key);
            store.locked(&paths, || {
                let (claim, write) = decide(current(&paths, &key)?, &request, now_secs());
                if let Some(entry) = write {
                    store.write(&paths.claim, &entry)?;
                }
                Ok(claim)
            })
        })
        .await
    }

    async fn complete(
        &self,
        key: &LedgerKey,
        owner: &Owner,
        details: &str,
    ) -> Result<(), LedgerError> {
        let (key, owner, details) = (key.clone(), owner.clone(), details.to_owned());
        self.blocking(move |store| {
            let paths = store.paths(&key);
            store.locked(&paths, || {
                let previous = read(&paths.claim, &key)?;
                store.write(&paths.done, &done(&key, &owner, &details, previous))?;
                store.remove(&paths.claim)
            })
        })
        .await
    }

    async fn release(&self, key: &LedgerKey, owner: &Owner) -> Result<(), LedgerError> {
        let (key, owner) = (key.clone(), owner.clone());
        self.blocking(move |store| {
            let paths = store.paths(&key);
            store.locked(&paths, || match read(&paths.claim, &key)? {
                Some(entry) if releasable(&entry, &owner) => store.remove(&paths.claim),
                _ => Ok(()),
            })
        })
        .await
    }

    async fn get(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>, LedgerError> {
        let key = key.clone();
        self.blocking(move |store| current(&store.paths(&key), &key))
            .await
    }

    async fn claims(&self) -> Result<Vec<LedgerEntry>, LedgerError> {
        self.blocking(|store| {
            let dir = store.dir.join("claims");
            let entries =
                std::fs::read_dir(&dir).map_err(|e| error(&dir, "cannot list the claims", &e))?;
            let mut claims = Vec::new();
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "json")
                    && let Ok(bytes) = std::fs::read(&path)
                    && let Ok(claim) = serde_json::from_slice::<LedgerEntry>(&bytes)
                {
                    claims.push(claim);
                }
            }
            claims.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(claims)
        })
        .await
    }
}
