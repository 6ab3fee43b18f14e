//! The CLI's subcommands, one module each.

pub(crate) mod check;
pub(crate) mod eval;
pub(crate) mod parse;
pub(crate) mod run;
pub(crate) mod test;

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
