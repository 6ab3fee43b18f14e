//! Decision tests: case files next to the policies (`POLICY_DIR/tests/*.toml`) and the runner
//! behind `remedy test`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::expect::{ActualAction, ExpectedAction, PlanMismatch, compare, errors_in_scope};
use super::{
    InMemory, TestError, base_dir, json_from_file, remove_pointer, set_pointer,
    set_pointer_creating,
};
use crate::action::Outcome;
use crate::config::{ApprovalConfig, ProtectConfig};
use crate::enrich::Context;
use crate::finding::Finding;
use crate::finding::inert;
use crate::policy::{PolicySet, PolicySetBuilder};
use crate::remediate::Protection;

/// The subdirectory of a policy directory that holds its case files.
pub const TESTS_DIR: &str = "tests";

/// One case file: `POLICY_DIR/tests/NAME.toml`.
///
/// ```toml
/// policy = "disable-key-on-malicious-ip"   # optional: only actions this policy chose are compared
///
/// [[case]]
/// name = "disables the key named in the finding and notifies"
/// finding = "findings/iam-malicious-ip.json"    # relative to this file; or finding_json = '''{…}'''
/// expect = [
///   { kind = "disable_access_key", params = { user_name = "build-bot", access_key_id = "AKIAI44QH8DHBEXAMPLE" } },
///   { kind = "notify", params = { channel = "security" } },
/// ]
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// The policy the cases are about (a case may name another); absent: every action of the plan
    /// is compared.
    #[serde(default)]
    pub policy: Option<String>,
    /// The cases, `[[case]]` tables.
    #[serde(default, rename = "case")]
    pub cases: Vec<TestCase>,
}

impl CaseFile {
    /// Parses a case file; `path` names it in errors.
    pub fn from_toml_str(text: &str, path: &str) -> Result<Self, TestError> {
        let file: CaseFile = toml::from_str(text).map_err(|e| TestError::CaseFile {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        if file.cases.is_empty() {
            return Err(TestError::CaseFile {
                path: path.to_owned(),
                message: "no `[[case]]`".into(),
            });
        }
        Ok(file)
    }

    /// Reads a case file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, TestError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| TestError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }
}

/// One decision test: a finding (a file or inline, optionally patched) and the actions expected.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// What the case shows, in a few words.
    pub name: String,
    /// The policy this case is about (overrides the file's `policy`).
    #[serde(default)]
    pub policy: Option<String>,
    /// The finding file, relative to the case file.
    #[serde(default)]
    pub finding: Option<PathBuf>,
    /// The finding, inline (instead of `finding`).
    #[serde(default)]
    pub finding_json: Option<String>,
    /// JSON pointers set before the finding is parsed, e.g.
    /// `"/detail/service/additionalInfo/sample" = true`. Each pointer's parent must exist in the
    /// finding (a typo fails the case instead of adding a key no policy reads), unless `create`.
    #[serde(default)]
    pub set: BTreeMap<String, Value>,
    /// Lets `set` create the objects its pointers name when they are missing.
    #[serde(default)]
    pub create: bool,
    /// JSON pointers removed before the finding is parsed (after `set`).
    #[serde(default)]
    pub unset: Vec<String>,
    /// The enrichment context the policies see as `finding.context`, e.g.
    /// `context = { principal = { is_admin = true }, activity = { events = 12 } }`; absent: the
    /// finding is not enriched.
    #[serde(default)]
    pub context: Option<Context>,
    /// Protection rules (the `[protect]` keys of `remedy.toml`); used when the plan is run
    /// through the remediator to check `outcome`s.
    #[serde(default)]
    pub protect: Option<ProtectConfig>,
    /// Approval rules (the `[approval]` keys of `remedy.toml`): with them, outcomes are checked
    /// by enforcing the plan on in-memory executors, so an action that waits for a person shows
    /// `outcome = "pending_approval"`.
    #[serde(default)]
    pub approval: Option<ApprovalConfig>,
    /// The actions expected: exactly these (in any order), no more; `[]` for "no action".
    pub expect: Vec<ExpectedAction>,
}

impl TestCase {
    /// Reads the case's finding: the file (relative to `base`) or the inline JSON, patched.
    pub fn load_finding(&self, base: &Path) -> Result<Finding, TestError> {
        let mut doc = match (&self.finding, &self.finding_json) {
            (Some(file), None) => json_from_file(base.join(file))?,
            (None, Some(json)) => serde_json::from_str(json).map_err(|e| TestError::Json {
                what: "finding_json".into(),
                message: e.to_string(),
            })?,
            _ => {
                return Err(TestError::CaseFile {
                    path: self.name.clone(),
                    message: "give exactly one of `finding` and `finding_json`".into(),
                });
            }
        };
        for (pointer, value) in &self.set {
            if self.create {
                set_pointer_creating(&mut doc, pointer, value.clone())?;
            } else {
                set_pointer(&mut doc, pointer, value.clone())?;
            }
        }
        for pointer in &self.unset {
            remove_pointer(&mut doc, pointer)?;
        }
        let finding = Finding::from_json_value(doc)?;
        Ok(match &self.context {
            Some(context) => finding.with_context(context.clone()),
            None => finding,
        })
    }

