//! The CLI's subcommands, one module each, and what they share.

use std::path::{Path, PathBuf};

use std::process::ExitCode;
use std::sync::Arc;

use remedy::action::{ActionRequest, CommandExecutor, ErrorKind, Outcome};
use remedy::policy::PolicySetBuilder;
use remedy::{ActionKind, Config, Executor, PolicySet, Remediator, Router, async_trait};

pub(crate) mod approval;
pub(crate) mod check;
pub(crate) mod enrich;
pub(crate) mod eval;
pub(crate) mod ledger;
pub(crate) mod parse;
pub(crate) mod run;
#[cfg(feature = "aws")]
pub(crate) mod state;
pub(crate) mod stream;
pub(crate) mod test;
pub(crate) mod undo;
#[cfg(feature = "sqs")]
pub(crate) mod worker;

/// Exit status when a policy failed on a finding (and no action failed).
pub(crate) const POLICY_FAILED: u8 = 2;

/// The policy-set builder a configuration asks for: its host kinds, `[reach]` and the
/// `run_command` documents.
pub(crate) fn builder(config: &Config) -> Result<PolicySetBuilder, String> {
    PolicySet::builder()
        .with_config(config)
        .map_err(|e| e.to_string())
}

/// Where a command's policies come from: a directory, more directories loaded into the same set,
/// and the configuration (host kinds, reach, documents, names to check).
#[derive(Debug, clap::Args)]
pub(crate) struct PolicyArgs {
    /// The policy directory.
    pub(crate) policy_dir: PathBuf,
    /// Another policy directory loaded into the same set (e.g. your own next to the bundled
    /// ones); repeatable. Policy names must be unique across the directories.
    #[arg(long = "with", value_name = "DIR")]
    pub(crate) more: Vec<PathBuf>,
    /// The configuration file (TOML): host action kinds, `[reach]`, `run_command` documents,
    /// notify channels, protection, rate limits, ledger, audit.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
}

impl PolicyArgs {
    /// Every policy directory, the first one first.
    pub(crate) fn dirs(&self) -> Vec<PathBuf> {
        std::iter::once(&self.policy_dir)
            .chain(&self.more)
            .cloned()
            .collect()
    }

    /// The configuration and the policies, loaded and checked against each other; errors and
    /// warnings printed.
    pub(crate) fn load(&self) -> Result<(Config, PolicySet), ExitCode> {
        let config = load_config(self.config.as_deref())?;
        let set = load_policies(&self.dirs(), &config)?;
        Ok((config, set))
    }
}

/// Loads the policy directories with the configuration's builder: errors (and warnings) rendered
/// on stderr like rustc's, then the configuration's names checked against the policies.
pub(crate) fn load_policies(dirs: &[PathBuf], config: &Config) -> Result<PolicySet, ExitCode> {
    let mut builder = builder(config).map_err(|e| {
        eprintln!("error: {}", inert(&e));
        ExitCode::FAILURE
    })?;
    let kinds = builder.kinds();
    for dir in dirs {
        builder = builder.add_dir(dir);
    }
    let set = builder.build().map_err(|err| {
        for diagnostic in err.diagnostics() {
            eprintln!("{:?}", miette::Report::new(diagnostic.clone()));
        }
        let n = err.diagnostics().len();
        eprintln!(
            "error: could not load policies from `{}` ({n} error{})",
            inert(err.origin()),
            if n == 1 { "" } else { "s" }
        );
        ExitCode::FAILURE
    })?;
    for warning in set.warnings() {
        eprintln!("{:?}", miette::Report::new(warning.clone()));
    }
    let names: Vec<&str> = set.policies().iter().map(|p| p.name()).collect();
    let reach: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| set.declares_reach(n))
        .collect();
    config.check_names(&names, &reach, &kinds).map_err(|e| {
        eprintln!("error: {}", inert(&e.to_string()));
        ExitCode::FAILURE
    })?;
    Ok(set)
}

/// Where `remedy run --execute` keeps its audit trail when the configuration names none.
pub(crate) const DEFAULT_AUDIT: &str = "remedy-audit.jsonl";

/// Runs `future` on a multi-threaded runtime.
pub(crate) fn runtime(
    future: impl std::future::Future<Output = ExitCode> + Send + 'static,
) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        // On a worker thread, not the main thread: the tasks it spawns then start on the same
        // worker without waking another thread, and its wake-ups stay inside the runtime.
        Ok(rt) => rt.block_on(async {
            tokio::spawn(future).await.unwrap_or_else(|e| {
                eprintln!("error: the command's task failed: {e}");
                ExitCode::FAILURE
            })
        }),
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

