//! Policies: rhai scripts that decide what to do about a finding, compiled once, sandboxed, and
//! explained.
//!
//! A [`PolicySet`] is loaded from a directory of `.rhai` files (or from strings), compiled and
//! validated once; [`PolicySet::evaluate`] is a pure, synchronous function from a [`Finding`] to a
//! [`Plan`]. The contract for policy authors is documented in `policies/README.md`.
//!
//! ```
//! use remedy::PolicySet;
//!
//! let policies = PolicySet::from_sources([(
//!     "recon-notify",
//!     r#"
//!     const DESCRIPTION = "tell the security team about reconnaissance";
//!     const APPLIES_TO = "Recon:*";
//!     fn decide(finding) {
//!         notify("security", `recon from ${finding.remote_ip}`)
//!     }
//!     "#,
//! )])?;
//! assert_eq!(policies.len(), 1);
//! # Ok::<(), remedy::PolicyError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rhai::{AST, Dynamic, EvalAltResult, Scope};
use sha2::{Digest, Sha256};

use crate::finding::Finding;
use crate::plan::{FailureKind, Plan, PolicyFailure, Source};

mod actions;
mod error;
mod helpers;
mod index;
mod limits;
mod lint;
mod metadata;
mod runner;
mod sandbox;
mod script_finding;
mod store;

pub use actions::{ActionCheck, HostActionKind};
pub use error::{DiagnosticKind, PolicyDiagnostic, PolicyError};
pub use limits::Limits;
pub use store::PolicyStore;

use actions::ScriptAction;
use index::TypeIndex;
use runner::Runner;
use sandbox::{DeadlinePassed, HelperModules, ScriptError, with_deadline};
use script_finding::PathCache;

/// The name of the entry point every policy defines.
const ENTRY_POINT: &str = "decide";

/// One compiled, validated policy.
#[derive(Clone)]
pub struct Policy {
    name: Arc<str>,
    file: String,
    description: String,
    applies_to: Vec<String>,
    min_severity: Option<f64>,
    fallback: bool,
    version: Arc<str>,
    source: Arc<str>,
    /// What `decide` runs with (see [`metadata::runtime_ast`]).
    ast: Arc<AST>,
    runner: Arc<Runner>,
}

impl Policy {
    /// The policy's name (`const NAME`, or the file stem).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file the policy was loaded from (relative to the policy directory).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// What the policy is for (`const DESCRIPTION`).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The finding-type globs the policy applies to (`const APPLIES_TO`).
    pub fn applies_to(&self) -> &[String] {
        &self.applies_to
    }

    /// The minimum severity a finding needs for the policy to run (`const MIN_SEVERITY`).
    pub fn min_severity(&self) -> Option<f64> {
        self.min_severity
    }

    /// Whether the policy is a fallback (`const FALLBACK = true`): it runs only when no other
    /// policy chose an action for the finding.
    pub fn is_fallback(&self) -> bool {
        self.fallback
    }

