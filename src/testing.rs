//! Testing policies: fixtures, plan assertions, in-memory execution, and the decision-test runner
//! behind `remedy test`.
//!
//! Everything here is usable from `cargo test` in a crate that embeds remedy:
//!
//! - build a policy set from strings or a directory ([`crate::PolicySet::from_sources`],
//!   [`crate::PolicySet::from_dir`]);
//! - read fixture findings, patched with JSON pointers ([`finding_from_file`], [`finding_with`]);
//! - compare a plan with the actions you expect, with a readable diff on failure ([`check_plan`],
//!   [`check_no_destructive`], [`ExpectedAction`]);
//! - run a plan through in-memory executors and inspect what they recorded ([`InMemory`]);
//! - run a directory's decision tests exactly as `remedy test` does ([`run_dir`]);
//! - run a store trait's conformance suite against your own ledger, state store, approval store
//!   or audit sink ([`conformance`]).
//!
//! ```
//! use remedy::PolicySet;
//! use remedy::testing::{ExpectedAction, check_plan, finding_with};
//! use serde_json::json;
//!
//! let set = PolicySet::from_sources([(
//!     "key",
//!     r#"const DESCRIPTION = "disable keys used from threat lists";
//!        const APPLIES_TO = "UnauthorizedAccess:IAMUser/MaliciousIPCaller*";
//!        fn decide(f) {
//!            if f.sample { return notify("security", "sample"); }
//!            disable_access_key(f.user_name, f.access_key_id)
//!        }"#,
//! )])?;
//! let json = include_str!("../examples/findings/01-iam-malicious-ip-custom.json");
//! let finding = finding_with(json, [])?;
//! check_plan(
//!     &set.evaluate(&finding),
//!     Some("key"),
//!     &[ExpectedAction::disable_access_key(
//!         "GuardDuty-Example-Compromised-Simulated",
//!         "AKIAIOSFODNN7EXAMPLE",
//!     )],
//! )?;
//! let sample = finding_with(json, [("/detail/service/additionalInfo/sample", json!(true))])?;
//! check_plan(&set.evaluate(&sample), None, &[ExpectedAction::notify("security")])?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::action::{
    Executor, MemoryIam, MemoryNotifier, MemoryRunbooks, MemorySsm, MemoryWriteback, Router,
};
use crate::finding::{Finding, FindingError, FindingType, Severity};
use crate::plan::kinds::{BUILTIN_KINDS, Carrier};
use crate::plan::{Action, ActionKind, FindingContext, IamPrincipal, Plan, Source};
use crate::remediate::{Protection, Remediator, RemediatorBuilder, Report};
use crate::store::audit::MemoryAudit;

mod case;
pub mod conformance;
mod corpus;
mod expect;
mod runner;
mod why;

pub use case::{CaseFile, CaseRun, TestCase, outcome_word};
pub use corpus::test_findings;
pub use expect::{
    ActualAction, ExpectedAction, PlanMismatch, actions_in_scope, check_no_destructive, check_plan,
    compare, errors_in_scope,
};
pub use runner::{
    CaseFailure, CaseResult, TESTS_DIR, TestReport, run_dir, run_dir_async, run_dir_with,
    run_dirs_with,
};

