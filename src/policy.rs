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

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rhai::{AST, Dynamic, EvalAltResult};

use crate::finding::{Finding, FindingSource};
use crate::plan::{FailureKind, FindingContext, PLAN_SCHEMA, Plan, PolicyFailure, Source};

mod actions;
mod builder;
mod catalogue;
mod conflicts;
mod diagnose;
mod error;
mod explain;
mod files;
mod helpers;
mod index;
mod limits;
mod lint;
mod metadata;
mod runner;
mod sandbox;
mod script_context;
mod script_finding;
mod script_sources;
mod store;

pub use actions::{ActionCheck, HostActionKind};
pub use builder::{DEFAULT_DOCUMENTS, PolicySetBuilder};
pub use conflicts::{Conflict, ConflictKind, Contrast};
pub use error::{DiagnosticKind, PolicyDiagnostic, PolicyError};
pub use explain::{Explanation, Why};
pub use limits::Limits;
pub use runner::CallMode;
pub use store::PolicyStore;

use actions::ScriptAction;
use diagnose::describe;
use index::TypeIndex;
use runner::Runner;
use sandbox::with_deadline;

/// The name of the entry point every policy defines.
const ENTRY_POINT: &str = "decide";

/// One compiled, validated policy.
#[derive(Clone)]
pub struct Policy {
    pub(crate) name: Arc<str>,
    file: String,
    description: String,
    applies_to: Vec<String>,
    min_severity: Option<f64>,
    fallback: bool,
    /// `const REACH = "account"`: the policy asks to act beyond what its finding names.
    reach_account: bool,
    /// `const SOURCES`: the sources whose findings the policy sees (GuardDuty's by default).
    sources: Vec<FindingSource>,
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

    /// The sources whose findings the policy sees (`const SOURCES`; `[guardduty]` when not
    /// declared: a policy written for GuardDuty never sees another product's finding whose type
    /// happens to match its globs).
    pub fn sources(&self) -> &[FindingSource] {
        &self.sources
    }

