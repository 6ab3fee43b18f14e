//! [`Assembly`]: a [`Pipeline`] built from a [`Config`], in the one place the CLI's commands, the
//! SQS worker and the Lambda function all build theirs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{Pipeline, Policies, Unroutable};
use crate::action::{
    ActionRequest, ChannelRouter, CommandExecutor, ErrorKind, Executor, Outcome, Router,
};
use crate::config::{Config, ConfigError, NotifyTarget, Secret, SecretSource, invalid};
use crate::enrich::Enrichers;
use crate::plan::ActionKind;
use crate::policy::{PolicyError, PolicySet, PolicySetBuilder};
use crate::remediate::{Remediator, RemediatorBuilder};
use crate::store::audit::AuditKey;

/// Why a pipeline could not be assembled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssemblyError {
    /// The configuration cannot be used (or names a policy or kind the policies lack).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The policies did not load; the error holds every diagnostic.
    #[error(transparent)]
    Policies(#[from] PolicyError),
    /// The configuration asks for what this build lacks (a feature such as `aws`).
    #[error("{0}")]
    Unavailable(String),
    /// Kinds the policies can choose that no executor carries out; the pipeline is inside, for a
    /// caller that accepts that those actions fail `unsupported`.
    #[error(transparent)]
    Unroutable(Box<Unroutable>),
}

/// A [`Pipeline`] assembled from a [`Config`]: the policies checked against the configuration,
/// the executors of the build (the AWS ones with feature `aws`, plus the `[host_kinds]` that name a
/// `command`), the remediator with its ledger, audit, state and approvals, and the `[enrich]`
/// enrichers.
///
/// A dry run (the default) routes every kind a real run could carry out to an executor that is
/// never called, so it needs no AWS account and reports exactly what a real run could not do. The
/// shared state of `[state]` is used only when asked ([`Assembly::with_shared_state`]; on by
/// default when executing), so a dry run never spends the shared rate budget.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use remedy::pipeline::Assembly;
/// use remedy::{Config, Finding};
///
/// let assembly = Assembly::new(Config::default());
/// let policies = assembly.load_policies(&[concat!(env!("CARGO_MANIFEST_DIR"), "/policies")])?;
/// let pipeline = assembly.pipeline(policies).await?;
/// let finding = Finding::from_json_str(include_str!("../../examples/findings/02-recon-iamuser.json"))?;
/// let plan = pipeline.decide(&finding).await;
/// assert!(!plan.actions.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Assembly {
    config: Config,
    execute: bool,
    shared: Option<bool>,
    routes: Vec<(ActionKind, Arc<dyn Executor>)>,
}

impl Assembly {
    /// An assembly of `config` for a dry run. A configuration without any notify channel sends
    /// every notification to the log.
    pub fn new(mut config: Config) -> Self {
        if config.notify.is_empty() {
            config.notify.default = Some(NotifyTarget::Log);
        }
        Self {
            config,
            execute: false,
            shared: None,
            routes: Vec::new(),
        }
    }

    /// Carry the actions out (`true`) or only record what would be done (`false`, the default).
    pub fn execute(mut self, execute: bool) -> Self {
        self.execute = execute;
        self
    }

    /// Use the `[state]` table's ledger, rate windows, breaker, kill switch and approvals
    /// (default: when executing). Approval and ledger commands use it in a dry run too.
    pub fn with_shared_state(mut self, shared: bool) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Routes `kind` to `executor` as well (a host's own kind), in a real run; a dry run routes it
    /// to its placeholder.
    pub fn with_route(mut self, kind: ActionKind, executor: Arc<dyn Executor>) -> Self {
        self.routes.push((kind, executor));
        self
    }

    /// The configuration (with its defaults applied).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the assembled pipeline executes.
    pub fn executes(&self) -> bool {
        self.execute
    }

    /// The policy-set builder the configuration asks for: its host kinds, `[reach]`, the
    /// `run_command` documents and the `[policy]` limits.
    pub fn policy_builder(&self) -> Result<PolicySetBuilder, ConfigError> {
        PolicySet::builder().with_config(&self.config)
    }

    /// Loads the policy directories (names unique across them) and checks the configuration's
    /// names against them: a typo in `shadow`, `only`, `[reach]`, `[approval]` or
    /// `[rate_limits]` would otherwise leave a policy enforced or a kind unlimited.
    pub fn load_policies(&self, dirs: &[impl AsRef<Path>]) -> Result<PolicySet, AssemblyError> {
        let mut builder = self.policy_builder()?;
        let kinds = builder.kinds();
        for dir in dirs {
            builder = builder.add_dir(dir.as_ref());
        }
        let set = builder.build()?;
        let names: Vec<&str> = set.policies().iter().map(|p| p.name()).collect();
        let reach: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| set.declares_reach(n))
            .collect();
        self.config.check_names(&names, &reach, &kinds)?;
        Ok(set)
    }