    /// The policy's version: a content hash of its source and of the directory's helper modules.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The policy's source text.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .field("file", &self.file)
            .field("applies_to", &self.applies_to)
            .field("min_severity", &self.min_severity)
            .field("fallback", &self.fallback)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Configures how policy sets are built: sandbox limits and host action kinds.
///
/// ```
/// use remedy::{HostActionKind, Limits, PolicySet};
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
            let runner = Arc::new(Runner::new(&ast, &file));
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

/// Turns a compile error into a diagnostic, in the helper module's file when that is where it is.
fn compile_problem(
    file: &str,
    source: &Arc<str>,
    err: EvalAltResult,
    helpers: &HelperModules,
    limits: &Limits,
) -> PolicyDiagnostic {
    match err {
        EvalAltResult::ErrorParsing(kind, pos) => {
            let message = lowercase_first(&kind.to_string());
            let mut d = PolicyDiagnostic::new(DiagnosticKind::Syntax, file, message);
            let help = syntax_help(d.message());
            if let (Some(line), Some(column)) = (pos.line(), pos.position()) {
                d = d.at(source, line, column);
            } else {
                d = d.in_source(source);
            }
            match help {
                Some(help) => d.with_help(help),
                None => d,
            }
        }
        EvalAltResult::ErrorInModule(module_file, inner, _) => {
            if let Some((_, _, module_source)) = helpers
                .sources()
                .into_iter()
                .find(|(_, f, _)| *f == module_file)
            {
                let module_source: Arc<str> = Arc::from(module_source);
                let d = compile_problem(&module_file, &module_source, *inner, helpers, limits);
                let message = format!("{} (imported by `{file}`)", d.message());
                let mut out = PolicyDiagnostic::new(d.kind(), &module_file, message);
                if let (Some(line), Some(column)) = (d.line(), d.column()) {
                    out = out.at(&module_source, line, column);
                }
                out
            } else {
                import_problem(file, source, &module_file, &inner.to_string())
            }
        }
        EvalAltResult::ErrorModuleNotFound(path, _) => import_problem(
            file,
            source,
            &path,
            &format!("no helper module `{path}` in the policy directory"),
        ),
        EvalAltResult::ErrorRuntime(value, pos) if value.is::<ScriptError>() => {
            let message = value
                .read_lock::<ScriptError>()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            let path = message.split('`').nth(1).unwrap_or_default().to_owned();
            if pos.is_none() && !path.is_empty() {
                import_problem(file, source, &path, &message)
            } else {
                let d = PolicyDiagnostic::new(DiagnosticKind::Import, file, message);
                match (pos.line(), pos.position()) {
                    (Some(line), Some(column)) => d.at(source, line, column),
                    _ => d.in_source(source),
                }
            }
        }
        other => {
            let (_, message, pos) = describe(other, limits);
            let d = PolicyDiagnostic::new(DiagnosticKind::Syntax, file, message);
            match (pos.line(), pos.position()) {
                (Some(line), Some(column)) => d.at(source, line, column),
                _ => d.in_source(source),
            }
        }
    }
}

fn import_problem(file: &str, source: &Arc<str>, path: &str, message: &str) -> PolicyDiagnostic {
    let d = PolicyDiagnostic::new(DiagnosticKind::Import, file, lowercase_first(message)).with_help(
        "a policy can import only helper modules of its own directory: `_name.rhai` files or files in subdirectories",
    );
    match metadata::string_position(source, path) {
        Some((line, column)) => d.at(source, line, column),
        None => d.in_source(source),
    }
}

fn syntax_help(message: &str) -> Option<String> {
    if message.contains("eval") {
        Some("`eval` is disabled in policies".to_owned())
    } else if message.contains("complex") || message.contains("depth") {
        Some("expressions are limited in depth; split the expression or use variables".to_owned())
    } else if message.contains("variable not found") || message.contains("undefined") {
        Some(
            "variables must be declared with `let` or `const` before use (strict variables)"
                .to_owned(),
        )
    } else {
        None
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What went wrong in a script run, innermost error first: its kind, a message and its position.
fn describe(err: EvalAltResult, limits: &Limits) -> (FailureKind, String, rhai::Position) {
    let mut err = err;
    loop {
        match err {
            EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
            | EvalAltResult::ErrorInModule(_, inner, _) => err = *inner,
            other => {
                err = other;
                break;
            }
        }
    }
    let pos = err.position();
    let (kind, message) = match err {
        EvalAltResult::ErrorTerminated(token, _) if token.is::<DeadlinePassed>() => (
            FailureKind::Timeout,
            format!(
                "the policy ran past its deadline of {} ms",
                limits.deadline.as_millis()
            ),
        ),
        EvalAltResult::ErrorTooManyOperations(_) => (
            FailureKind::Limit,
            format!(
                "the policy ran more than {} operations",
                limits.max_operations
            ),
        ),
        EvalAltResult::ErrorStackOverflow(_) => (
            FailureKind::Limit,
            format!(
                "function calls nested deeper than {} levels",
                limits.max_call_levels
            ),
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => (
            FailureKind::Limit,
            format!("{} larger than the sandbox allows", lowercase_first(&what)),
        ),
        EvalAltResult::ErrorTooManyVariables(_) => (
            FailureKind::Limit,
            format!("more than {} variables", limits.max_variables),
        ),
        EvalAltResult::ErrorTooManyModules(_) => (
            FailureKind::Limit,
            format!("more than {} imported modules", limits.max_modules),
        ),
        EvalAltResult::ErrorModuleNotFound(path, _) => (
            FailureKind::Forbidden,
            format!("cannot import `{path}`: no such helper module in the policy directory"),
        ),
        EvalAltResult::ErrorRuntime(value, _) if value.is::<ScriptError>() => {
            match value.read_lock::<ScriptError>() {
                Some(e) => (e.kind, e.message.clone()),
                None => (FailureKind::Runtime, "runtime error".to_owned()),
            }
        }
        EvalAltResult::ErrorRuntime(value, _) => {
            (FailureKind::Runtime, format!("the policy threw `{value}`"))
        }
        other => (FailureKind::Runtime, rhai_message(other)),
    };
    (kind, message, pos)
}

/// A rhai error's message without its position, first letter in lower case.
fn rhai_message(mut err: EvalAltResult) -> String {
    err.clear_position();
    lowercase_first(&err.to_string())
}

/// A compiled, validated set of policies: evaluate findings against it.
///
/// `PolicySet` is `Send + Sync`; share it behind an `Arc` (or a [`PolicyStore`]) and evaluate from
/// any number of threads.
pub struct PolicySet {
    engine: Arc<rhai::Engine>,
    policies: Vec<Policy>,
    index: TypeIndex,
    version: Arc<str>,
    origin: String,
    limits: Limits,
}

impl fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicySet")
            .field("origin", &self.origin)
            .field("version", &self.version)
            .field(
                "policies",
                &self.policies.iter().map(Policy::name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl PolicySet {
    /// A builder to set limits and register host action kinds.
    pub fn builder() -> PolicySetBuilder {
        PolicySetBuilder::new()
    }

    /// Loads a directory with the default configuration; see [`PolicySetBuilder::from_dir`].
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, PolicyError> {
        PolicySetBuilder::new().from_dir(dir)
    }

    /// Loads `(file name, source)` pairs with the default configuration; see
    /// [`PolicySetBuilder::from_sources`].
    pub fn from_sources<I, N, S>(sources: I) -> Result<Self, PolicyError>
    where
        I: IntoIterator<Item = (N, S)>,
        N: Into<String>,
        S: Into<String>,
    {
        PolicySetBuilder::new().from_sources(sources)
    }

    /// The properties scripts can read on a finding: `(name, script type, meaning)`, in the order
    /// the author's guide lists them.
    pub fn finding_properties() -> &'static [(&'static str, &'static str, &'static str)] {
        script_finding::PROPERTIES
    }

    /// The policies, sorted by file name.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// The policy named `name`.
    pub fn get(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| &*p.name == name)
    }

    /// How many policies the set holds.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// Whether the set holds no policy.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The set's version: a content hash of every policy and helper module.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Where the set was loaded from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The limits the set's policies run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The policies that apply to `finding` (type and minimum severity), in evaluation order,
    /// found without running any script.
    pub fn applicable(&self, finding: &Finding) -> impl Iterator<Item = &Policy> {
        let severity = finding.severity().value();
        self.index
            .candidates(finding.finding_type().as_str())
            .into_iter()
            .filter_map(|i| self.policies.get(i))
            .filter(move |p| p.min_severity.is_none_or(|min| severity >= min))
    }

    /// Decides what to do about `finding`: runs every applicable policy in isolation and merges
    /// their actions into a plan. Pure and synchronous; a policy that fails is recorded in
    /// [`Plan::errors`] and every other policy's decisions stand.
    ///
    /// Fallback policies (`const FALLBACK = true`) run in a second pass, only when no other policy
    /// chose an action.
    pub fn evaluate(&self, finding: &Finding) -> Plan {
        let mut plan = Plan {
            finding_id: finding.id().to_owned(),
            finding_type: finding.finding_type().as_str().to_owned(),
            severity: finding.severity().value(),
            sample: finding.is_sample(),
            policy_set_version: Arc::clone(&self.version),
            evaluated: Vec::new(),
            actions: Vec::new(),
            errors: Vec::new(),
        };
        let severity = finding.severity().value();
        let candidates = self.index.candidates(finding.finding_type().as_str());
        let applicable = || {
            candidates
                .iter()
                .filter_map(|&i| self.policies.get(i))
                .filter(move |p| p.min_severity.is_none_or(|min| severity >= min))
        };
        for policy in applicable().filter(|p| !p.fallback) {
            self.decide_into(&mut plan, policy, finding);
        }
        if plan.actions.is_empty() {
            for policy in applicable().filter(|p| p.fallback) {
                self.decide_into(&mut plan, policy, finding);
            }
        }
        plan
    }

    /// Runs one policy and adds its actions (or its failure) to `plan`.
    fn decide_into(&self, plan: &mut Plan, policy: &Policy, finding: &Finding) {
        plan.evaluated.push(Arc::clone(&policy.name));
        match self.run(policy, finding) {
            Ok(actions) => {
                for a in actions {
                    plan.push(
                        a.action,
                        Source {
                            policy: Arc::clone(&policy.name),
                            version: Arc::clone(&policy.version),
                            reason: a.reason,
                            line: a.line,
                        },
                    );
                }
            }
            Err(failure) => plan.errors.push(failure),
        }
    }

    /// Runs one policy's `decide` on `finding` under the deadline.
    fn run(&self, policy: &Policy, finding: &Finding) -> Result<Vec<ScriptAction>, PolicyFailure> {
        let deadline = Instant::now() + self.limits.deadline;
        let call = AssertUnwindSafe(|| policy.runner.call(&self.engine, &policy.ast, finding));
        let result = with_deadline(deadline, || catch_unwind(call));
        match result {
            Ok(Ok(value)) => self.collect(policy, value),
            Ok(Err(err)) => Err(self.failure(policy, *err)),
            Err(_) => Err(PolicyFailure {
                policy: policy.name.to_string(),
                kind: FailureKind::HostPanic,
                message: "the policy engine panicked while running the policy".to_owned(),
                line: None,
                column: None,
            }),
        }
    }

    /// Accepts `()`, one action, or an array of actions and `()`s.
    fn collect(&self, policy: &Policy, value: Dynamic) -> Result<Vec<ScriptAction>, PolicyFailure> {
        if value.is_unit() {
            return Ok(Vec::new());
        }
        if value.is::<ScriptAction>() {
            return Ok(value.try_cast::<ScriptAction>().into_iter().collect());
        }
        if value.is_array() {
            let mut actions = Vec::new();
            for item in value.into_array().unwrap_or_default() {
                if item.is_unit() {
                    continue;
                }
                if !item.is::<ScriptAction>() {
                    let name = self.engine.map_type_name(item.type_name());
                    return Err(self.garbage(policy, format!("an array containing a `{name}`")));
                }
                actions.extend(item.try_cast::<ScriptAction>());
            }
            return Ok(actions);
        }
        let name = self.engine.map_type_name(value.type_name()).to_owned();
        Err(self.garbage(policy, format!("a `{name}`")))
    }

    fn garbage(&self, policy: &Policy, what: String) -> PolicyFailure {
        let at = metadata::fn_position(&policy.source, ENTRY_POINT);
        PolicyFailure {
            policy: policy.name.to_string(),
            kind: FailureKind::InvalidResult,
            message: format!(
                "`decide` returned {what}; expected an action, an array of actions or `()`"
            ),
            line: at.map(|(l, _)| l),
            column: at.map(|(_, c)| c),
        }
    }

    fn failure(&self, policy: &Policy, err: EvalAltResult) -> PolicyFailure {
        let (kind, message, pos) = describe(err, &self.limits);
        PolicyFailure {
            policy: policy.name.to_string(),
            kind,
            message,
            line: pos.line(),
            column: pos.position(),
        }
    }
}
