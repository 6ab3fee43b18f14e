//! The CLI's subcommands, one module each, and what they share.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use remedy::{Finding, FindingError, parse_documents};

pub(crate) mod check;
pub(crate) mod eval;
pub(crate) mod parse;
pub(crate) mod run;
pub(crate) mod test;

/// The largest input read from one file or stdin: 256 MiB (each document inside is further limited
/// to `remedy::finding::MAX_DOCUMENT_BYTES`).
const MAX_INPUT_BYTES: u64 = 256 * 1024 * 1024;

/// The files a command reads: the ones named, or standard input (`-`) when none is.
pub(crate) fn input_files(files: &[PathBuf]) -> Vec<PathBuf> {
    if files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        files.to_vec()
    }
}

/// Reads one input (`-` is standard input) up to [`MAX_INPUT_BYTES`]; returns its display name and
/// bytes. Errors name the input.
pub(crate) fn read_input(path: &Path) -> Result<(String, Vec<u8>), FindingError> {
    let name = path.display().to_string();
    let io_err = |e: io::Error| FindingError::from_io(&e).with_source(name.clone());
    let mut bytes = Vec::new();
    if name == "-" {
        io::stdin()
            .lock()
            .take(MAX_INPUT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io_err)?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes))
            .map_err(io_err)?;
    }
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_INPUT_BYTES {
        return Err(FindingError::too_large(bytes.len(), MAX_INPUT_BYTES).with_source(name));
    }
    Ok((name, bytes))
}

/// Reads every input (`-` is standard input), parses every document in it and hands each finding
/// to `on_finding`. Read and parse errors go to stderr, naming the input, and the other findings
/// are still handled. Returns whether every input parsed, or the first error `on_finding` returned
/// (writing the output failed: there is no point going on).
pub(crate) fn each_finding(
    files: &[PathBuf],
    mut on_finding: impl FnMut(Finding) -> io::Result<()>,
) -> io::Result<bool> {
    let mut all_parsed = true;
    for file in input_files(files) {
        let (name, bytes) = match read_input(&file) {
            Ok(input) => input,
            Err(e) => {
                eprintln!("error: {e}");
                all_parsed = false;
                continue;
            }
        };
        for result in parse_documents(&bytes, &name) {
            match result {
                Ok(finding) => on_finding(finding)?,
                Err(e) => {
                    eprintln!("error: {e}");
                    all_parsed = false;
                }
            }
        }
    }
    Ok(all_parsed)
}

/// Sends `tracing` output to stderr, filtered by `RUST_LOG` (default: warnings).
pub(crate) fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
