//! The inputs of `parse`, `eval` and `run`, read as they arrive: one thread splits the inputs
//! into documents, worker threads (one per core, or `REMEDY_THREADS`) parse them and do the
//! command's pure work on each finding, and the caller gets the results in input order.
//!
//! Documents travel in batches (up to [`BATCH_DOCS`] documents or [`BATCH_BYTES`]), so that the
//! threads meet once per batch, not once per finding; a batch goes out as soon as the next
//! document is not already in the read buffer, so a stream that trickles in is answered line by
//! line. Memory stays bounded: each document is at most `remedy::finding::MAX_DOCUMENT_BYTES`,
//! and at most [`IN_FLIGHT_PER_THREAD`] batches per worker are between the reader and the caller.

use std::collections::BTreeMap;
use std::io::{self, BufReader};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use remedy::finding::{Documents, RawDocument};
use remedy::{Finding, FindingError};

use super::inert;

/// Batches read ahead per worker thread: enough to keep every core busy, few enough that a slow
/// consumer holds the reader back.
pub(crate) const IN_FLIGHT_PER_THREAD: usize = 4;

/// The most documents in one batch.
pub(crate) const BATCH_DOCS: usize = 64;

/// A batch is sent once its documents hold this many bytes.
pub(crate) const BATCH_BYTES: usize = 1024 * 1024;

/// The files a command reads: the ones named, or standard input (`-`) when none is.
fn input_files(files: &[PathBuf]) -> Vec<PathBuf> {
    if files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        files.to_vec()
    }
}

/// Worker threads: `REMEDY_THREADS` when set to a positive number, else one per core.
pub(crate) fn threads() -> usize {
    std::env::var("REMEDY_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// What the reader hands the workers.
enum Job {
    /// Documents of input `input`, the first of them its `nth`.
    Docs {
        input: usize,
        nth: usize,
        docs: Vec<RawDocument>,
    },
    /// An input that cannot be opened.
    Unreadable(FindingError),
}

/// One document done: its results, in order.
struct Done<T> {
    input: usize,
    nth: usize,
    line_if_followed: Option<u64>,
    results: Vec<Result<T, FindingError>>,
}

/// Reads every input (`-` is standard input) incrementally, parses each document and applies
/// `work` to each finding on worker threads, and hands the results to `on_result` in input order
/// as soon as each is ready (the first finding is handled before the input ends); `None` says
/// that nothing is ready at the moment (a moment to flush buffered output). Read and parse
/// errors go to stderr, inert and naming the input and line, and the other documents are still
/// read. Returns whether every input parsed, or the first error `on_result` returned (writing
/// the output failed, or the command is stopping: reading stops there).
pub(crate) fn each_finding<T: Send>(
    files: &[PathBuf],
    work: impl Fn(Finding) -> T + Sync,
    mut on_result: impl FnMut(Option<T>) -> io::Result<()>,
) -> io::Result<bool> {
    let threads = threads();
    let stop = Arc::new(AtomicBool::new(false));
    let (job_tx, job_rx) = mpsc::sync_channel::<(usize, Job)>(threads * 2);
    // One token per document between the reader and the caller.
    let (token_tx, token_rx) = mpsc::sync_channel::<()>(threads * IN_FLIGHT_PER_THREAD);
    // The reader is not scoped: a read from a terminal or pipe cannot be interrupted, and a
    // command that stops early must not wait for its input to end.
    let reader_stop = Arc::clone(&stop);
    let files = input_files(files);
    std::thread::Builder::new()
        .name("remedy-reader".into())
        .spawn(move || read_inputs(&files, &job_tx, &token_tx, &reader_stop))?;
    let job_rx = Mutex::new(job_rx);
    let (done_tx, done_rx) = mpsc::channel::<(usize, Vec<Done<T>>)>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let (job_rx, work, stop) = (&job_rx, &work, &stop);
            scope.spawn(move || worker(job_rx, work, &done_tx, stop));
        }
        drop(done_tx);
        let result = in_order(&done_rx, &token_rx, &mut on_result);
        if result.is_err() {
            stop.store(true, Ordering::SeqCst);
        }
        result
    })
}

