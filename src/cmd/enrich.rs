//! Enrichment for `remedy eval` and `remedy run`: the enrichers `[enrich]` turns on, or one fixed
//! context given with `--context FILE`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use remedy::enrich::{Context, StaticEnricher};
use remedy::pipeline::Assembly;
use remedy::{Config, Enrichers, Finding};

/// The enrichment options `remedy eval` and `remedy run` share.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct EnrichArgs {
    /// A context (JSON) every finding gets instead of enrichment: a plan's or decision record's
    /// `enrichment`, or the whole plan or record; replays a decision or tries a policy without
    /// AWS.
    #[arg(long, value_name = "FILE")]
    context: Option<PathBuf>,
}

/// The enrichers of `--context`, if it is given: every finding gets that fixed context instead
/// of `[enrich]`'s lookups. Errors are printed.
pub(crate) fn context_enrichers(args: &EnrichArgs) -> Result<Option<Enrichers>, ExitCode> {
    let Some(path) = &args.context else {
        return Ok(None);
    };
    let context = read_context(path).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })?;
    Ok(Some(
        Enrichers::new().with(Arc::new(StaticEnricher::new(context))),
    ))
}

/// The enrichers of a run: the fixed context of `--context`, else those `[enrich]` turns on
/// (none without it: no AWS call). Errors are printed.
async fn enrichers(config: &Config, args: &EnrichArgs) -> Result<Enrichers, ExitCode> {
    if let Some(enrichers) = context_enrichers(args)? {
        return Ok(enrichers);
    }
    Assembly::new(config.clone())
        .enrichers()
        .await
        .map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        })
}

/// A context file: a context, or a plan or decision record holding one in `enrichment`.
fn read_context(path: &Path) -> Result<Context, String> {
    let name = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read `{name}`: {e}"))?;
    let mut value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("`{name}` is not JSON: {e}"))?;
    if let Some(inner) = value.get_mut("enrichment") {
        value = inner.take();
    }
    serde_json::from_value(value).map_err(|e| format!("`{name}` is not a context: {e}"))
}

/// Enrichment for a synchronous command: the enrichers and a runtime to run them on.
pub(crate) struct Enrich {
    enrichers: Enrichers,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Enrich {
    /// The enrichment `remedy eval` uses: `--context`, else `[enrich]` of `config` (none
    /// without it: no AWS call). Errors are printed.
    pub(crate) fn for_eval(config: &Config, args: &EnrichArgs) -> Result<Self, ExitCode> {
        if args.context.is_none() && !config.enrich.is_enabled() {
            return Ok(Self {
                enrichers: Enrichers::new(),
                runtime: None,
            });
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                eprintln!("error: cannot start the async runtime: {e}");
                ExitCode::FAILURE
            })?;
        let enrichers = runtime.block_on(enrichers(config, args))?;
        Ok(Self {
            enrichers,
            runtime: Some(runtime),
        })
    }

    /// `finding` with what the enrichers found (as it is without enrichers).
    pub(crate) fn apply(&self, finding: Finding) -> Finding {
        match &self.runtime {
            Some(runtime) if !self.enrichers.is_empty() => {
                runtime.block_on(self.enrichers.enrich(&finding))
            }
            _ => finding,
        }
    }
}