    /// The executor of the run: the build's executors and the host routes, or in a dry run the
    /// same routes to an executor that is never called.
    pub async fn executor(&self) -> Result<Arc<dyn Executor>, AssemblyError> {
        let mut routes = host_routes(&self.config)?;
        routes.extend(self.routes.iter().cloned());
        if !self.execute {
            let placeholder: Arc<dyn Executor> = Arc::new(NeverInDryRun);
            let router = built_in_kinds()
                .iter()
                .chain(routes.iter().map(|(kind, _)| kind))
                .fold(Router::new(), |router, kind| {
                    router.with(kind.clone(), Arc::clone(&placeholder))
                });
            // The channels of the real run, so a dry run names a channel nothing takes too.
            let notify = &self.config.notify;
            let mut channels = notify
                .channels
                .keys()
                .fold(ChannelRouter::new(), |channels, name| {
                    channels.with_channel(name.clone(), Arc::clone(&placeholder))
                });
            if notify.default.is_some() {
                channels = channels.with_fallback(Arc::clone(&placeholder));
            }
            return Ok(Arc::new(
                router.with(ActionKind::NOTIFY, Arc::new(channels)),
            ));
        }
        #[cfg(feature = "aws")]
        let router = {
            let settings = crate::aws::AwsSettings::from_config(&self.config.aws);
            crate::aws::router(&self.config, &settings).await
        };
        #[cfg(not(feature = "aws"))]
        let router = {
            if routes.is_empty() {
                return Err(AssemblyError::Unavailable(
                    "this build has no AWS executors (feature `aws`): nothing can be executed"
                        .into(),
                ));
            }
            Router::new()
        };
        // The configuration's channels, then the host's own routes (which may replace them).
        let router = router.with(ActionKind::NOTIFY, self.channels().await?);
        Ok(Arc::new(
            routes
                .into_iter()
                .fold(router, |router, (kind, exec)| router.with(kind, exec)),
        ))
    }

    /// Whether this assembly uses the `[state]` table (asked for, or executing).
    pub(super) fn uses_shared_state(&self) -> bool {
        self.config.state.dynamodb_table.is_some() && self.shared.unwrap_or(self.execute)
    }

    /// The remediator: the executor, the configuration's guards, ledger, audit and approvals, and
    /// (when shared state is used) the `[state]` table's backends.
    pub async fn remediator(&self) -> Result<Remediator, AssemblyError> {
        let mut builder = Remediator::builder(self.executor().await?);
        if let Some(key) = self.audit_key().await? {
            builder = builder.with_audit_key(key);
        }
        let builder = builder.with_config(&self.config)?;
        let builder = match &self.config.state.dynamodb_table {
            Some(_) if self.uses_shared_state() => self.shared_state(builder).await?,
            Some(table) => {
                tracing::info!(
                    "dry run: the shared state in table `{table}` is not used (ledger, rate \
                     limits, breaker and kill switch are this process's)"
                );
                builder
            }
            None => builder,
        };
        Ok(builder.enforce(self.execute).build())
    }

    /// The audit trail's HMAC key of `[audit] key_env` or `key_secret`, if one is configured.
    pub async fn audit_key(&self) -> Result<Option<AuditKey>, AssemblyError> {
        let Some(source) = self.config.audit.key_source()? else {
            return Ok(None);
        };
        let secret = self.secret(&source, "audit").await?;
        AuditKey::from_secret(&secret, &source)
            .map(Some)
            .map_err(|message| invalid("audit", message).into())
    }

    /// The value of a secret the configuration names (`field` says where, in errors): an
    /// environment variable, or with feature `aws` a Secrets Manager secret. Never printed.
    pub async fn secret(
        &self,
        source: &SecretSource,
        field: &str,
    ) -> Result<Secret, AssemblyError> {
        #[cfg(feature = "aws")]
        let read = {
            let settings = crate::aws::AwsSettings::from_config(&self.config.aws);
            crate::aws::read_secret(&settings, source).await
        };
        #[cfg(not(feature = "aws"))]
        let read = source.read_env();
        read.map_err(|message| invalid(field, message).into())
    }

    /// The enrichers `[enrich]` turns on (none without it: no AWS call).
    pub async fn enrichers(&self) -> Result<Enrichers, AssemblyError> {
        if !self.config.enrich.is_enabled() {
            return Ok(Enrichers::new());
        }
        #[cfg(feature = "aws")]
        {
            // Lookups run in the finding's account, like the actions (`[accounts]`).
            let settings = crate::aws::AwsSettings::from_config(&self.config.aws)
                .with_accounts(self.config.accounts.clone());
            Ok(crate::aws::enrichers(&self.config.enrich, &settings).await)
        }
        #[cfg(not(feature = "aws"))]
        Err(AssemblyError::Unavailable(
            "this build has no AWS enrichers (feature `aws`): `[enrich]` is not available".into(),
        ))
    }

