//! [`PolicySetBuilder`]: reading a directory or sources, compiling, validating and indexing them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rhai::Scope;
use sha2::{Digest, Sha256};

use super::actions::{self, HostActionKind};
use super::diagnose::compile_problem;
use super::error::{DiagnosticKind, PolicyDiagnostic, PolicyError};
use super::files::collect_files;
use super::index::TypeIndex;
use super::limits::Limits;
use super::runner::{CallMode, Runner};
use super::sandbox::{self, HelperModules, with_deadline};
use super::script_finding::{self, PathCache};
use super::store::PolicyStore;
use super::{Policy, PolicySet, helpers, lint, metadata};

mod names;
use names::{function_names, hex, used_kinds};

/// The SSM documents `run_command` may run unless the configuration says otherwise: the ones the
/// bundled policies use.
pub const DEFAULT_DOCUMENTS: &[&str] = &[
    "AWS-RunShellScript",
    "AWS-RunPowerShellScript",
    "AWS-RunPatchBaseline",
];

/// Configures how policy sets are built: sandbox limits and host action kinds.
///
/// ```
/// use remedy::PolicySet;
/// use remedy::policy::{HostActionKind, Limits};
/// use std::time::Duration;
///
/// let builder = PolicySet::builder()
///     .with_limits(Limits::default().with_deadline(Duration::from_millis(50)))
///     .with_action_kind(
///         HostActionKind::new("quarantine_instance")?
///             .with_params(["instance_id"])
///             .with_target_param("instance_id"),
///     );
/// let set = builder.from_sources([(
///     "isolate",
///     r#"const DESCRIPTION = "isolate"; const APPLIES_TO = "*";
///        fn decide(f) { quarantine_instance(f.instance_id, "isolated") }"#,
/// )])?;
/// assert_eq!(set.policies()[0].name(), "isolate");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct PolicySetBuilder {
    roots: Vec<RootSpec>,
    limits: Limits,
    kinds: Vec<HostActionKind>,
    call_mode: CallMode,
    reach_allowed: std::collections::BTreeSet<String>,
    documents: Option<Vec<String>>,
    runbooks: crate::config::RunbooksConfig,
}

impl PolicySetBuilder {
    /// A builder with the default [`Limits`] and no host action kinds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the sandbox limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Registers a host action kind (a later kind with the same name replaces an earlier one).
    pub fn with_action_kind(mut self, kind: HostActionKind) -> Self {
        self.kinds.retain(|k| k.kind() != kind.kind());
        self.kinds.push(kind);
        self
    }

    /// Allows the named policies to act beyond what their finding names, when they also declare
    /// `const REACH = "account"` (configuration `[reach] account = [...]`).
    pub fn with_reach_allowed<I, S>(mut self, policies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.reach_allowed = policies.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the SSM documents `run_command` may run (default [`DEFAULT_DOCUMENTS`]).
    pub fn with_documents<I, S>(mut self, documents: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.documents = Some(documents.into_iter().map(Into::into).collect());
        self
    }

    /// Sets what `start_automation` and `start_execution` may start (default: nothing).
    pub fn with_runbooks(mut self, runbooks: crate::config::RunbooksConfig) -> Self {
        self.runbooks = runbooks;
        self
    }

    /// Applies what a configuration says about policies: `[policy] deadline_ms`, `[reach]
    /// account`, `[run_command] documents`, `[runbooks]` and the `[host_kinds]` (their names, parameters, targets and whether they are
    /// destructive). The CLI, the worker and the Lambda function all build their sets this way.
    pub fn with_config(
        mut self,
        config: &crate::config::Config,
    ) -> Result<Self, crate::config::ConfigError> {
        self = self.with_reach_allowed(config.reach.account.clone());
        if let Some(ms) = config.policy.deadline_ms {
            let limits = self
                .limits()
                .clone()
                .with_deadline(std::time::Duration::from_millis(ms));
            self = self.with_limits(limits);
        }
        if let Some(documents) = &config.run_command.documents {
            self = self.with_documents(documents.clone());
        }
        self = self.with_runbooks(config.runbooks.clone());
        for (name, kind) in &config.host_kinds {
            let mut host = HostActionKind::new(name.as_str())
                .map_err(|e| crate::config::ConfigError::Invalid {
                    field: format!("host_kinds.{name}"),
                    message: e.to_string(),
                })?
                .with_params(kind.params.clone())
                .destructive(kind.destructive);
            if let Some(target) = &kind.target {
                host = host.with_target_param(target.clone());
            }
            self = self.with_action_kind(host);
        }
        Ok(self)
    }

    /// Every action kind policies built with this builder can choose: the built-ins and the
    /// registered host kinds.
    pub fn kinds(&self) -> Vec<crate::plan::ActionKind> {
        crate::plan::ActionKind::builtin()
            .chain(self.kinds.iter().map(|k| k.kind().clone()))
            .collect()
    }

    /// The SSM documents `run_command` may run.
    pub fn documents(&self) -> Vec<String> {
        self.documents
            .clone()
            .unwrap_or_else(|| DEFAULT_DOCUMENTS.iter().map(|d| (*d).to_owned()).collect())
    }

    /// Sets how `decide` is called (default [`CallMode::InPlace`]).
    pub fn with_call_mode(mut self, mode: CallMode) -> Self {
        self.call_mode = mode;
        self
    }

    /// The limits policy sets will run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Adds a policy directory: `*.rhai` files at its top level are policies; files whose name
    /// starts with `_` and files in subdirectories are helper modules its policies may `import`.
    /// Several directories make one set (the bundled policies and your own): each file keeps its
    /// directory in diagnostics, helpers are imported only within their directory, and a policy
    /// name used twice is an error.
    pub fn add_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.roots.push(RootSpec::Dir(dir.into()));
        self
    }

