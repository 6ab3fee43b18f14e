//! The CLI's subcommands, one module each, and what they share.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use remedy::FindingError;

pub(crate) mod check;
pub(crate) mod eval;
pub(crate) mod parse;
pub(crate) mod run;
pub(crate) mod test;

/// The largest input read from one file or stdin: 256 MiB (each document inside is further limited
/// to `remedy::MAX_DOCUMENT_BYTES`).
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