/// The reader: every input, split into documents, one job each.
fn read_inputs(
    files: &[PathBuf],
    jobs: &mpsc::SyncSender<(usize, Job)>,
    tokens: &mpsc::SyncSender<()>,
    stop: &AtomicBool,
) {
    let mut seq = 0;
    for (input, file) in files.iter().enumerate() {
        let name = file.display().to_string();
        // `-` is standard input; a `.gz` file is decompressed as it is read.
        let source: Box<dyn io::Read> = match remedy::replay::open_input(file) {
            Ok(source) => source,
            Err(e) => {
                let e = FindingError::from_io(&e).with_source(name);
                if tokens.send(()).is_err() || jobs.send((seq, Job::Unreadable(e))).is_err() {
                    return;
                }
                seq += 1;
                continue;
            }
        };
        let mut docs = Documents::new(BufReader::with_capacity(256 * 1024, source), &name);
        let mut nth = 0;
        let mut batch = Vec::new();
        let mut bytes = 0;
        loop {
            let next = docs.next();
            let end = next.is_none();
            if let Some(doc) = next {
                bytes += doc.len();
                batch.push(doc);
            }
            // Send when full, at the end, or when the next document is not in the buffer yet
            // (reading it may wait for the writer).
            let ready = docs.has_queued() || docs.get_ref().buffer().contains(&b'\n');
            if batch.is_empty()
                || (!end && ready && batch.len() < BATCH_DOCS && bytes < BATCH_BYTES)
            {
                if end {
                    break;
                }
                continue;
            }
            let sent = std::mem::take(&mut batch);
            let first = nth;
            nth += sent.len();
            bytes = 0;
            if stop.load(Ordering::SeqCst)
                || tokens.send(()).is_err()
                || jobs
                    .send((
                        seq,
                        Job::Docs {
                            input,
                            nth: first,
                            docs: sent,
                        },
                    ))
                    .is_err()
            {
                return;
            }
            seq += 1;
            if end {
                break;
            }
        }
    }
}

/// A worker: parses documents and works on their findings until the reader is done or the
/// command stops.
fn worker<T>(
    jobs: &Mutex<mpsc::Receiver<(usize, Job)>>,
    work: &(impl Fn(Finding) -> T + Sync),
    done: &mpsc::Sender<(usize, Vec<Done<T>>)>,
    stop: &AtomicBool,
) {
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let next = match jobs.lock() {
            Ok(rx) => rx.recv_timeout(Duration::from_millis(100)),
            Err(_) => return,
        };
        let (seq, job) = match next {
            Ok(job) => job,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        let finished = match job {
            Job::Docs { input, nth, docs } => docs
                .into_iter()
                .zip(nth..)
                .map(|(doc, nth)| Done {
                    input,
                    nth,
                    line_if_followed: doc.line_if_followed(),
                    results: doc.parse().into_iter().map(|r| r.map(work)).collect(),
                })
                .collect(),
            Job::Unreadable(e) => vec![Done {
                input: usize::MAX,
                nth: 0,
                line_if_followed: None,
                results: vec![Err(e)],
            }],
        };
        if done.send((seq, finished)).is_err() {
            return;
        }
    }
}

/// The caller's side: results in input order; parse errors printed. The errors of an input's
/// first line wait until it is known whether another document follows (they then name the line).
fn in_order<T>(
    done: &mpsc::Receiver<(usize, Vec<Done<T>>)>,
    tokens: &mpsc::Receiver<()>,
    on_result: &mut impl FnMut(Option<T>) -> io::Result<()>,
) -> io::Result<bool> {
    let mut all_parsed = true;
    let mut waiting: BTreeMap<usize, Vec<Done<T>>> = BTreeMap::new();
    let mut next = 0;
    // The first line's errors: (input, line, errors).
    let mut held: Option<(usize, u64, Vec<FindingError>)> = None;
    let report = |e: &FindingError, all_parsed: &mut bool| {
        eprintln!("error: {}", inert(&e.to_string()));
        *all_parsed = false;
    };
    loop {
        let (seq, finished) = match done.try_recv() {
            Ok(received) => received,
            Err(mpsc::TryRecvError::Disconnected) => break,
            Err(mpsc::TryRecvError::Empty) => {
                on_result(None)?;
                match done.recv() {
                    Ok(received) => received,
                    Err(mpsc::RecvError) => break,
                }
            }
        };
        waiting.insert(seq, finished);
        while let Some(batch) = waiting.remove(&next) {
            next += 1;
            // Free the reader to read one more batch.
            let _ = tokens.try_recv();
            for finished in batch {
                if let Some((input, line, errors)) = held.take() {
                    let followed = finished.input == input && finished.nth > 0;
                    for e in errors {
                        let e = if followed { e.with_line(line) } else { e };
                        report(&e, &mut all_parsed);
                    }
                }
                let mut first_errors = Vec::new();
                for result in finished.results {
                    match result {
                        Ok(value) => on_result(Some(value))?,
                        Err(e) if finished.line_if_followed.is_some() => first_errors.push(e),
                        Err(e) => report(&e, &mut all_parsed),
                    }
                }
                if let (Some(line), false) = (finished.line_if_followed, first_errors.is_empty()) {
                    held = Some((finished.input, line, first_errors));
                }
            }
        }
    }
    if let Some((_, _, errors)) = held {
        for e in errors {
            report(&e, &mut all_parsed);
        }
    }
    Ok(all_parsed)
}