/// A fixture that could not be read, patched or parsed, or a case file that is not valid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// A file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A document is not JSON.
    #[error("`{what}` is not JSON: {message}")]
    Json {
        /// The file or `finding_json`.
        what: String,
        /// The parser's message.
        message: String,
    },
    /// A JSON pointer patch could not be applied.
    #[error("cannot apply `{pointer}`: {message}")]
    Pointer {
        /// The pointer, e.g. `/detail/service/resourceRole`.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// The document is not a finding.
    #[error("not a finding: {0}")]
    Finding(#[from] FindingError),
    /// A case file is not valid.
    #[error("`{path}` is not a valid case file: {message}")]
    CaseFile {
        /// The file.
        path: String,
        /// What is wrong, with line and column when the TOML parser knows them.
        message: String,
    },
}

/// A finding context for hand-made plans: `id` and `finding_type`, severity 5, nothing else
/// (set the other fields as the test needs).
pub fn context(id: &str, finding_type: &str) -> Result<FindingContext, TestError> {
    let finding_type = FindingType::new(finding_type)?;
    Ok(FindingContext::new(
        id,
        finding_type,
        Severity::new(5.0).unwrap_or(Severity::MIN),
    ))
}

/// A plan for `finding` holding `actions`, each chosen by `policy` (version `test`, no reason).
pub fn plan_of(
    finding: FindingContext,
    actions: impl IntoIterator<Item = Action>,
    policy: &str,
) -> Plan {
    let mut plan = Plan::new(finding, "test");
    for action in actions {
        plan.push(
            action,
            Source {
                policy: policy.into(),
                version: "test".into(),
                reason: None,
                line: None,
            },
        );
    }
    plan
}

/// Reads a JSON document from `path`.
pub fn json_from_file(path: impl AsRef<Path>) -> Result<Value, TestError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| TestError::Read {
        path: path.display().to_string(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| TestError::Json {
        what: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Reads the finding in `path` (any shape remedy reads).
pub fn finding_from_file(path: impl AsRef<Path>) -> Result<Finding, TestError> {
    Ok(Finding::from_json_value(json_from_file(path)?)?)
}

/// Parses `json` after setting each `(pointer, value)` (see [`set_pointer`]): the way to make
/// variants of one fixture (a sample, the other resource role, temporary credentials, ...).
pub fn finding_with<'a>(
    json: &str,
    patches: impl IntoIterator<Item = (&'a str, Value)>,
) -> Result<Finding, TestError> {
    let mut doc: Value = serde_json::from_str(json).map_err(|e| TestError::Json {
        what: "finding".into(),
        message: e.to_string(),
    })?;
    for (pointer, value) in patches {
        set_pointer(&mut doc, pointer, value)?;
    }
    Ok(Finding::from_json_value(doc)?)
}

/// Sets the value at the JSON pointer `pointer` (RFC 6901). Every parent must exist (a new key
/// may be added to an existing object): a mistyped pointer is an error rather than a new branch
/// no policy reads. Array elements must exist. `""` replaces the whole document.
/// [`set_pointer_creating`] creates missing objects instead.
pub fn set_pointer(doc: &mut Value, pointer: &str, value: Value) -> Result<(), TestError> {
    set_at(doc, pointer, value, Patch::Add)
}

/// [`set_pointer`], creating the missing objects on the way (a decision case's `create = true`).
pub fn set_pointer_creating(doc: &mut Value, pointer: &str, value: Value) -> Result<(), TestError> {
    set_at(doc, pointer, value, Patch::Create)
}

/// Replaces the value at `pointer`, which must exist: a decision case's `set`. Setting a key the
/// finding lacks is an error naming the pointer (a typo would otherwise add a key no policy
/// reads); [`set_pointer`] (a case's `add`) adds one on purpose.
pub fn replace_pointer(doc: &mut Value, pointer: &str, value: Value) -> Result<(), TestError> {
    set_at(doc, pointer, value, Patch::Replace)
}

/// How a pointer patch treats what is missing.
#[derive(Clone, Copy, PartialEq)]
enum Patch {
    /// Everything must exist.
    Replace,
    /// The last key may be new.
    Add,
    /// Missing objects are made.
    Create,
}

fn set_at(doc: &mut Value, pointer: &str, value: Value, patch: Patch) -> Result<(), TestError> {
    let create = patch == Patch::Create;
    let err = |message: &str| TestError::Pointer {
        pointer: pointer.to_owned(),
        message: message.to_owned(),
    };
    if pointer.is_empty() {
        *doc = value;
        return Ok(());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(err("a JSON pointer starts with `/`"));
    };
    let tokens: Vec<String> = rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, parents)) = tokens.split_last() else {
        return Err(err("empty pointer"));
    };
    let mut at = doc;
    for token in parents {
        at = match at {
            Value::Object(map) => {
                if create {
                    map.entry(token.clone())
                        .or_insert_with(|| Value::Object(serde_json::Map::new()))
                } else {
                    map.get_mut(token).ok_or_else(|| {
                        err(&format!(
                            "the finding has no `{token}` here (a typo? `create = true` makes it)",
                        ))
                    })?
                }
            }
            Value::Array(items) => token
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get_mut(i))
                .ok_or_else(|| err(&format!("no array element `{token}`")))?,
            _ => {
                return Err(err(&format!(
                    "`{token}` is inside a value that is not a container"
                )));
            }
        };
    }
    match at {
        Value::Object(map) => {
            if patch == Patch::Replace && !map.contains_key(last) {
                return Err(err(&format!(
                    "the finding has no `{last}` here: `set` replaces values the finding has \
                     (a typo?); to add a key on purpose, write it under `add`"
                )));
            }
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let slot = last
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get_mut(i))
                .ok_or_else(|| err(&format!("no array element `{last}`")))?;
            *slot = value;
            Ok(())
        }
        _ => Err(err("the parent is not an object or an array")),
    }
}