    /// Adds `(file name, source)` pairs, as if they were files of a directory of their own
    /// (`disable-key.rhai` or `disable-key`; names starting with `_` or containing `/` are helper
    /// modules).
    pub fn add_sources<I, N, S>(mut self, sources: I) -> Self
    where
        I: IntoIterator<Item = (N, S)>,
        N: Into<String>,
        S: Into<String>,
    {
        let files = sources
            .into_iter()
            .map(|(name, source)| {
                let name: String = name.into();
                let name = if name.ends_with(".rhai") {
                    name
                } else {
                    format!("{name}.rhai")
                };
                let source: String = source.into();
                let source = source
                    .strip_prefix('\u{feff}')
                    .unwrap_or(&source)
                    .to_owned();
                (name, Arc::<str>::from(source))
            })
            .collect();
        self.roots.push(RootSpec::Sources(files));
        self
    }

    /// Builds the set of every directory and source added.
    pub fn build(&self) -> Result<PolicySet, PolicyError> {
        let mut roots = Vec::new();
        let mut problems = Vec::new();
        let many = self.roots.len() > 1;
        for spec in &self.roots {
            match spec {
                RootSpec::Dir(dir) => {
                    let label = if many {
                        dir.display().to_string()
                    } else {
                        String::new()
                    };
                    let mut files = Vec::new();
                    collect_files(dir, dir, 0, &mut files, &mut problems);
                    files.sort_by(|a, b| a.0.cmp(&b.0));
                    roots.push(Root { label, files });
                }
                RootSpec::Sources(files) => {
                    let label = if many {
                        format!("sources{}", roots.len() + 1)
                    } else {
                        String::new()
                    };
                    roots.push(Root {
                        label,
                        files: files.clone(),
                    });
                }
            }
        }
        let origin = self
            .roots
            .iter()
            .map(|r| match r {
                RootSpec::Dir(d) => d.display().to_string(),
                RootSpec::Sources(_) => "sources".to_owned(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        if !problems.is_empty() {
            return Err(PolicyError::new(origin, problems));
        }
        self.compile(origin, roots)
    }

    /// Loads one directory (see [`PolicySetBuilder::add_dir`]).
    pub fn from_dir(&self, dir: impl AsRef<Path>) -> Result<PolicySet, PolicyError> {
        let mut one = self.clone();
        one.roots = vec![RootSpec::Dir(dir.as_ref().to_path_buf())];
        one.build()
    }

    /// Loads `(file name, source)` pairs (see [`PolicySetBuilder::add_sources`]).
    pub fn from_sources<I, N, S>(&self, sources: I) -> Result<PolicySet, PolicyError>
    where
        I: IntoIterator<Item = (N, S)>,
        N: Into<String>,
        S: Into<String>,
    {
        let mut one = self.clone();
        one.roots = Vec::new();
        one.add_sources(sources).build()
    }

    /// Opens a [`PolicyStore`] on `dir` (added to the directories and sources already added) with
    /// this configuration.
    pub fn open_store(self, dir: impl Into<PathBuf>) -> Result<PolicyStore, PolicyError> {
        PolicyStore::open_with(self, dir.into())
    }

    fn compile(&self, origin: String, roots: Vec<Root>) -> Result<PolicySet, PolicyError> {
        let mut helper_sources = HashMap::new();
        let mut policy_files = Vec::new();
        let labels: Vec<String> = roots.iter().map(|r| r.label.clone()).collect();
        for root in roots {
            for (relative, source) in root.files {
                let file = if root.label.is_empty() {
                    relative.clone()
                } else {
                    format!("{}/{relative}", root.label)
                };
                let is_helper = relative.contains('/') || relative.starts_with('_');
                if is_helper {
                    if let Some(key) = HelperModules::key(&relative) {
                        helper_sources.insert((root.label.clone(), key), (file, source));
                    }
                } else {
                    policy_files.push((file, source));
                }
            }
        }
        let helpers = Arc::new(HelperModules::new(helper_sources, labels));
        let paths = Arc::new(PathCache::default());
        let mut engine = sandbox::engine(&self.limits, Arc::clone(&helpers));
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        for kind in &self.kinds {
            if let Some(problem) = kind.problem() {
                problems.push(PolicyDiagnostic::new(
                    DiagnosticKind::HostKind,
                    &origin,
                    problem,
                ));
            }
        }
        let documents = self.documents();
        actions::register(&mut engine, &self.kinds, &documents, &self.runbooks);
        helpers::register(&mut engine);
        script_finding::register(&mut engine, Arc::clone(&paths), self.limits.max_array_size);
        let functions = function_names(&engine);
        let constructors = actions::constructors(&self.kinds);

        let mut helper_hash = Sha256::new();
        for (key, _, source) in helpers.sources() {
            helper_hash.update(key.as_bytes());
            helper_hash.update([0]);
            helper_hash.update(source.as_bytes());
            helper_hash.update([0]);
        }
        let helper_hash = helper_hash.finalize();

        let mut policies: Vec<Policy> = Vec::new();
        let mut names: HashMap<String, String> = HashMap::new();
        for (file, source) in policy_files {
            let compiled = with_deadline(Instant::now().checked_add(self.limits.deadline), || {
                sandbox::compiling(&file, || {
                    engine.compile_into_self_contained(&Scope::new(), &*source)
                })
            });
            let mut ast = match compiled {
                Ok(ast) => ast,
                Err(err) => {
                    problems.push(compile_problem(
                        &file,
                        &source,
                        *err,
                        &helpers,
                        &self.limits,
                    ));
                    continue;
                }
            };
            ast.set_source(file.as_str());
            let before = problems.len();
            let meta = metadata::read(&file, &source, &ast, &mut problems);
            let reach = meta
                .as_ref()
                .is_some_and(|m| m.reach_account && self.reach_allowed.contains(m.name.as_str()));
            let context = lint::Context {
                functions: &functions,
                constructors: &constructors,
                documents: &documents,
                runbooks: &self.runbooks,
                reach,
                max_modules: self.limits.max_modules,
                sources: metadata::sources_of(meta.as_ref()),
            };
            lint::check(&file, &source, &ast, &context, &mut problems, &mut warnings);
            if let Some(meta) = &meta {
                lint::globs::check(
                    &file,
                    &source,
                    &meta.applies_to,
                    context.guardduty_only(),
                    &mut problems,
                    &mut warnings,
                );
                if meta.reach_account && !reach {
                    let (line, column) =
                        metadata::const_position(&source, "REACH").unwrap_or((1, 1));
                    warnings.push(
                        PolicyDiagnostic::new(
                            DiagnosticKind::Reach,
                            &file,
                            format!(
                                "`{}` declares `REACH = \"account\"`, but the configuration does \
                                 not allow it: its actions beyond the finding are refused",
                                meta.name
                            ),
                        )
                        .at(&source, line, column)
                        .with_help(format!(
                            "allow it in the configuration: `[reach] account = [\"{}\"]`",
                            meta.name
                        )),
                    );
                }
            }
            for (path, line, column) in metadata::literal_paths(&source) {
                if let Err(e) = paths.warm(&path) {
                    problems.push(
                        PolicyDiagnostic::new(
                            DiagnosticKind::Syntax,
                            &file,
                            format!("`{path}` is not a JSONPath expression: {e}"),
                        )
                        .at(&source, line, column),
                    );
                }
            }
            let Some(meta) = meta.filter(|_| problems.len() == before) else {
                continue;
            };
            if let Some(first) = names.get(&meta.name) {
                let (line, column) = metadata::const_position(&source, "NAME").unwrap_or((1, 1));
                problems.push(
                    PolicyDiagnostic::new(
                        DiagnosticKind::DuplicateName,
                        &file,
                        format!("policy name `{}` is already used by `{first}`", meta.name),
                    )
                    .at(&source, line, column)
                    .with_help("give one of them a different `const NAME` (or rename the file)"),
                );
                continue;
            }
            names.insert(meta.name.clone(), file.clone());
            let mut hash = Sha256::new();
            hash.update(source.as_bytes());
            hash.update(helper_hash);
            let ast = Arc::new(metadata::runtime_ast(&ast, &source));
            let runner = Arc::new(Runner::new(&ast, &file, self.call_mode));
            policies.push(Policy {
                name: meta.name.into(),
                file,
                description: meta.description,
                applies_to: meta.applies_to,
                min_severity: meta.min_severity,
                fallback: meta.fallback,
                reach_account: meta.reach_account,
                sources: meta.sources,
                version: hex(&hash.finalize()).into(),
                source,
                ast,
                runner,
            });
        }
        if !problems.is_empty() {
            return Err(PolicyError::new(origin, problems));
        }

        let mut index = TypeIndex::default();
        for (i, policy) in policies.iter().enumerate() {
            for glob in &policy.applies_to {
                index.insert(i, glob);
            }
        }
        let mut set_hash = Sha256::new();
        for policy in &policies {
            set_hash.update(policy.name.as_bytes());
            set_hash.update([0]);
            set_hash.update(policy.version.as_bytes());
            set_hash.update([0]);
        }
        set_hash.update(helper_hash);
        let used = used_kinds(&policies, &helpers, &engine, &constructors);
        Ok(PolicySet {
            engine: Arc::new(engine),
            policies,
            reach_allowed: self.reach_allowed.clone(),
            warnings,
            kinds: used,
            index,
            version: hex(&set_hash.finalize()).into(),
            origin,
            limits: self.limits.clone(),
        })
    }
}

/// A directory or sources added to a builder.
#[derive(Debug, Clone)]
enum RootSpec {
    Dir(PathBuf),
    Sources(Vec<(String, Arc<str>)>),
}

/// The files of one directory (or sources): its label (the prefix of its files' names in a set of
/// several) and each file's path relative to it with its text.
struct Root {
    label: String,
    files: Vec<(String, Arc<str>)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_are_every_signature_of_the_engine() {
        let mut engine = sandbox::engine(&Limits::default(), Arc::default());
        actions::register(&mut engine, &[], &[], &Default::default());
        helpers::register(&mut engine);
        script_finding::register(&mut engine, Arc::default(), 16);
        let mut every: Vec<String> = engine
            .gen_fn_signatures(true)
            .iter()
            .filter_map(|s| s.split('(').next())
            .map(|s| s.trim_start_matches("fn ").trim().to_owned())
            .collect();
        every.sort_unstable();
        every.dedup();
        assert_eq!(function_names(&engine), every);
        assert!(every.iter().any(|n| n == "notify"));
        assert!(every.iter().any(|n| n == "contains"));
    }
}

#[cfg(test)]
mod config_tests {
    use crate::config::Config;

    #[test]
    fn the_deadline_is_bounded_and_reaches_the_policy_builder() {
        let config = Config::from_toml_str("[policy]\ndeadline_ms = 250\n").unwrap();
        let builder = crate::policy::PolicySet::builder()
            .with_config(&config)
            .unwrap();
        assert_eq!(
            builder.limits().deadline,
            std::time::Duration::from_millis(250)
        );
        let default = crate::policy::PolicySet::builder()
            .with_config(&Config::default())
            .unwrap();
        assert_eq!(
            default.limits().deadline,
            std::time::Duration::from_millis(100)
        );
        for bad in ["deadline_ms = 0", "deadline_ms = 60000", "deadline = 5"] {
            let text = format!("[policy]\n{bad}\n");
            assert!(Config::from_toml_str(&text).is_err(), "{bad}");
        }
    }
}
