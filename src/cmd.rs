//! The CLI's subcommands, one module each, and what they share.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use std::process::ExitCode;
use std::sync::Arc;

use remedy::{Config, Executor, Finding, FindingError, Remediator, Router, parse_documents};

pub(crate) mod check;
pub(crate) mod enrich;
pub(crate) mod eval;
pub(crate) mod ledger;
pub(crate) mod parse;
pub(crate) mod run;
pub(crate) mod test;

/// Where `remedy run --execute` keeps its audit trail when the configuration names none.
pub(crate) const DEFAULT_AUDIT: &str = "remedy-audit.jsonl";

/// Runs `future` on a multi-threaded runtime.
pub(crate) fn runtime(future: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(future),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The configuration in `path`, or the defaults; every notification goes to the log when no
/// channel is configured. Errors are printed.
pub(crate) fn load_config(path: Option<&Path>) -> Result<Config, ExitCode> {
    let mut config = match path {
        Some(path) => Config::from_path(path).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        })?,
        None => Config::default(),
    };
    if config.notify.channels.is_empty() && config.notify.default.is_none() {
        config.notify.default = Some("log".into());
    }
    Ok(config)
}

/// The executor of a run: nothing (a dry run calls no executor and needs no AWS), or the AWS
/// executors.
async fn executor(config: &Config, execute: bool) -> Result<Arc<dyn Executor>, String> {
    if !execute {
        return Ok(Arc::new(Router::new()));
    }
    #[cfg(feature = "aws")]
    {
        let settings = remedy::aws::AwsSettings::from_config(&config.aws);
        Ok(Arc::new(remedy::aws::router(config, &settings).await))
    }
    #[cfg(not(feature = "aws"))]
    {
        let _ = config;
        Err("this build has no AWS executors (feature `aws`): --execute is not available".into())
    }
}

/// With `execute` and no `[audit] path`, the audit trail goes to [`DEFAULT_AUDIT`] in the current
/// directory, so a real run always leaves a durable trail.
pub(crate) fn default_audit(config: &mut Config, execute: bool) {
    if execute && config.audit.path.is_none() {
        eprintln!("remedy: audit trail: {DEFAULT_AUDIT} (set `[audit] path` to choose another)");
        config.audit.path = Some(PathBuf::from(DEFAULT_AUDIT));
    }
}

/// The remediator of a run.
pub(crate) async fn remediator(config: &Config, execute: bool) -> Result<Remediator, ExitCode> {
    let executor = executor(config, execute).await.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })?;
    match Remediator::builder(executor).with_config(config) {
        Ok(b) => Ok(b.enforce(execute).build()),
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// `text` made safe to print: control characters, escape sequences and bidi overrides of
/// finding data and policy text shown escaped.
pub(crate) fn inert(text: &str) -> std::borrow::Cow<'_, str> {
    remedy::finding::inert(text)
}

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
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