/// Removes the value at `pointer`; removing something that is not there is not an error.
pub fn remove_pointer(doc: &mut Value, pointer: &str) -> Result<(), TestError> {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return Err(TestError::Pointer {
            pointer: pointer.to_owned(),
            message: "a JSON pointer starts with `/`".into(),
        });
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match doc.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Some(i) = last.parse::<usize>().ok().filter(|i| *i < items.len()) {
                items.remove(i);
            }
        }
        _ => {}
    }
    Ok(())
}

/// In-memory IAM, SSM, runbooks, write-back and notifier behind one [`Router`]: run plans
/// without AWS and look at what they did. Clones share the same stores.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use remedy::testing::{InMemory, finding_with};
///
/// let set = remedy::PolicySet::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"))?;
/// let json = include_str!("../examples/findings/01-iam-malicious-ip-custom.json");
/// let finding = finding_with(json, [])?;
/// let plan = set.evaluate(&finding);
///
/// let aws = InMemory::new().with_keys_of(&plan);
/// let report = aws.enforce(&plan).await;
/// // The key disabled, the finding resolved and archived, the team told.
/// assert_eq!(report.count(remedy::Status::Executed), 4);
/// assert_eq!(
///     aws.iam.is_active("GuardDuty-Example-Compromised-Simulated", "AKIAIOSFODNN7EXAMPLE"),
///     Some(false)
/// );
/// let id = "b4c7e2a19f3d8e6a5b2c1d0e9f8a7b6c";
/// assert_eq!(
///     aws.writeback.workflow(id).map(|(status, _)| status),
///     Some(remedy::plan::WorkflowStatus::Resolved)
/// );
/// assert!(aws.writeback.is_archived(id));
/// assert_eq!(aws.notifier.messages().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct InMemory {
    /// Carries out `disable_access_key`, `revoke_role_sessions`, `quarantine_principal`,
    /// `disable_console_login` and `undo`.
    pub iam: MemoryIam,
    /// Carries out `run_command`.
    pub ssm: MemorySsm,
    /// Carries out `start_automation`, `start_execution`, `isolate_instance` and the `undo` that
    /// releases an isolated instance.
    pub runbooks: MemoryRunbooks,
    /// Carries out `update_finding`, `archive_finding`, `suppress_similar` and their `undo`.
    pub writeback: MemoryWriteback,
    /// Carries out `notify` (every channel).
    pub notifier: MemoryNotifier,
    /// Every decision and action record of the runs.
    pub audit: MemoryAudit,
    protection: Protection,
}

impl InMemory {
    /// Empty stores, no protection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an active access key (and its user) to the in-memory IAM.
    pub fn with_key(self, user_name: &str, access_key_id: &str) -> Self {
        self.iam.add_key(user_name, access_key_id);
        self
    }

    /// Adds every access key `plan` wants to disable, so that enforcing it can succeed.
    pub fn with_keys_of(self, plan: &Plan) -> Self {
        for planned in &plan.actions {
            if let Action::DisableAccessKey(d) = &planned.action
                && self
                    .iam
                    .is_active(d.user_name.as_str(), d.access_key_id.as_str())
                    != Some(true)
            {
                self.iam
                    .add_key(d.user_name.as_str(), d.access_key_id.as_str());
            }
        }
        self
    }

