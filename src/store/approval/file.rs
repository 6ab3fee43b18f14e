//! [`FileApprovals`]: approval requests in a directory, shared by the processes of one host.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::{ApprovalError, ApprovalRequest, ApprovalStore, Decision, Requested, oldest_first};
use crate::id::ApprovalId;

/// The largest file read back: a request holds one finding's context and one action.
const MAX_FILE: u64 = 4 * 1024 * 1024;

static TEMP: AtomicU64 = AtomicU64::new(0);

/// Approval requests in a directory: `<id>.request.json`, then `<id>.decision.json` once
/// decided, then `<id>.result.json` once its action ran.
///
/// The request and the decision are each written to a temporary file, flushed to disk and then
/// linked to their name, which fails when the name exists: of two runs asking for the same
/// request, or two people deciding at once, exactly one wins, and nobody ever reads a half-written
/// file. Ids are checked ([`ApprovalId`]), so no id names a path outside the directory.
#[derive(Debug, Clone)]
pub struct FileApprovals {
    dir: PathBuf,
}

impl FileApprovals {
    /// The store in `dir`; the directory is created when the first request is stored, so a
    /// configuration that never asks leaves no directory behind. A path that exists and is not a
    /// directory is refused.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, ApprovalError> {
        let dir = dir.into();
        let store = Self { dir };
        if store.dir.exists() && !store.dir.is_dir() {
            return Err(store.unavailable(&"not a directory"));
        }
        Ok(store)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, id: &ApprovalId, part: &str) -> PathBuf {
        self.dir.join(format!("{id}.{part}.json"))
    }

    fn unavailable(&self, e: &dyn std::fmt::Display) -> ApprovalError {
        ApprovalError::Unavailable {
            store: self.dir.display().to_string(),
            message: e.to_string(),
        }
    }

    fn invalid(&self, path: &Path, e: &dyn std::fmt::Display) -> ApprovalError {
        ApprovalError::Invalid {
            store: self.dir.display().to_string(),
            message: format!("{}: {e}", path.display()),
        }
    }

    /// Writes `bytes` to `path` unless it exists: `Ok(false)` when it did.
    fn create(&self, path: &Path, bytes: &[u8]) -> Result<bool, ApprovalError> {
        fs::create_dir_all(&self.dir).map_err(|e| self.unavailable(&e))?;
        let n = TEMP.fetch_add(1, Ordering::Relaxed);
        let temp = self.dir.join(format!(".tmp-{}-{n}", std::process::id()));
        let written = write_synced(&temp, bytes).and_then(|()| fs::hard_link(&temp, path));
        let _ = fs::remove_file(&temp);
        match written {
            Ok(()) => {
                sync_dir(&self.dir).map_err(|e| self.unavailable(&e))?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(self.unavailable(&e)),
        }
    }

    fn read<T: serde::de::DeserializeOwned>(
        &self,
        path: &Path,
    ) -> Result<Option<T>, ApprovalError> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.unavailable(&e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.unavailable(&e))?;
        if bytes.len() as u64 > MAX_FILE {
            return Err(self.invalid(path, &"larger than 4 MiB"));
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| self.invalid(path, &e))
    }

    fn load(&self, id: &ApprovalId) -> Result<Option<ApprovalRequest>, ApprovalError> {
        let Some(mut request) = self.read::<ApprovalRequest>(&self.path(id, "request"))? else {
            return Ok(None);
        };
        request.decision = self.read(&self.path(id, "decision"))?;
        request.result = self.read(&self.path(id, "result"))?;
        Ok(Some(request))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ApprovalError> {
    serde_json::to_vec(value).map_err(|e| ApprovalError::Invalid {
        store: "approvals".into(),
        message: e.to_string(),
    })
}

#[async_trait]
impl ApprovalStore for FileApprovals {
    async fn request(&self, request: &ApprovalRequest) -> Result<Requested, ApprovalError> {
        let mut bare = request.clone();
        bare.decision = None;
        bare.result = None;
        if self.create(&self.path(&request.id, "request"), &json(&bare)?)? {
            return Ok(Requested::Created);
        }
        match self.load(&request.id)? {
            Some(existing) => Ok(Requested::Exists(Box::new(existing))),
            None => Err(self.unavailable(&"the request exists but cannot be read")),
        }
    }

    async fn get(&self, id: &ApprovalId) -> Result<Option<ApprovalRequest>, ApprovalError> {
        self.load(id)
    }

    async fn unfinished(&self) -> Result<Vec<ApprovalRequest>, ApprovalError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            // Nothing was ever asked here.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.unavailable(&e)),
        };
        let mut pending = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.unavailable(&e))?;
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".request.json"))
                .and_then(|id| ApprovalId::new(id).ok())
            else {
                continue;
            };
            if let Some(request) = self.load(&id)?
                && request.result.is_none()
            {
                pending.push(request);
            }
        }
        oldest_first(&mut pending);
        Ok(pending)
    }

    async fn decide(
        &self,
        id: &ApprovalId,
        decision: &Decision,
    ) -> Result<ApprovalRequest, ApprovalError> {
        let Some(mut request) = self.load(id)? else {
            return Err(ApprovalError::NotFound(id.clone()));
        };
        if self.create(&self.path(id, "decision"), &json(decision)?)? {
            request.decision = Some(decision.clone());
            return Ok(request);
        }
        let earlier = self
            .read::<Decision>(&self.path(id, "decision"))?
            .ok_or_else(|| self.unavailable(&"the decision exists but cannot be read"))?;
        Err(ApprovalError::AlreadyDecided {
            id: id.clone(),
            decision: Box::new(earlier),
        })
    }

    async fn finish(&self, id: &ApprovalId, result: &str) -> Result<(), ApprovalError> {
        if self
            .read::<ApprovalRequest>(&self.path(id, "request"))?
            .is_none()
        {
            return Err(ApprovalError::NotFound(id.clone()));
        }
        let n = TEMP.fetch_add(1, Ordering::Relaxed);
        let temp = self.dir.join(format!(".tmp-{}-{n}", std::process::id()));
        let bytes = json(&result)?;
        let written = write_synced(&temp, &bytes)
            .and_then(|()| fs::rename(&temp, self.path(id, "result")))
            .and_then(|()| sync_dir(&self.dir));
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written.map_err(|e| self.unavailable(&e))
    }
}