    /// Evaluates the case against `set` and compares: `scope` is the policy whose actions are
    /// compared when the case names none. When an expected action has an `outcome`, the plan is
    /// run through the remediator (dry run, in-memory executors, the case's protection).
    pub async fn run(
        &self,
        set: &PolicySet,
        base: &Path,
        scope: Option<&str>,
    ) -> Result<CaseRun, String> {
        let scope = self.policy.as_deref().or(scope);
        if let Some(name) = scope
            && set.get(name).is_none()
        {
            return Err(format!("no policy named `{name}` in the directory"));
        }
        let finding = self.load_finding(base).map_err(|e| e.to_string())?;
        let plan = set.evaluate(&finding);
        let mut actual = super::actions_in_scope(&plan, scope);
        if self.expect.iter().any(|e| e.outcome.is_some()) {
            let protection = match &self.protect {
                Some(p) => Protection::new(p).map_err(|e| format!("invalid `protect`: {e}"))?,
                None => Protection::default(),
            };
            let memory = InMemory::new().with_protection(protection);
            let report = match &self.approval {
                Some(approval) => {
                    let memory = memory.with_targets_of(&plan);
                    memory
                        .remediator()
                        .with_approval(approval.clone())
                        .enforce(true)
                        .build()
                        .run(&plan)
                        .await
                }
                None => memory.dry_run(&plan).await,
            };
            actual = report
                .actions
                .iter()
                .filter(|r| !r.sources.is_empty())
                .filter(|r| scope.is_none_or(|p| r.sources.iter().any(|s| &*s.policy == p)))
                .map(|r| ActualAction {
                    kind: r.kind.to_string(),
                    params: r.params.clone(),
                    policies: r.sources.iter().map(|s| s.policy.to_string()).collect(),
                    outcome: Some(outcome_word(&r.outcome)),
                })
                .collect();
        } else if self.protect.is_some() || self.approval.is_some() {
            return Err(
                "`protect` and `approval` are only used to check outcomes: add `outcome = …` to \
                 an expected action"
                    .into(),
            );
        }
        let errors = errors_in_scope(&plan, scope);
        let result = compare(&self.expect, &actual, &errors);
        Ok(CaseRun {
            scope: scope.map(str::to_owned),
            evaluated: plan.evaluated.iter().map(|p| p.to_string()).collect(),
            actions: actual,
            result,
        })
    }
}

/// What running one case came to.
#[derive(Debug, Clone)]
pub struct CaseRun {
    /// The policy whose actions were compared (`None`: all).
    pub scope: Option<String>,
    /// The policies that ran.
    pub evaluated: Vec<String>,
    /// The actions compared.
    pub actions: Vec<ActualAction>,
    /// The comparison.
    pub result: Result<(), PlanMismatch>,
}

/// The outcome word tests compare: the skip reason's kind (`dry_run`, `protected`, `sample`,
/// `temporary_credentials`, `rate_limited`, `kill_switch`, ...) or the status (`executed`,
/// `already_done`, `failed`).
pub fn outcome_word(outcome: &Outcome) -> String {
    match outcome.skip_reason() {
        Some(reason) => reason.kind().to_owned(),
        None => outcome.status().as_str().to_owned(),
    }
}

/// Why a case (or a policy) failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CaseFailure {
    /// The plan is not what the case expects.
    Mismatch(PlanMismatch),
    /// The case could not run: a missing finding file, invalid JSON or TOML, an unknown policy,
    /// policies that do not load.
    Setup(String),
    /// A policy has no case.
    NoCase,
}