    /// Adds everything `plan` acts on in IAM, so that enforcing it can succeed: the access keys it
    /// disables (as [`InMemory::with_keys_of`]), the roles whose sessions it revokes, the users and
    /// roles it quarantines, and a console password for each user whose console login it ends.
    pub fn with_targets_of(self, plan: &Plan) -> Self {
        let this = self.with_keys_of(plan);
        for planned in &plan.actions {
            match &planned.action {
                Action::RevokeRoleSessions(r) => {
                    this.iam.add_role(r.role_name.as_str());
                }
                Action::QuarantinePrincipal(q) => match &q.principal {
                    IamPrincipal::User(u) => {
                        this.iam.add_user(u.as_str());
                    }
                    IamPrincipal::Role(r) => {
                        this.iam.add_role(r.as_str());
                    }
                },
                Action::DisableConsoleLogin(d) => {
                    this.iam.add_login_profile(d.user_name.as_str());
                }
                _ => {}
            }
        }
        this
    }

    /// Sets the protection rules runs use.
    pub fn with_protection(mut self, protection: Protection) -> Self {
        self.protection = protection;
        self
    }

    /// A router sending each built-in kind to its in-memory executor.
    pub fn router(&self) -> Router {
        let notifier: Arc<dyn Executor> = Arc::new(self.notifier.clone());
        let iam: Arc<dyn Executor> = Arc::new(self.iam.clone());
        let ssm: Arc<dyn Executor> = Arc::new(self.ssm.clone());
        let runbooks: Arc<dyn Executor> = Arc::new(self.runbooks.clone());
        let writeback: Arc<dyn Executor> = Arc::new(self.writeback.clone());
        BUILTIN_KINDS.iter().fold(Router::new(), |router, spec| {
            let executor = match spec.carrier {
                Carrier::Channels => &notifier,
                Carrier::AccessKeys | Carrier::Containment => &iam,
                Carrier::RunCommand => &ssm,
                Carrier::Runbooks => &runbooks,
                Carrier::Writeback => &writeback,
            };
            router.with(spec.kind.clone(), Arc::clone(executor))
        })
    }

    /// A remediator builder over [`InMemory::router`], auditing to [`InMemory::audit`], with the
    /// protection set and every write-back kind on (as if `[writeback] kinds` listed them all:
    /// the twins test what a policy decides); dry run until you call `.enforce(true)`.
    pub fn remediator(&self) -> RemediatorBuilder {
        Remediator::builder(Arc::new(self.router()))
            .with_audit(Arc::new(self.audit.clone()))
            .with_protection(self.protection.clone())
            .with_writeback_kinds(ActionKind::writeback())
    }

    /// Carries out `plan` in enforce mode (guards, ledger, audit as in production).
    pub async fn enforce(&self, plan: &Plan) -> Report {
        self.remediator().enforce(true).build().run(plan).await
    }

    /// Runs `plan` in dry run: every guard applies, no executor is called.
    pub async fn dry_run(&self, plan: &Plan) -> Report {
        self.remediator().build().run(plan).await
    }
}

/// Where a case file's relative paths are resolved: the directory of `file`.
pub(crate) fn base_dir(file: &Path) -> PathBuf {
    file.parent().map(Path::to_path_buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_need_parents_unless_creating_and_escape() {
        let mut doc = json!({"a": {"b": [1, 2]}});
        assert!(set_pointer(&mut doc, "/a/c/d", json!(true)).is_err());
        set_pointer_creating(&mut doc, "/a/c/d", json!(true)).unwrap();
        set_pointer(&mut doc, "/a/b/1", json!(5)).unwrap();
        set_pointer(&mut doc, "/x~1y", json!("s")).unwrap();
        assert_eq!(
            doc,
            json!({"a": {"b": [1, 5], "c": {"d": true}}, "x/y": "s"})
        );
        assert!(set_pointer(&mut doc, "/a/b/7", json!(1)).is_err());
        replace_pointer(&mut doc, "/a/b/0", json!(4)).unwrap();
        let err = replace_pointer(&mut doc, "/a/new", json!(1)).unwrap_err();
        assert!(err.to_string().contains("`/a/new`"), "{err}");
        assert!(err.to_string().contains("`add`"), "{err}");
        assert!(doc.pointer("/a/new").is_none());
        set_pointer(&mut doc, "/a/b/0", json!(1)).unwrap();
        assert!(set_pointer(&mut doc, "a", json!(1)).is_err());
        remove_pointer(&mut doc, "/a/c").unwrap();
        remove_pointer(&mut doc, "/nothing/here").unwrap();
        assert_eq!(doc, json!({"a": {"b": [1, 5]}, "x/y": "s"}));
    }
}
