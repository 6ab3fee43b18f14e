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
use super::index::TypeIndex;
use super::limits::Limits;
use super::runner::{CallMode, Runner};
use super::sandbox::{self, HelperModules, with_deadline};
use super::script_finding::{self, PathCache};
use super::store::PolicyStore;
use super::{Policy, PolicySet, helpers, lint, metadata};

/// Configures how policy sets are built: sandbox limits and host action kinds.
///
/// ```
/// use remedy::PolicySet;
/// use remedy::policy::{HostActionKind, Limits};
/// use std::time::Duration;
///
/// let builder = PolicySet::builder()
///     .with_limits(Limits::default().with_deadline(Duration::from_millis(50)))
///     .with_action_kind(HostActionKind::new("isolate_instance")?.with_params(["instance_id"]));
/// let set = builder.from_sources([(
///     "isolate",
///     r#"const DESCRIPTION = "isolate"; const APPLIES_TO = "*";
///        fn decide(f) { isolate_instance(f.instance_id, "isolated") }"#,
/// )])?;
/// assert_eq!(set.policies()[0].name(), "isolate");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct PolicySetBuilder {
    limits: Limits,
    kinds: Vec<HostActionKind>,
    call_mode: CallMode,
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

    /// Sets how `decide` is called (default [`CallMode::InPlace`]).
    pub fn with_call_mode(mut self, mode: CallMode) -> Self {
        self.call_mode = mode;
        self
    }

    /// The limits policy sets will run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Loads every policy of a directory: `*.rhai` files at its top level are policies; files whose
    /// name starts with `_` and files in subdirectories are helper modules scripts may `import`.
    pub fn from_dir(&self, dir: impl AsRef<Path>) -> Result<PolicySet, PolicyError> {
        let dir = dir.as_ref();
        let origin = dir.display().to_string();
        let mut files = Vec::new();
        let mut problems = Vec::new();
        collect_files(dir, dir, 0, &mut files, &mut problems);
        if !problems.is_empty() {
            return Err(PolicyError::new(origin, problems));
        }
        files.sort_by(|a, b| a.0.cmp(&b.0));
        self.build(origin, files)
    }

    /// Loads policies from `(file name, source)` pairs, as if they were files of a directory
    /// (`disable-key.rhai` or `disable-key`; names starting with `_` or containing `/` are helper
    /// modules).
    pub fn from_sources<I, N, S>(&self, sources: I) -> Result<PolicySet, PolicyError>
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
                (name, Arc::<str>::from(source.into()))
            })
            .collect();
        self.build("sources".to_owned(), files)
    }

    /// Opens a [`PolicyStore`] on `dir` with this configuration.
    pub fn open_store(self, dir: impl Into<PathBuf>) -> Result<PolicyStore, PolicyError> {
        PolicyStore::open_with(self, dir.into())
    }

    fn build(
        &self,
        origin: String,
        files: Vec<(String, Arc<str>)>,
    ) -> Result<PolicySet, PolicyError> {
        let mut helper_sources = HashMap::new();
        let mut policy_files = Vec::new();
        for (file, source) in files {
            let is_helper = file.contains('/') || file.starts_with('_');
            if is_helper {
                if let Some(key) = HelperModules::key(&file) {
                    helper_sources.insert(key, (file, source));
                }
            } else {
                policy_files.push((file, source));
            }
        }
        let helpers = Arc::new(HelperModules::new(helper_sources));
        let paths = Arc::new(PathCache::default());
        let mut engine = sandbox::engine(&self.limits, Arc::clone(&helpers));
        actions::register(&mut engine, &self.kinds);
        helpers::register(&mut engine);
        script_finding::register(&mut engine, Arc::clone(&paths));

        let mut helper_hash = Sha256::new();
        for (key, _, source) in helpers.sources() {
            helper_hash.update(key.as_bytes());
            helper_hash.update([0]);
            helper_hash.update(source.as_bytes());
            helper_hash.update([0]);
        }
        let helper_hash = helper_hash.finalize();

        let mut problems = Vec::new();
        let mut policies: Vec<Policy> = Vec::new();
        let mut names: HashMap<String, String> = HashMap::new();
        for (file, source) in policy_files {
            let compiled = with_deadline(Instant::now() + self.limits.deadline, || {
                engine.compile_into_self_contained(&Scope::new(), &*source)
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
            lint::unknown_properties(&file, &source, &ast, &mut problems);
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
        Ok(PolicySet {
            engine: Arc::new(engine),
            policies,
            index,
            version: hex(&set_hash.finalize()).into(),
            origin,
            limits: self.limits.clone(),
        })
    }
}

/// The first 16 hex digits of a hash: enough to tell versions apart in plans and logs.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// How deep `from_dir` looks into subdirectories for helper modules.
const MAX_DIR_DEPTH: usize = 8;

fn collect_files(
    root: &Path,
    dir: &Path,
    depth: usize,
    files: &mut Vec<(String, Arc<str>)>,
    problems: &mut Vec<PolicyDiagnostic>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(PolicyDiagnostic::new(
                DiagnosticKind::Io,
                dir.display().to_string(),
                format!("cannot read the policy directory: {e}"),
            ));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if depth < MAX_DIR_DEPTH {
                collect_files(root, &path, depth + 1, files, problems);
            }
            continue;
        }
        if !name.ends_with(".rhai") {
            continue;
        }
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        match std::fs::read_to_string(&path) {
            Ok(source) => files.push((relative, Arc::from(source))),
            Err(e) => problems.push(PolicyDiagnostic::new(
                DiagnosticKind::Io,
                relative,
                format!("cannot read the file: {e}"),
            )),
        }
    }
}