/// The executor of a run. A dry run calls no executor and needs no AWS: its router has the same
/// routes as the real run's (the AWS kinds, when this build has them), each to an executor that
/// is never called, so an action no real run could carry out is `unsupported` in the dry run too.
async fn executor(config: &Config, execute: bool) -> Result<Arc<dyn Executor>, String> {
    let host = host_routes(config)?;
    if !execute {
        #[cfg(feature = "aws")]
        let kinds: &[ActionKind] = &remedy::aws::KINDS;
        #[cfg(not(feature = "aws"))]
        let kinds: &[ActionKind] = &[ActionKind::NOTIFY];
        let placeholder: Arc<dyn Executor> = Arc::new(NeverInDryRun);
        let router = kinds
            .iter()
            .chain(host.iter().map(|(kind, _)| kind))
            .fold(Router::new(), |router, kind| {
                router.with(kind.clone(), Arc::clone(&placeholder))
            });
        return Ok(Arc::new(router));
    }
    #[cfg(feature = "aws")]
    let router = {
        let settings = remedy::aws::AwsSettings::from_config(&config.aws);
        remedy::aws::router(config, &settings).await
    };
    #[cfg(not(feature = "aws"))]
    let router = {
        if host.is_empty() {
            return Err(
                "this build has no AWS executors (feature `aws`): --execute is not available"
                    .into(),
            );
        }
        Router::new()
    };
    Ok(Arc::new(
        host.into_iter()
            .fold(router, |router, (kind, exec)| router.with(kind, exec)),
    ))
}

/// A route: an action kind and the executor that carries it out.
type Route = (ActionKind, Arc<dyn Executor>);

/// The host kinds of the configuration that name a `command`, each with its executor.
fn host_routes(config: &Config) -> Result<Vec<Route>, String> {
    let mut routes = Vec::new();
    for (name, kind) in &config.host_kinds {
        let Some((program, args)) = kind.command.as_deref().and_then(<[String]>::split_first)
        else {
            continue;
        };
        let action_kind =
            ActionKind::new(name.as_str()).map_err(|e| format!("host_kinds.{name}: {e}"))?;
        let exec = CommandExecutor::new(program, args.to_vec()).with_timeout(
            std::time::Duration::from_secs(kind.timeout_secs.unwrap_or(30)),
        );
        routes.push((action_kind, Arc::new(exec) as Arc<dyn Executor>));
    }
    Ok(routes)
}

/// The route of a dry run: the remediator never calls an executor in a dry run, so this one
/// only stands for the real executor when routes are checked.
#[derive(Debug)]
struct NeverInDryRun;

#[async_trait]
impl Executor for NeverInDryRun {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        Outcome::failed(
            ErrorKind::Other,
            format!(
                "`{}` reached the placeholder executor of a dry run; nothing was done",
                request.action.kind()
            ),
        )
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

/// The remediator of a run. With `shared` and a `[state]` table, its ledger, rate windows,
/// breaker and kill switch are the table's; without `shared` (a dry run) they stay in the
/// process, so a dry run needs no AWS credentials and never spends the shared rate budget.
pub(crate) async fn remediator(
    config: &Config,
    execute: bool,
    shared: bool,
) -> Result<Remediator, ExitCode> {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    };
    let executor = executor(config, execute).await.map_err(|e| fail(&e))?;
    let mut builder = Remediator::builder(executor)
        .with_config(config)
        .map_err(|e| fail(&e))?;
    if let Some(table) = &config.state.dynamodb_table {
        if shared {
            builder = shared_state(builder, config).await.map_err(|e| fail(&e))?;
        } else {
            eprintln!(
                "remedy: dry run: the shared state in table `{}` is not used (ledger, rate \
                 limits, breaker and kill switch are this process's)",
                inert(table)
            );
        }
    }
    Ok(builder.enforce(execute).build())
}

/// Gives `builder` the ledger and the state of the `[state]` table.
async fn shared_state(
    builder: remedy::remediate::RemediatorBuilder,
    config: &Config,
) -> Result<remedy::remediate::RemediatorBuilder, String> {
    #[cfg(feature = "aws")]
    {
        let settings = remedy::aws::AwsSettings::from_config(&config.aws);
        Ok(match remedy::aws::state_backends(config, &settings).await {
            Some((ledger, state, approvals)) => builder
                .with_ledger(ledger)
                .with_state(state)
                .with_approval_store(approvals),
            None => builder,
        })
    }
    #[cfg(not(feature = "aws"))]
    {
        let _ = (builder, config);
        Err(
            "this build has no AWS support (feature `aws`): `[state] dynamodb_table` is not \
             available"
                .into(),
        )
    }
}

/// The action records of `reports` on stdout, one JSON line each, inert.
pub(crate) fn print_records(reports: &[remedy::Report]) {
    use std::io::Write as _;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for record in reports.iter().flat_map(|r| &r.actions) {
        if let Ok(line) = serde_json::to_string(record) {
            let _ = writeln!(out, "{}", remedy::finding::inert_json(&line));
        }
    }
}

/// `text` made safe to print: control characters, escape sequences and bidi overrides of
/// finding data and policy text shown escaped.
pub(crate) fn inert(text: &str) -> std::borrow::Cow<'_, str> {
    remedy::finding::inert(text)
}

/// One policy failure on one line, inert: `policy `x` failed at file:line:column (kind): message`.
pub(crate) fn failure_line(failure: &remedy::plan::PolicyFailure) -> String {
    inert(&failure.to_string()).into_owned()
}

pub(crate) use stream::each_finding;

/// Sends `tracing` output to stderr, filtered by `RUST_LOG` (default: warnings, except the AWS
/// SDK's credential and region chain, whose warnings about each source it tried (instance
/// metadata on a laptop) say nothing remedy's own errors do not: an AWS call that cannot get
/// credentials fails with the reason, in the record or the enrichment context).
pub(crate) fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,aws_config=error"));
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
