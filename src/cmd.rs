//! The CLI's subcommands, one module each, and what they share.

use std::path::{Path, PathBuf};

use std::process::ExitCode;

use remedy::pipeline::{Assembly, AssemblyError};
use remedy::{Config, Pipeline, PolicySet, Remediator};

pub(crate) mod approval;
pub(crate) mod audit;
pub(crate) mod check;
pub(crate) mod enrich;
pub(crate) mod eval;
pub(crate) mod ledger;
pub(crate) mod parse;
pub(crate) mod replay;
pub(crate) mod run;
#[cfg(feature = "chat")]
pub(crate) mod serve;
#[cfg(feature = "aws")]
pub(crate) mod state;
pub(crate) mod stream;
pub(crate) mod test;
pub(crate) mod undo;
#[cfg(feature = "sqs")]
pub(crate) mod worker;

/// Exit status when a policy failed on a finding (and no action failed).
pub(crate) const POLICY_FAILED: u8 = 2;

/// The arguments of a subcommand that a cargo feature brings, in a build without that feature:
/// whatever follows the subcommand (`--help` included) is taken and ignored, so that the answer is
/// always which feature brings it (clap alone would say "unrecognized subcommand").
#[cfg(any(test, not(feature = "sqs"), not(feature = "chat")))]
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub(crate) struct Absent {
    /// Ignored.
    #[allow(dead_code, reason = "taken only so that any arguments parse")]
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<std::ffi::OsString>,
}

/// What `remedy COMMAND` says when this build lacks `feature`, the feature that brings it.
#[cfg(any(test, not(feature = "sqs"), not(feature = "chat")))]
pub(crate) fn needs_feature(command: &str, feature: &str) -> String {
    format!(
        "error: `remedy {command}` needs the `{feature}` feature, which this build of remedy lacks; \
         install a build with it: cargo install --locked --path . --features {feature}"
    )
}

/// Says which feature brings `command` (see [`needs_feature`]) and exits 2, as clap does for a
/// command line it cannot use.
#[cfg(any(not(feature = "sqs"), not(feature = "chat")))]
pub(crate) fn absent(command: &str, feature: &str) -> ExitCode {
    eprintln!("{}", needs_feature(command, feature));
    ExitCode::from(2)
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

    /// The assembly of the configuration (a real run when `execute`, with the default audit
    /// trail) and the policies, checked against each other; errors and warnings printed.
    pub(crate) fn load(&self, execute: bool) -> Result<(Assembly, PolicySet), ExitCode> {
        let mut config = load_config(self.config.as_deref())?;
        default_audit(&mut config, execute);
        let assembly = Assembly::new(config).execute(execute);
        let set = load_policies(&assembly, &self.dirs())?;
        Ok((assembly, set))
    }
}

/// Loads the policy directories with the assembly's builder: errors (and warnings) rendered
/// on stderr like rustc's, then the configuration's names checked against the policies.
pub(crate) fn load_policies(assembly: &Assembly, dirs: &[PathBuf]) -> Result<PolicySet, ExitCode> {
    let set = assembly.load_policies(dirs).map_err(|err| {
        match &err {
            AssemblyError::Policies(err) => {
                for diagnostic in err.diagnostics() {
                    eprintln!("{:?}", miette::Report::new(diagnostic.clone()));
                }
                let n = err.diagnostics().len();
                eprintln!(
                    "error: could not load policies from `{}` ({n} error{})",
                    inert(err.origin()),
                    if n == 1 { "" } else { "s" }
                );
            }
            other => eprintln!("error: {}", inert(&other.to_string())),
        }
        ExitCode::FAILURE
    })?;
    for warning in set.warnings() {
        eprintln!("{:?}", miette::Report::new(warning.clone()));
    }
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

/// The configuration in `path`, or the defaults. Errors are printed.
pub(crate) fn load_config(path: Option<&Path>) -> Result<Config, ExitCode> {
    match path {
        Some(path) => Config::from_path(path).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }),
        None => Ok(Config::default()),
    }
}

/// With `execute` and no `[audit] path`, the audit trail goes to [`DEFAULT_AUDIT`] in the current
/// directory, so a real run always leaves a durable trail.
pub(crate) fn default_audit(config: &mut Config, execute: bool) {
    if execute && config.audit.path.is_none() {
        eprintln!("remedy: audit trail: {DEFAULT_AUDIT} (set `[audit] path` to choose another)");
        default_audit_quiet(config);
    }
}

