//! One case file of decision tests (`POLICY_DIR/tests/NAME.toml`) and its cases: the TOML
//! format, the patched finding, and running one case against a set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::expect::{ActualAction, ExpectedAction, PlanMismatch, compare, errors_in_scope};
use super::{
    InMemory, TestError, json_from_file, remove_pointer, replace_pointer, set_pointer,
    set_pointer_creating,
};
use crate::action::Outcome;
use crate::config::{ApprovalConfig, ProtectConfig};
use crate::enrich::Context;
use crate::finding::Finding;
use crate::policy::PolicySet;
use crate::remediate::Protection;

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
    /// JSON pointers whose values are replaced before the finding is parsed, e.g.
    /// `"/detail/resource/instanceDetails/platform" = "windows"`. Each pointer must name a value
    /// the finding has (a typo fails the case instead of adding a key no policy reads); `add`
    /// adds one on purpose.
    #[serde(default)]
    pub set: BTreeMap<String, Value>,
    /// JSON pointers added (or replaced) before the finding is parsed, e.g.
    /// `"/detail/service/additionalInfo/sample" = true` on a finding without `sample`. The
    /// pointer's parent must exist, unless `create`.
    #[serde(default)]
    pub add: BTreeMap<String, Value>,
    /// Lets `set` and `add` create what their pointers name when it is missing, objects on the
    /// way included.
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
    /// With a `policy`: the actions every other policy of the set must choose on the finding,
    /// exactly these (`[]`: none), so the case sees the whole plan and fails when another policy
    /// acts where this one spares. Absent: other policies' actions are not compared.
    #[serde(default)]
    pub others: Option<Vec<ExpectedAction>>,
}

impl TestCase {
    /// Reads the case's finding: the file (relative to `base`) or the inline JSON, patched.
    pub fn load_finding(&self, base: &Path) -> Result<Finding, TestError> {
        let finding = Finding::from_json_value(self.patched_document(base)?)?;
        Ok(match &self.context {
            Some(context) => finding.with_context(context.clone()),
            None => finding,
        })
    }

    /// The case's finding document (the file relative to `base`, or the inline JSON) with
    /// `set`, `add` and `unset` applied, not yet parsed.
    pub fn patched_document(&self, base: &Path) -> Result<Value, TestError> {
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
                replace_pointer(&mut doc, pointer, value.clone())?;
            }
        }
        for (pointer, value) in &self.add {
            if self.create {
                set_pointer_creating(&mut doc, pointer, value.clone())?;
            } else {
                set_pointer(&mut doc, pointer, value.clone())?;
            }
        }
        for pointer in &self.unset {
            remove_pointer(&mut doc, pointer)?;
        }
        Ok(doc)
    }

    /// Evaluates the case against `set` and compares: `scope` is the policy whose actions are
    /// compared when the case names none. When an expected action has an `outcome`, the plan is
    /// run through the remediator (dry run, in-memory executors, the case's protection). With
    /// `others`, the actions of every other policy are compared too.
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
        if self.others.is_some() && scope.is_none() {
            return Err(
                "`others` compares the actions of the policies besides the case's `policy`: \
                 name one (without it, `expect` already compares the whole plan)"
                    .into(),
            );
        }
        let finding = self.load_finding(base).map_err(|e| e.to_string())?;
        let plan = set.evaluate(&finding);
        let others = self.others.as_deref().unwrap_or_default();
        let mut actual = super::actions_in_scope(&plan, None);
        if self
            .expect
            .iter()
            .chain(others)
            .any(|e| e.outcome.is_some())
        {
            actual = self.outcomes(&plan).await?;
        } else if self.protect.is_some() || self.approval.is_some() {
            return Err(
                "`protect` and `approval` are only used to check outcomes: add `outcome = …` to \
                 an expected action"
                    .into(),
            );
        }
        let chosen_by = |a: &ActualAction, p: &str| a.policies.iter().any(|q| q == p);
        let (own, rest): (Vec<ActualAction>, Vec<ActualAction>) = actual
            .into_iter()
            .partition(|a| scope.is_none_or(|p| chosen_by(a, p)));
        let result = compare(&self.expect, &own, &errors_in_scope(&plan, scope));
        let others = match (&self.others, scope) {
            (Some(expected), Some(scope)) => {
                let errors: Vec<_> = plan
                    .errors
                    .iter()
                    .filter(|e| e.policy != scope)
                    .cloned()
                    .collect();
                Some(compare(expected, &rest, &errors))
            }
            _ => None,
        };
        let failed = result.is_err() || others.as_ref().is_some_and(Result::is_err);
        Ok(CaseRun {
            scope: scope.map(str::to_owned),
            evaluated: plan.evaluated.iter().map(|p| p.to_string()).collect(),
            actions: own,
            result,
            others,
            why: if failed {
                super::why::why_lines(set, &finding, &plan, scope)
            } else {
                Vec::new()
            },
        })
    }

    /// Every action of `plan` with the remediator's outcome: a dry run with the case's
    /// protection, or with `approval`, enforced on in-memory executors.
    async fn outcomes(&self, plan: &crate::plan::Plan) -> Result<Vec<ActualAction>, String> {
        let protection = match &self.protect {
            Some(p) => Protection::new(p).map_err(|e| format!("invalid `protect`: {e}"))?,
            None => Protection::default(),
        };
        let memory = InMemory::new().with_protection(protection);
        let report = match &self.approval {
            Some(approval) => {
                let memory = memory.with_targets_of(plan);
                // As a configuration with `[approval]` keeps its requests (a file store), so
                // that a suppression, refused where requests are not kept, waits too.
                memory
                    .remediator()
                    .with_approval(approval.clone())
                    .with_approval_store(std::sync::Arc::new(
                        crate::store::approval::MemoryApprovals::new(),
                    ))
                    .enforce(true)
                    .build()
                    .run(plan)
                    .await
            }
            None => memory.dry_run(plan).await,
        };
        Ok(report
            .actions
            .iter()
            .filter(|r| !r.sources.is_empty())
            .map(|r| ActualAction {
                kind: r.kind.to_string(),
                params: r.params.clone(),
                policies: r.sources.iter().map(|s| s.policy.to_string()).collect(),
                outcome: Some(outcome_word(&r.outcome)),
            })
            .collect())
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
    /// The comparison of the other policies' actions, when the case has `others`.
    pub others: Option<Result<(), PlanMismatch>>,
    /// When the case failed: why each policy did or did not decide on the finding.
    pub why: Vec<String>,
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