    /// Whether the policy sees findings of `finding`'s source and severity (its type aside).
    fn admits(&self, finding: &Finding) -> bool {
        self.sources.contains(&finding.source())
            && self
                .min_severity
                .is_none_or(|min| finding.severity().value() >= min)
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

/// A compiled, validated set of policies: evaluate findings against it.
///
/// `PolicySet` is `Send + Sync`; share it behind an `Arc` (or a [`PolicyStore`]) and evaluate from
/// any number of threads.
pub struct PolicySet {
    engine: Arc<rhai::Engine>,
    policies: Vec<Policy>,
    /// Policies the configuration allows to reach beyond their finding.
    reach_allowed: std::collections::BTreeSet<String>,
    /// Problems that do not stop the set from loading.
    warnings: Vec<PolicyDiagnostic>,
    /// The action kinds the policies can choose.
    kinds: std::collections::BTreeSet<crate::plan::ActionKind>,
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

    /// The properties of `finding.context`: `(path, script type, meaning)`, e.g.
    /// `("principal.is_admin", "bool", …)`, in the order the author's guide lists them.
    pub fn context_properties() -> &'static [(&'static str, &'static str, &'static str)] {
        script_context::CONTEXT_PROPERTIES
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

    /// The action kinds the set's policies can choose (the constructors they call, in the
    /// policies and their helper modules): what the executor must route.
    pub fn action_kinds(&self) -> impl Iterator<Item = &crate::plan::ActionKind> {
        self.kinds.iter()
    }

    /// The channels the policies' `notify` calls name as a literal string (a channel computed
    /// when the policy runs is not known here): what a pipeline checks its notifiers against.
    pub fn notify_channels(&self) -> std::collections::BTreeSet<String> {
        use rhai::{ASTNode, Expr, Stmt};
        let mut channels = std::collections::BTreeSet::new();
        for policy in &self.policies {
            policy.ast.walk(&mut |path: &[ASTNode]| {
                if let Some(
                    ASTNode::Expr(Expr::FnCall(call, _)) | ASTNode::Stmt(Stmt::FnCall(call, _)),
                ) = path.last()
                    && call.namespace.is_empty()
                    && call.name == "notify"
                    && let Some(Expr::StringConstant(channel, _)) = call.args.first()
                {
                    channels.insert(channel.to_string());
                }
                true
            });
        }
        channels
    }

    /// Whether the policy declares `const REACH = "account"`.
    pub fn declares_reach(&self, name: &str) -> bool {
        self.get(name).is_some_and(|p| p.reach_account)
    }

    /// Problems that did not stop the set from loading (an `APPLIES_TO` glob that matches no known
    /// finding type, a JSONPath naming no field of a finding, ...). `remedy check` prints them.
    pub fn warnings(&self) -> &[PolicyDiagnostic] {
        &self.warnings
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
        self.index
            .candidates(finding.finding_type().as_str())
            .into_iter()
            .filter_map(|i| self.policies.get(i))
            .filter(move |p| p.admits(finding))
    }

    /// Decides what to do about `finding`: runs every applicable policy in isolation and merges
    /// their actions into a plan. Pure and synchronous; a policy that fails is recorded in
    /// [`Plan::errors`] and every other policy's decisions stand.
    ///
    /// Fallback policies (`const FALLBACK = true`) run in a second pass, only when no other policy
    /// chose an action.
    pub fn evaluate(&self, finding: &Finding) -> Plan {
        let mut plan = Plan {
            schema: PLAN_SCHEMA,
            finding: FindingContext::from(finding),
            policy_set_version: Arc::clone(&self.version),
            evaluated: Vec::new(),
            actions: Vec::new(),
            errors: Vec::new(),
        };
        let candidates = self.index.candidates(finding.finding_type().as_str());
        let applicable = || {
            candidates
                .iter()
                .filter_map(|&i| self.policies.get(i))
                .filter(move |p| p.admits(finding))
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

    /// Runs one policy and adds its actions (or its failure) to `plan`. A destructive action
    /// outside what the finding names is refused as a failure of the policy (`out_of_scope`),
    /// unless the policy may reach beyond the finding; the policy's other actions stand.
    fn decide_into(&self, plan: &mut Plan, policy: &Policy, finding: &Finding) {
        plan.evaluated.push(Arc::clone(&policy.name));
        match self.run(policy, finding) {
            Ok(actions) => {
                let reach = self.may_reach_beyond(policy);
                for a in actions {
                    if !reach && let Some(what) = a.action.out_of_scope(&plan.finding) {
                        plan.errors.push(PolicyFailure {
                            policy: policy.name.to_string(),
                            file: Some(policy.file.clone()),
                            kind: FailureKind::OutOfScope,
                            message: format!(
                                "`{}` would touch {what}: a policy acts only on what its finding \
                                 names",
                                a.action.kind()
                            ),
                            line: a.line,
                            column: a.column,
                        });
                        continue;
                    }
                    let source = Source {
                        policy: Arc::clone(&policy.name),
                        version: Arc::clone(&policy.version),
                        reason: a.reason,
                        line: a.line,
                    };
                    plan.push_planned(a.action, source, a.repeat, a.ask_first);
                }
            }
            Err(failure) => plan.errors.push(failure),
        }
    }

    /// Whether `policy` may act beyond what its finding names: it declares
    /// `const REACH = "account"` and the configuration allows it by name. Both, or neither counts.
    pub fn may_reach_beyond(&self, policy: &Policy) -> bool {
        policy.reach_account && self.reach_allowed.contains(&*policy.name)
    }

    /// Runs one policy's `decide` on `finding` under the deadline.
    fn run(&self, policy: &Policy, finding: &Finding) -> Result<Vec<ScriptAction>, PolicyFailure> {
        let deadline = Instant::now().checked_add(self.limits.deadline);
        let call = AssertUnwindSafe(|| policy.runner.call(&self.engine, &policy.ast, finding));
        let result = with_deadline(deadline, || catch_unwind(call));
        match result {
            Ok(Ok(value)) => self.collect(policy, value),
            Ok(Err(err)) => Err(self.failure(policy, *err)),
            Err(_) => Err(PolicyFailure {
                policy: policy.name.to_string(),
                file: Some(policy.file.clone()),
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
                    return Err(self.garbage(
                        policy,
                        format!("an array containing a `{name}`"),
                        "array",
                    ));
                }
                actions.extend(item.try_cast::<ScriptAction>());
            }
            return Ok(actions);
        }
        let name = self.engine.map_type_name(value.type_name()).to_owned();
        Err(self.garbage(policy, format!("a `{name}`"), value.type_name()))
    }

    /// `decide` returned `what` (of the type rhai names `type_name`): a failure at the `return`
    /// (or last expression) that gave it when the source tells which, else at `fn decide`.
    fn garbage(&self, policy: &Policy, what: String, type_name: &str) -> PolicyFailure {
        let (at, whence) = match metadata::return_position(&policy.ast, type_name) {
            metadata::ReturnAt::One(line, column) => (Some((line, column)), String::new()),
            metadata::ReturnAt::Several(lines) => {
                let lines: Vec<String> = lines.iter().map(usize::to_string).collect();
                (
                    metadata::fn_position(&policy.source, ENTRY_POINT),
                    format!(" (from one of the returns at lines {})", lines.join(", ")),
                )
            }
            metadata::ReturnAt::Unknown => (
                metadata::fn_position(&policy.source, ENTRY_POINT),
                " (the source does not tell which return gave it)".to_owned(),
            ),
        };
        PolicyFailure {
            policy: policy.name.to_string(),
            file: Some(policy.file.clone()),
            kind: FailureKind::InvalidResult,
            message: format!(
                "`decide` returned {what}{whence}; expected an action, an array of actions or `()`"
            ),
            line: at.map(|(l, _)| l),
            column: at.map(|(_, c)| c),
        }
    }

    fn failure(&self, policy: &Policy, err: EvalAltResult) -> PolicyFailure {
        let (kind, message, pos, module) = describe(err, &self.limits);
        let file = module.unwrap_or_else(|| policy.file.clone());
        PolicyFailure {
            policy: policy.name.to_string(),
            file: Some(file),
            kind,
            message,
            line: pos.line(),
            column: pos.position(),
        }
    }
}