/// The trail `remedy run --execute` writes without a configured one, for commands that read it.
pub(crate) fn default_audit_quiet(config: &mut Config) {
    if config.audit.path.is_none() {
        config.audit.path = Some(PathBuf::from(DEFAULT_AUDIT));
    }
}

/// The audit trail's HMAC key of `[audit] key_env` or `key_secret`, if one is configured; errors
/// printed.
pub(crate) async fn audit_key(
    config: &Config,
) -> Result<Option<remedy::store::audit::AuditKey>, ExitCode> {
    Assembly::new(config.clone())
        .audit_key()
        .await
        .map_err(|e| {
            eprintln!("error: {}", inert(&e.to_string()));
            ExitCode::FAILURE
        })
}

/// [`audit_key`] for a command that runs outside the async runtime (on a runtime of its own).
pub(crate) fn audit_key_blocking(
    config: &Config,
) -> Result<Option<remedy::store::audit::AuditKey>, ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        })?;
    runtime.block_on(audit_key(config))
}

/// The remediator `assembly` builds; errors printed.
pub(crate) async fn remediator(assembly: &Assembly) -> Result<Remediator, ExitCode> {
    assembly.remediator().await.map_err(|e| {
        eprintln!("error: {}", inert(&e.to_string()));
        ExitCode::FAILURE
    })
}

/// The pipeline `assembly` builds with `set`: kinds nothing carries out are a warning (such
/// actions fail `unsupported`, in a dry run as in a real one); other errors are printed.
pub(crate) async fn pipeline(assembly: &Assembly, set: PolicySet) -> Result<Pipeline, ExitCode> {
    if let Some(table) = assembly.config().state.dynamodb_table.as_deref()
        && !assembly.executes()
    {
        eprintln!(
            "remedy: dry run: the shared state in table `{}` is not used (ledger, rate limits, \
             breaker and kill switch are this process's)",
            inert(table)
        );
    }
    match assembly.pipeline(set).await {
        Ok(pipeline) => Ok(pipeline),
        Err(AssemblyError::Unroutable(unroutable)) => {
            let mut what: Vec<String> = unroutable
                .kinds()
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect();
            what.extend(
                unroutable
                    .channels()
                    .iter()
                    .map(|c| format!("notify to channel `{}`", inert(c))),
            );
            eprintln!(
                "warning: no executor carries out {}: such actions fail `unsupported`{}",
                what.join(", "),
                if assembly.executes() {
                    ""
                } else {
                    " (in this dry run as in a real one)"
                }
            );
            Ok(unroutable.acknowledge())
        }
        Err(e) => {
            eprintln!("error: {}", inert(&e.to_string()));
            Err(ExitCode::FAILURE)
        }
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

/// The policies that failed in a command, each with how many findings it failed on and its first
/// error: printed once per policy at the end, so a failing policy is named on stderr, not only in
/// the JSON on stdout.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    by_policy: std::collections::BTreeMap<String, (usize, String)>,
    total: usize,
}

impl Failures {
    /// Counts the failures of one finding.
    pub(crate) fn add(&mut self, failures: &[remedy::plan::PolicyFailure]) {
        for failure in failures {
            self.total += 1;
            let entry = self
                .by_policy
                .entry(failure.policy.clone())
                .or_insert_with(|| (0, failure_line(failure)));
            entry.0 += 1;
        }
    }

    /// How many failures were counted.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    /// One line per failing policy on stderr.
    pub(crate) fn print(&self) {
        for (policy, (count, first)) in &self.by_policy {
            eprintln!(
                "error: policy `{}` failed on {count} finding{}; first: {first}",
                inert(policy),
                if *count == 1 { "" } else { "s" }
            );
        }
    }
}

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

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::{Absent, needs_feature};

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Command {
        #[command(hide = true)]
        Worker(Absent),
    }

    #[test]
    fn the_message_names_the_command_the_feature_and_the_install_line() {
        assert_eq!(
            needs_feature("worker", "sqs"),
            "error: `remedy worker` needs the `sqs` feature, which this build of remedy lacks; \
             install a build with it: cargo install --locked --path . --features sqs"
        );
        assert!(needs_feature("state", "aws").contains("`remedy state` needs the `aws` feature"));
    }

    #[test]
    fn an_absent_command_takes_any_arguments_help_included() {
        for args in [
            &["remedy", "worker"][..],
            &["remedy", "worker", "--help"],
            &[
                "remedy",
                "worker",
                "--queue-url",
                "http://q",
                "-x",
                "file.toml",
            ],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            let Command::Worker(absent) = cli.command;
            assert_eq!(absent.rest.len(), args.len() - 2, "{args:?}");
        }
    }
}
