//! [`JsonLinesAudit`]: the audit trail as a JSON Lines file, one record per line, synced per
//! record.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use async_trait::async_trait;
use serde::Deserialize;

use super::chain::{AuditKey, CHAIN_START, line_hash, seal};
use super::lines::{Line, line_ending_at, read_line};
use super::{AuditError, AuditRecord, AuditSink, IntentRecord};
use crate::store::state::{ChainHead, StateStore};

/// Held while any JSON Lines sink writes a record (see [`JsonLinesAudit::between_writes`]).
static WRITING: Mutex<()> = Mutex::new(());

/// Appends records to a JSON Lines file, one object per line; every record is flushed and synced
/// to disk (`fsync`) before `record` returns.
///
/// Every line is chained to the one before it (`"prev"`, the SHA-256 of the previous line;
/// `"start"` on a file's first line) and, with a key ([`JsonLinesAudit::with_key`]), sealed with
/// an HMAC (`"mac"`): [`verify`](super::verify) then finds an inserted, edited, reordered or
/// removed line. Several processes may append to one file: each write takes the file's lock and
/// chains to the line actually last in the file.
///
/// A record is one write of a whole line. A last line left incomplete (a crash, a full disk) is
/// closed with a newline before the next record, so a new record never glues onto it; readers see
/// one invalid line and every other line intact.
#[derive(Debug, Clone)]
pub struct JsonLinesAudit {
    path: Arc<PathBuf>,
    state: Arc<Mutex<State>>,
    key: Option<AuditKey>,
    /// Where the chain's head is recorded after each line, once set.
    heads: Arc<OnceLock<Arc<dyn StateStore>>>,
}

#[derive(Debug)]
struct State {
    file: std::fs::File,
    /// The last line may be incomplete: start the next record on a new line.
    torn: bool,
    /// The file's length after this sink's last write and the hash of the line it wrote: the
    /// next `prev` when no other process wrote since.
    head: Option<(u64, String)>,
}

/// An intent record with no outcome record after it: an action an interrupted run may or may not
/// have carried out.
#[derive(Debug, Clone)]
pub struct UnfinishedIntent {
    /// The line of the intent in the file (1-based).
    pub line: u64,
    /// The intent.
    pub intent: IntentRecord,
}