impl fmt::Display for CaseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaseFailure::Mismatch(m) => write!(f, "{m}"),
            CaseFailure::Setup(message) => writeln!(f, "error: {message}"),
            CaseFailure::NoCase => writeln!(
                f,
                "every policy needs cases in `{TESTS_DIR}/*.toml`: one where it acts and one where it must not"
            ),
        }
    }
}

/// One line of a test report: a case, or a policy without cases, or a file that did not load.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case file (or the policy file, for a policy without cases), as given to the runner.
    pub file: PathBuf,
    /// The case's name.
    pub name: String,
    /// The policy whose actions were compared (`None`: all).
    pub policy: Option<String>,
    /// The policies that ran on the case's finding.
    pub evaluated: Vec<String>,
    /// The actions compared (in scope); empty when the case expects and got no action.
    pub actions: Vec<ActualAction>,
    /// `None` when the case passed.
    pub failure: Option<CaseFailure>,
}

impl CaseResult {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }

    fn setup(file: PathBuf, name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file,
            name: name.into(),
            policy: None,
            evaluated: Vec::new(),
            actions: Vec::new(),
            failure: Some(CaseFailure::Setup(message.into())),
        }
    }
}

/// Every case of a policy directory, and the policies without any.
#[derive(Debug, Clone, Default)]
pub struct TestReport {
    /// One result per case, then one per policy without a case, in order.
    pub results: Vec<CaseResult>,
}

impl TestReport {
    /// How many cases passed.
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed()).count()
    }

    /// How many cases (and policies without cases, and files that did not load) failed.
    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    /// Whether there was something to run and nothing failed.
    pub fn is_success(&self) -> bool {
        !self.results.is_empty() && self.failed() == 0
    }

    /// The summary line: `N passed, M failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed(), self.failed())
    }

    /// The results that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CaseResult> {
        self.results.iter().filter(|r| !r.passed())
    }
}

/// The report as `remedy test` prints it: `ok`/`FAIL`, file and name per case, the diff under
/// each failure, and the summary line.
impl fmt::Display for TestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.results {
            let status = if r.passed() { "ok  " } else { "FAIL" };
            let file = r.file.display().to_string();
            writeln!(f, "{status}  {}  {}", inert(&file), inert(&r.name))?;
            if let Some(failure) = &r.failure {
                if let (Some(policy), false) = (&r.policy, matches!(failure, CaseFailure::NoCase)) {
                    writeln!(f, "      policy `{}`", inert(policy))?;
                }
                for line in failure.to_string().lines() {
                    writeln!(f, "      {}", inert(line))?;
                }
            }
        }
        writeln!(f, "{}", self.summary())
    }
}

/// Runs every case of `dir/tests/*.toml` against the policies of `dir`, as `remedy test` does.
///
/// Synchronous: it runs its own small async runtime (on another thread when called from inside
/// one). From async code, use [`run_dir_async`].
pub fn run_dir(dir: impl AsRef<Path>) -> TestReport {
    run_dir_with(&PolicySetBuilder::new(), dir)
}