    /// The pipeline deciding with `policies`: the remediator and the enrichers of this assembly.
    /// Kinds the policies can choose that nothing carries out are an
    /// [`AssemblyError::Unroutable`] holding the pipeline.
    pub async fn pipeline(&self, policies: impl Into<Policies>) -> Result<Pipeline, AssemblyError> {
        let remediator = self.remediator().await?;
        let enrichers = self.enrichers().await?;
        match Pipeline::new(policies, remediator) {
            Ok(pipeline) => Ok(pipeline.with_enrichers(enrichers)),
            Err(unroutable) => Err(AssemblyError::Unroutable(Box::new(
                unroutable.map(|p| p.with_enrichers(enrichers)),
            ))),
        }
    }

    /// Gives `builder` the ledger, the state and the approvals of the `[state]` table.
    async fn shared_state(
        &self,
        builder: RemediatorBuilder,
    ) -> Result<RemediatorBuilder, AssemblyError> {
        #[cfg(feature = "aws")]
        {
            let settings = crate::aws::AwsSettings::from_config(&self.config.aws);
            Ok(
                match crate::aws::state_backends(&self.config, &settings).await {
                    Some((ledger, state, approvals)) => builder
                        .with_ledger(ledger)
                        .with_state(state)
                        .with_approval_store(approvals),
                    None => builder,
                },
            )
        }
        #[cfg(not(feature = "aws"))]
        {
            let _ = builder;
            Err(AssemblyError::Unavailable(
                "this build has no AWS support (feature `aws`): `[state] dynamodb_table` is not \
                 available"
                    .into(),
            ))
        }
    }
}

/// The built-in kinds: a dry run routes every one of them, whatever the build carries out, so a
/// build without feature `aws` (the quick start's) shows the same plan a real run would carry out.
fn built_in_kinds() -> Vec<ActionKind> {
    ActionKind::builtin().collect()
}

/// A route: an action kind and the executor that carries it out.
type Route = (ActionKind, Arc<dyn Executor>);

/// The host kinds of the configuration that name a `command`, each with its executor.
fn host_routes(config: &Config) -> Result<Vec<Route>, ConfigError> {
    let mut routes = Vec::new();
    for (name, kind) in &config.host_kinds {
        let Some((program, args)) = kind.command.as_deref().and_then(<[String]>::split_first)
        else {
            continue;
        };
        let action_kind = ActionKind::new(name.as_str())
            .map_err(|e| invalid(format!("host_kinds.{name}"), e.to_string()))?;
        let exec = CommandExecutor::new(program, args.to_vec())
            .with_timeout(Duration::from_secs(kind.timeout_secs.unwrap_or(30)));
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

impl Pipeline {
    /// The pipeline a configuration describes, deciding with the policies of `dirs`: see
    /// [`Assembly`], which this is a shortcut of (a dry run unless `execute`).
    pub async fn from_config(
        config: Config,
        dirs: &[impl AsRef<Path>],
        execute: bool,
    ) -> Result<Self, AssemblyError> {
        let assembly = Assembly::new(config).execute(execute);
        let policies = assembly.load_policies(dirs)?;
        assembly.pipeline(policies).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dry_run_routes_every_kind_and_defaults_notifications_to_the_log() {
        let assembly = Assembly::new(Config::default());
        assert_eq!(assembly.config().notify.default, Some(NotifyTarget::Log));
        let executor = assembly.executor().await.unwrap();
        for kind in built_in_kinds() {
            assert!(executor.handles(&kind), "{kind}");
        }
        assert!(!executor.handles(&ActionKind::new("quarantine_instance").unwrap()));
        assert!(
            executor.handles_channel("anything"),
            "the log takes every channel"
        );
    }

    #[tokio::test]
    async fn a_channel_nothing_takes_fails_the_assembly_in_a_dry_run_too() {
        let config = Config::from_toml_str(
            "[notify.channels]\nops = \"arn:aws:sns:us-east-1:123456789012:ops\"\n",
        )
        .unwrap();
        let assembly = Assembly::new(config);
        let set = PolicySet::from_sources([(
            "pager",
            "const DESCRIPTION = \"pages\";\nconst APPLIES_TO = \"*\";\n\
             fn decide(finding) { [notify(\"pagerduty\", \"x\"), notify(\"ops\", \"y\")] }",
        )])
        .unwrap();
        match assembly.pipeline(set).await {
            Err(AssemblyError::Unroutable(unroutable)) => {
                assert_eq!(unroutable.channels(), ["pagerduty"]);
                assert!(unroutable.kinds().is_empty());
                assert!(unroutable.to_string().contains("pagerduty"), "{unroutable}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_misnamed_policy_in_the_configuration_fails_the_assembly() {
        let config =
            Config::from_toml_str("[enforcement]\nshadow = [\"no-such-policy\"]\n").unwrap();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
        let err = Pipeline::from_config(config, &[dir], false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no-such-policy"), "{err}");
    }
}