impl JsonLinesAudit {
    /// Opens `path` for appending, creating it (and its directory) when needed. A file whose last
    /// line is incomplete gets a newline before the first record.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        let path = path.as_ref().to_path_buf();
        let err = |e: std::io::Error| {
            AuditError::new(path.display().to_string(), format!("cannot open: {e}"))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        #[cfg(unix)]
        if let Ok(meta) = std::fs::metadata(&path) {
            use std::os::unix::fs::FileTypeExt as _;
            let kind = meta.file_type();
            if kind.is_fifo() || kind.is_socket() || kind.is_dir() {
                return Err(AuditError::new(
                    path.display().to_string(),
                    "cannot open: not a file (a pipe, a socket or a directory)",
                ));
            }
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(err)?;
        let torn = ends_torn(&mut file).map_err(err)?;
        if torn {
            tracing::warn!(path = %path.display(), "the audit trail's last line is incomplete; the next record starts a new line");
        }
        Ok(Self {
            path: Arc::new(path),
            state: Arc::new(Mutex::new(State {
                file,
                torn,
                head: None,
            })),
            key: None,
            heads: Arc::new(OnceLock::new()),
        })
    }

    /// Records the chain's head (the file's length and its last line's hash) in `state` after
    /// each line, under the trail's path: removed lines at the trail's end then show
    /// ([`verify_head`](super::verify_head)). Set once; clones share it.
    pub fn record_heads_in(&self, state: Arc<dyn StateStore>) {
        let _ = self.heads.set(state);
    }

    /// The name the chain's head is recorded under: the trail's path.
    pub fn trail_name(&self) -> String {
        self.path.display().to_string()
    }

    /// Seals every line with an HMAC of `key` (`[audit] key_env`).
    pub fn with_key(mut self, key: AuditKey) -> Self {
        self.key = Some(key);
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Blocks every JSON Lines sink of the process from starting a record while the guard lives,
    /// waiting for a record being written to end: exit the process while holding it and no record
    /// is left half-written.
    pub fn between_writes() -> MutexGuard<'static, ()> {
        WRITING.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The intents in the trail at `path` that no outcome record follows, and how many lines
    /// could not be read (torn).
    pub fn unfinished(path: impl AsRef<Path>) -> Result<(Vec<UnfinishedIntent>, u64), AuditError> {
        let path = path.as_ref();
        let err = |e: std::io::Error| {
            AuditError::new(path.display().to_string(), format!("cannot read: {e}"))
        };
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => return Err(err(e)),
        };
        // Only a regular file is a trail (`/dev/full` reads zeros forever).
        if !file.metadata().map_err(err)?.is_file() {
            return Ok((Vec::new(), 0));
        }
        #[derive(Deserialize)]
        struct Probe {
            record: String,
            #[serde(default)]
            intent: Option<String>,
            #[serde(default)]
            closes: Option<String>,
        }
        let mut open: BTreeMap<String, (u64, IntentRecord)> = BTreeMap::new();
        let mut torn = 0;
        let mut reader = std::io::BufReader::new(file);
        let mut number = 0u64;
        let mut line = Vec::new();
        loop {
            line.clear();
            number = number.saturating_add(1);
            match read_line(&mut reader, &mut line).map_err(err)? {
                Line::End => break,
                Line::TooLong => {
                    torn += 1;
                    continue;
                }
                Line::Read => {}
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let Ok(probe) = serde_json::from_slice::<Probe>(&line) else {
                torn += 1;
                continue;
            };
            match probe.record.as_str() {
                "intent" => match serde_json::from_slice::<IntentRecord>(&line) {
                    Ok(intent) => {
                        open.insert(intent.intent.clone(), (number, intent));
                    }
                    Err(_) => torn += 1,
                },
                "action" => {
                    for id in [probe.intent, probe.closes].into_iter().flatten() {
                        open.remove(&id);
                    }
                }
                _ => {}
            }
        }
        let unfinished = open
            .into_values()
            .map(|(line, intent)| UnfinishedIntent { line, intent })
            .collect();
        Ok((unfinished, torn))
    }
}

/// Appends `record` chained to the file's last line, under the file's lock.
fn append_chained(
    file: &mut std::fs::File,
    torn: &mut bool,
    head: &mut Option<(u64, String)>,
    record: &[u8],
    key: Option<&AuditKey>,
) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    let prev = match head.as_ref() {
        Some((at, hash)) if *at == len => hash.clone(),
        _ => {
            // Someone else wrote since (or this is the first write): read the last line.
            *torn = ends_torn(file)?;
            match last_line(file, len, *torn)? {
                Some(last) => line_hash(&last),
                None => CHAIN_START.to_owned(),
            }
        }
    };
    let sealed = seal(record, &prev, key);
    let mut line = Vec::with_capacity(sealed.len() + 2);
    if *torn {
        line.push(b'\n');
    }
    line.extend_from_slice(&sealed);
    line.push(b'\n');
    file.write_all(&line)?;
    file.flush()?;
    file.sync_all()?;
    *torn = false;
    *head = Some((len + line.len() as u64, line_hash(&sealed)));
    Ok(())
}

/// The file's last line (without its newline; with `torn`, the incomplete bytes after the last
/// newline), `None` for an empty file.
fn last_line(file: &mut std::fs::File, len: u64, torn: bool) -> std::io::Result<Option<Vec<u8>>> {
    if len == 0 {
        return Ok(None);
    }
    line_ending_at(file, if torn { len } else { len - 1 }).map(Some)
}

/// Whether the file's last byte is not a newline (an incomplete last line).
fn ends_torn(file: &mut std::fs::File) -> std::io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last != *b"\n")
}

