//! Enrichment for `remedy eval` and `remedy run`: the enrichers `[enrich]` turns on, or one fixed
//! context given with `--context FILE`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use remedy::enrich::{Context, StaticEnricher};
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

/// The enrichers of a run: the fixed context of `--context`, else those `[enrich]` turns on
/// (none without it: no AWS call). Errors are printed.
pub(crate) async fn enrichers(config: &Config, args: &EnrichArgs) -> Result<Enrichers, ExitCode> {
    if let Some(path) = &args.context {
        let context = read_context(path).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        })?;
        return Ok(Enrichers::new().with(Arc::new(StaticEnricher::new(context))));
    }
    if !config.enrich.is_enabled() {
        return Ok(Enrichers::new());
    }
    #[cfg(feature = "aws")]
    {
        // Lookups run in the finding's account, like the actions (`[accounts]`).
        let settings = remedy::aws::AwsSettings::from_config(&config.aws)
            .with_accounts(config.accounts.clone());
        Ok(remedy::aws::enrichers(&config.enrich, &settings).await)
    }
    #[cfg(not(feature = "aws"))]
    {
        eprintln!(
            "error: this build has no AWS enrichers (feature `aws`): `[enrich]` is not available"
        );
        Err(ExitCode::FAILURE)
    }
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