/// [`run_dir`] with a configured builder (host action kinds, limits).
pub fn run_dir_with(builder: &PolicySetBuilder, dir: impl AsRef<Path>) -> TestReport {
    run_dirs_with(builder, &[dir.as_ref().to_path_buf()])
}

/// Runs the cases of every `DIR/tests/*.toml` against one set made of all the directories (the
/// bundled policies and your own, as `remedy test DIR --with DIR2` does).
pub fn run_dirs_with(builder: &PolicySetBuilder, dirs: &[PathBuf]) -> TestReport {
    let at = dirs.first().cloned().unwrap_or_default();
    let go = || match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt.block_on(run_dirs_with_async(builder, dirs)),
        Err(e) => TestReport {
            results: vec![CaseResult::setup(
                at.clone(),
                "runner",
                format!("cannot start an async runtime: {e}"),
            )],
        },
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| s.spawn(go).join()).unwrap_or_else(|_| TestReport {
            results: vec![CaseResult::setup(
                at.clone(),
                "runner",
                "the test runner panicked",
            )],
        })
    } else {
        go()
    }
}

/// [`run_dir`] for async callers.
pub async fn run_dir_async(dir: impl AsRef<Path>) -> TestReport {
    run_dirs_with_async(&PolicySetBuilder::new(), &[dir.as_ref().to_path_buf()]).await
}

async fn run_dirs_with_async(builder: &PolicySetBuilder, dirs: &[PathBuf]) -> TestReport {
    let mut report = TestReport::default();
    let at = dirs.first().cloned().unwrap_or_default();
    let mut combined = builder.clone();
    for dir in dirs {
        combined = combined.add_dir(dir);
    }
    let set = match combined.build() {
        Ok(set) => set,
        Err(e) => {
            report.results.push(CaseResult::setup(
                at,
                "the policies do not load (run `remedy check` for details)",
                e.to_string(),
            ));
            return report;
        }
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        let mut found: Vec<PathBuf> = match std::fs::read_dir(dir.join(TESTS_DIR)) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                .collect(),
            Err(_) => Vec::new(),
        };
        found.sort();
        files.extend(found);
    }

    let mut covered: BTreeSet<String> = BTreeSet::new();
    for path in files {
        let file = match CaseFile::from_path(&path) {
            Ok(file) => file,
            Err(e) => {
                report
                    .results
                    .push(CaseResult::setup(path, "(case file)", e.to_string()));
                continue;
            }
        };
        let base = base_dir(&path);
        for case in &file.cases {
            let result = match case.run(&set, &base, file.policy.as_deref()).await {
                Ok(run) => {
                    match &run.scope {
                        Some(p) => {
                            covered.insert(p.clone());
                        }
                        None => covered.extend(run.evaluated.iter().cloned()),
                    }
                    CaseResult {
                        file: path.clone(),
                        name: case.name.clone(),
                        policy: run.scope,
                        evaluated: run.evaluated,
                        actions: run.actions,
                        failure: run.result.err().map(CaseFailure::Mismatch),
                    }
                }
                Err(message) => {
                    let mut r = CaseResult::setup(path.clone(), case.name.clone(), message);
                    r.policy = case.policy.clone().or_else(|| file.policy.clone());
                    r
                }
            };
            report.results.push(result);
        }
    }
    for policy in set.policies() {
        if !covered.contains(policy.name()) {
            report.results.push(CaseResult {
                // With several directories a policy's file already names its directory.
                file: match dirs {
                    [one] => one.join(policy.file()),
                    _ => PathBuf::from(policy.file()),
                },
                name: format!("policy `{}` has no test case", policy.name()),
                policy: Some(policy.name().to_owned()),
                evaluated: Vec::new(),
                actions: Vec::new(),
                failure: Some(CaseFailure::NoCase),
            });
        }
    }
    report
}