#[async_trait]
impl AuditSink for JsonLinesAudit {
    async fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        let sink = self.path.display().to_string();
        let line = serde_json::to_string(record)
            .map_err(|e| AuditError::new(sink.clone(), format!("cannot encode: {e}")))?;
        // The trail is read in terminals and log viewers too: no active character in it.
        let record = crate::finding::inert_json(&line).into_owned().into_bytes();
        let state = Arc::clone(&self.state);
        let key = self.key.clone();
        let result = tokio::task::spawn_blocking(move || {
            let _writing = JsonLinesAudit::between_writes();
            let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
            let State { file, torn, head } = &mut *state;
            // Another process may append too: the file's lock orders the lines and the chain.
            file.lock()?;
            let written = append_chained(file, torn, head, &record, key.as_ref());
            let _ = file.unlock();
            if written.is_err() {
                // A failed write may have left part of the line: start the next one afresh.
                *torn = true;
                *head = None;
            }
            written.map(|()| head.clone())
        })
        .await;
        match result {
            Ok(Ok(head)) => {
                if let (Some(state), Some((bytes, hash))) = (self.heads.get(), head) {
                    // The line is written either way; a head not recorded only weakens the
                    // check of the trail's end, and says so.
                    let head = ChainHead { bytes, hash };
                    if let Err(e) = state.set_chain_head(&sink, &head).await {
                        tracing::error!("the audit trail's head was not recorded: {e}");
                    }
                }
                Ok(())
            }
            Ok(Err(e)) => Err(AuditError::new(sink, format!("cannot write: {e}"))),
            Err(e) => Err(AuditError::new(sink, format!("write task failed: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::audit::{DecisionRecord, Mode, verify_head};
    use crate::store::state::MemoryState;

    fn record(n: u32) -> AuditRecord {
        let finding =
            crate::testing::context(&format!("f-{n}"), "Recon:IAMUser/TorIPCaller").unwrap();
        AuditRecord::Decision(DecisionRecord {
            time: "t".into(),
            mode: Mode::DryRun,
            plan: crate::plan::Plan::new(finding, "v"),
        })
    }

    #[tokio::test]
    async fn the_head_in_the_state_store_shows_a_cut_or_rewritten_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let state = Arc::new(MemoryState::new());
        let audit = JsonLinesAudit::open(&path).unwrap();
        audit.record_heads_in(state.clone());
        for n in 0..3 {
            audit.record(&record(n)).await.unwrap();
        }
        let head = state
            .chain_head(&audit.trail_name())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(head.bytes, std::fs::metadata(&path).unwrap().len());
        assert_eq!(verify_head(&path, &head).unwrap(), Ok(()));

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // The last line removed: the chain alone still verifies, the head does not.
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[1])).unwrap();
        assert!(super::super::verify(&path, None, None).unwrap().is_intact());
        assert!(verify_head(&path, &head).unwrap().is_err());
        // The last line rewritten to the same length: refused too.
        let rewritten = lines[2].replace("f-2", "f-9");
        std::fs::write(&path, format!("{}\n{}\n{rewritten}\n", lines[0], lines[1])).unwrap();
        assert!(verify_head(&path, &head).unwrap().is_err());
        // Lines after the head (a head not recorded yet) are fine.
        std::fs::write(&path, format!("{text}{{\"prev\":\"x\"}}\n")).unwrap();
        assert_eq!(verify_head(&path, &head).unwrap(), Ok(()));
        // A slower writer never moves the head back.
        state
            .set_chain_head(
                &audit.trail_name(),
                &ChainHead {
                    bytes: 1,
                    hash: "h".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            state.chain_head(&audit.trail_name()).await.unwrap(),
            Some(head)
        );
    }
}
