//! Decision tests: case files next to the policies (`POLICY_DIR/tests/*.toml`) and the runner
//! behind `remedy test`.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use super::base_dir;
use super::case::CaseFile;
use super::expect::{ActualAction, PlanMismatch};
use crate::finding::inert;
use crate::policy::{Conflict, PolicyDiagnostic, PolicySetBuilder};

/// The subdirectory of a policy directory that holds its case files.
pub const TESTS_DIR: &str = "tests";

/// Why a case (or a policy) failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CaseFailure {
    /// The plan is not what the case expects.
    Mismatch(PlanMismatch),
    /// The other policies' actions are not the case's `others` (and the policy's own may not be
    /// what it expects either).
    Others {
        /// The policy's own actions, when they differ too.
        own: Option<PlanMismatch>,
        /// The other policies' actions.
        others: PlanMismatch,
    },
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
            CaseFailure::Others { own, others } => {
                if let Some(own) = own {
                    write!(f, "{own}")?;
                }
                writeln!(f, "the other policies (`others`):")?;
                for line in others.to_string().lines() {
                    writeln!(f, "  {line}")?;
                }
                Ok(())
            }
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
    /// When the case failed on a plan: why each policy did or did not decide on its finding.
    pub why: Vec<String>,
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
            why: Vec::new(),
        }
    }
}

/// Every case of a policy directory, and the policies without any.
#[derive(Debug, Clone, Default)]
pub struct TestReport {
    /// One result per case, then one per policy without a case, in order.
    pub results: Vec<CaseResult>,
    /// The warnings of loading the policies (what `remedy check` prints too).
    pub warnings: Vec<PolicyDiagnostic>,
    /// Policies that contradict each other on the cases' findings (see
    /// [`crate::policy::PolicySet::conflicts`]).
    pub conflicts: Vec<Conflict>,
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
                if !r.why.is_empty() {
                    writeln!(f, "      why:")?;
                    for line in &r.why {
                        writeln!(f, "        {}", inert(line))?;
                    }
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
            ..TestReport::default()
        },
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| s.spawn(go).join()).unwrap_or_else(|_| TestReport {
            results: vec![CaseResult::setup(
                at.clone(),
                "runner",
                "the test runner panicked",
            )],
            ..TestReport::default()
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
                    let failure = match (run.result, run.others) {
                        (own, Some(Err(others))) => Some(CaseFailure::Others {
                            own: own.err(),
                            others,
                        }),
                        (own, _) => own.err().map(CaseFailure::Mismatch),
                    };
                    CaseResult {
                        file: path.clone(),
                        name: case.name.clone(),
                        policy: run.scope,
                        evaluated: run.evaluated,
                        actions: run.actions,
                        failure,
                        why: run.why,
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
                why: Vec::new(),
            });
        }
    }
    report.warnings = set.warnings().to_vec();
    let corpus = super::test_findings(dirs);
    report.conflicts = set.conflicts(corpus.iter().map(|(label, f)| (label.as_str(), f)));
    report
}
