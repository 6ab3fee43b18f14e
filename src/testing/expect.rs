//! Expected actions, comparing them with what a plan chose, and the readable diff.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::plan::{Plan, PolicyFailure};

/// An action a test expects: its kind, the parameters that matter, and optionally words its
/// parameters mention and the outcome the remediator gives it.
///
/// In a case file (TOML):
///
/// ```toml
/// expect = [
///   { kind = "disable_access_key", params = { user_name = "build-bot", access_key_id = "AKIAI44QH8DHBEXAMPLE" } },
///   { kind = "notify", params = { channel = "security" }, mentions = ["198.51.100.23"] },
/// ]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAction {
    /// The action kind, e.g. `notify`.
    pub kind: String,
    /// Parameters the action must have: a subset match (objects: every key given must match;
    /// arrays and scalars: equal). Parameters left out are not compared.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
    /// Texts that must each occur in one of the action's string parameters (e.g. a bucket name in
    /// a notification's message).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// The outcome the remediator gives the action in a dry run: `dry_run`, `protected`, `sample`,
    /// `temporary_credentials`, `rate_limited`, ... (the [`crate::action::SkipReason`] kind, or the status
    /// `executed`, `already_done`, `failed`). Absent: not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

impl ExpectedAction {
    /// An expected action of `kind` with no parameter constraints.
    pub fn new(kind: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            ..Self::default()
        }
    }

    /// An expected `notify` to `channel`.
    pub fn notify(channel: &str) -> Self {
        Self::new("notify").with_param("channel", channel)
    }

    /// An expected `disable_access_key` of `access_key_id` of `user_name`.
    pub fn disable_access_key(user_name: &str, access_key_id: &str) -> Self {
        Self::new("disable_access_key")
            .with_param("user_name", user_name)
            .with_param("access_key_id", access_key_id)
    }

    /// An expected `revoke_role_sessions` of `role_name`.
    pub fn revoke_role_sessions(role_name: &str) -> Self {
        Self::new("revoke_role_sessions").with_param("role_name", role_name)
    }

    /// An expected `quarantine_principal` of the user or role (`kind` `user` or `role`) `name`.
    pub fn quarantine_principal(kind: &str, name: &str) -> Self {
        Self::new("quarantine_principal")
            .with_param("kind", kind)
            .with_param("name", name)
    }

    /// An expected `disable_console_login` of `user_name`.
    pub fn disable_console_login(user_name: &str) -> Self {
        Self::new("disable_console_login").with_param("user_name", user_name)
    }

    /// An expected `run_command` of `document`.
    pub fn run_command(document: &str) -> Self {
        Self::new("run_command").with_param("document", document)
    }

    /// Requires the parameter `name` to match `value`.
    pub fn with_param(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.params.insert(name.into(), value.into());
        self
    }

    /// Requires `text` to occur in one of the action's string parameters.
    pub fn mentioning(mut self, text: impl Into<String>) -> Self {
        self.mentions.push(text.into());
        self
    }

    /// Requires the remediator's outcome for the action to be `outcome`.
    pub fn with_outcome(mut self, outcome: impl Into<String>) -> Self {
        self.outcome = Some(outcome.into());
        self
    }

    /// Whether `actual` is an action this expectation describes.
    pub fn matches(&self, actual: &ActualAction) -> bool {
        self.kind == actual.kind
            && self
                .params
                .iter()
                .all(|(k, v)| actual.params.get(k).is_some_and(|a| subset(v, a)))
            && self.mentions.iter().all(|m| mentions(&actual.params, m))
            && self
                .outcome
                .as_ref()
                .is_none_or(|o| actual.outcome.as_deref() == Some(o.as_str()))
    }
}

impl fmt::Display for ExpectedAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, Value::Object(self.params.clone()))?;
        if !self.mentions.is_empty() {
            write!(f, " mentioning {:?}", self.mentions)?;
        }
        if let Some(outcome) = &self.outcome {
            write!(f, " [outcome: {outcome}]")?;
        }
        Ok(())
    }
}

/// Whether `expected` is a subset of `actual`: objects by key, everything else by equality.
fn subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| subset(v, av))),
        (Value::Number(e), Value::Number(a)) => e.as_f64() == a.as_f64(),
        _ => expected == actual,
    }
}

/// Whether a string anywhere in `value` contains `text`.
fn mentions(value: &Value, text: &str) -> bool {
    match value {
        Value::String(s) => s.contains(text),
        Value::Array(items) => items.iter().any(|v| mentions(v, text)),
        Value::Object(map) => map.values().any(|v| mentions(v, text)),
        _ => false,
    }
}

/// An action a plan chose, as tests compare it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActualAction {
    /// The action kind.
    pub kind: String,
    /// The action's parameters (the plan's JSON form).
    pub params: Value,
    /// The policies that chose it.
    pub policies: Vec<String>,
    /// The remediator's outcome word, when the plan was run through it (see
    /// [`ExpectedAction::outcome`]).
    pub outcome: Option<String>,
}

impl ActualAction {
    /// Whether the action changes something (every kind but `notify`; see
    /// [`crate::Action::is_destructive`]).
    pub fn is_destructive(&self) -> bool {
        self.kind != "notify"
    }
}

impl fmt::Display for ActualAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.params)?;
        if let Some(outcome) = &self.outcome {
            write!(f, " [outcome: {outcome}]")?;
        }
        if !self.policies.is_empty() {
            write!(f, "  (by {})", self.policies.join(", "))?;
        }
        Ok(())
    }
}

/// The actions of `plan` chosen by `policy` (every action when `None`), in plan order.
pub fn actions_in_scope(plan: &Plan, policy: Option<&str>) -> Vec<ActualAction> {
    plan.actions
        .iter()
        .filter(|a| policy.is_none_or(|p| a.sources.iter().any(|s| &*s.policy == p)))
        .map(|a| ActualAction {
            kind: a.action.kind().to_string(),
            params: a.action.params(),
            policies: a.sources.iter().map(|s| s.policy.to_string()).collect(),
            outcome: None,
        })
        .collect()
}

/// The failures of `plan` by `policy` (every failure when `None`).
pub fn errors_in_scope(plan: &Plan, policy: Option<&str>) -> Vec<PolicyFailure> {
    plan.errors
        .iter()
        .filter(|e| policy.is_none_or(|p| e.policy == p))
        .cloned()
        .collect()
}

/// Why a plan is not what a test expected; `Display` is a readable diff, one action per line:
/// `-` expected but not chosen, `+` chosen but not expected, two spaces for actions that matched,
/// `!` policy failures.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanMismatch {
    /// Expected actions that matched, with the action that matched them.
    pub matched: Vec<(ExpectedAction, ActualAction)>,
    /// Expected actions no chosen action matched.
    pub missing: Vec<ExpectedAction>,
    /// Chosen actions no expectation matched.
    pub unexpected: Vec<ActualAction>,
    /// Policies in scope that failed while deciding.
    pub errors: Vec<PolicyFailure>,
}

impl PlanMismatch {
    /// Whether the plan matched: nothing missing, nothing unexpected, no failure.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.errors.is_empty()
    }
}

impl fmt::Display for PlanMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.matched.is_empty() && self.missing.is_empty() && self.unexpected.is_empty() {
            writeln!(f, "no action expected, none chosen")?;
        } else {
            writeln!(
                f,
                "actions (- expected, not chosen; + chosen, not expected):"
            )?;
        }
        for (_, actual) in &self.matched {
            writeln!(f, "  {actual}")?;
        }
        for expected in &self.missing {
            writeln!(f, "- {expected}")?;
        }
        for actual in &self.unexpected {
            writeln!(f, "+ {actual}")?;
        }
        for e in &self.errors {
            let at = match (e.line, e.column) {
                (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
                (Some(l), None) => format!(" at line {l}"),
                _ => String::new(),
            };
            writeln!(f, "! policy `{}` failed{at}: {}", e.policy, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for PlanMismatch {}

/// Compares chosen actions with expectations: every expectation must match a different action
/// and every action must be matched (a maximum matching, so the order does not matter), and no
/// policy in scope may have failed.
pub fn compare(
    expected: &[ExpectedAction],
    actual: &[ActualAction],
    errors: &[PolicyFailure],
) -> Result<(), PlanMismatch> {
    // owner[j] = the expectation matched to actual action j.
    let mut owner: Vec<Option<usize>> = vec![None; actual.len()];
    for i in 0..expected.len() {
        let mut seen = vec![false; actual.len()];
        augment(i, expected, actual, &mut owner, &mut seen);
    }
    let mut matched = Vec::new();
    let mut taken = vec![false; expected.len()];
    let mut unexpected = Vec::new();
    for (j, a) in actual.iter().enumerate() {
        match owner.get(j).copied().flatten() {
            Some(i) => {
                if let (Some(e), Some(t)) = (expected.get(i), taken.get_mut(i)) {
                    *t = true;
                    matched.push((e.clone(), a.clone()));
                }
            }
            None => unexpected.push(a.clone()),
        }
    }
    let missing = expected
        .iter()
        .zip(&taken)
        .filter(|(_, t)| !**t)
        .map(|(e, _)| e.clone())
        .collect();
    let mismatch = PlanMismatch {
        matched,
        missing,
        unexpected,
        errors: errors.to_vec(),
    };
    if mismatch.is_empty() {
        Ok(())
    } else {
        Err(mismatch)
    }
}

/// One augmenting-path step of bipartite matching (Kuhn's algorithm); the inputs are tiny.
fn augment(
    i: usize,
    expected: &[ExpectedAction],
    actual: &[ActualAction],
    owner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    let Some(e) = expected.get(i) else {
        return false;
    };
    for (j, a) in actual.iter().enumerate() {
        if seen.get(j).copied().unwrap_or(true) || !e.matches(a) {
            continue;
        }
        if let Some(s) = seen.get_mut(j) {
            *s = true;
        }
        let current = owner.get(j).copied().flatten();
        let free = match current {
            None => true,
            Some(k) => augment(k, expected, actual, owner, seen),
        };
        if free {
            if let Some(o) = owner.get_mut(j) {
                *o = Some(i);
            }
            return true;
        }
    }
    false
}

/// Checks the actions `policy` chose in `plan` (every action when `None`) against `expected`;
/// a failure of a policy in scope is a mismatch too. `Err` displays as a readable diff.
///
/// ```
/// use remedy::testing::{ExpectedAction, check_plan};
///
/// let set = remedy::PolicySet::from_sources([(
///     "recon",
///     r#"const DESCRIPTION = "d"; const APPLIES_TO = "*";
///        fn decide(f) { notify("security", `recon by ${f.user_name}`) }"#,
/// )])?;
/// let finding = remedy::testing::finding_with(
///     include_str!("../../examples/findings/02-recon-iamuser.json"),
///     [],
/// )?;
/// let plan = set.evaluate(&finding);
/// check_plan(&plan, Some("recon"), &[ExpectedAction::notify("security")])?;
/// let err = check_plan(&plan, None, &[]).unwrap_err();
/// assert!(err.to_string().contains("\n+ notify"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_plan(
    plan: &Plan,
    policy: Option<&str>,
    expected: &[ExpectedAction],
) -> Result<(), PlanMismatch> {
    compare(
        expected,
        &actions_in_scope(plan, policy),
        &errors_in_scope(plan, policy),
    )
}

/// Checks that `plan` holds no destructive action; `Err` lists them as unexpected.
pub fn check_no_destructive(plan: &Plan) -> Result<(), PlanMismatch> {
    let destructive: Vec<ActualAction> = plan
        .actions
        .iter()
        .filter(|a| a.action.is_destructive())
        .map(|a| ActualAction {
            kind: a.action.kind().to_string(),
            params: a.action.params(),
            policies: a.sources.iter().map(|s| s.policy.to_string()).collect(),
            outcome: None,
        })
        .collect();
    if destructive.is_empty() {
        Ok(())
    } else {
        Err(PlanMismatch {
            matched: Vec::new(),
            missing: Vec::new(),
            unexpected: destructive,
            errors: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn actual(kind: &str, params: Value) -> ActualAction {
        ActualAction {
            kind: kind.into(),
            params,
            policies: vec!["p".into()],
            outcome: None,
        }
    }

    #[test]
    fn params_match_as_a_subset_and_mentions_search_strings() {
        let a = actual(
            "notify",
            json!({"channel": "security", "message": "bucket a-b exposed"}),
        );
        assert!(ExpectedAction::notify("security").matches(&a));
        assert!(
            ExpectedAction::notify("security")
                .mentioning("a-b")
                .matches(&a)
        );
        assert!(!ExpectedAction::notify("ops").matches(&a));
        assert!(
            !ExpectedAction::notify("security")
                .mentioning("zzz")
                .matches(&a)
        );
        assert!(
            !ExpectedAction::new("notify")
                .with_outcome("dry_run")
                .matches(&a)
        );
    }

    #[test]
    fn matching_does_not_depend_on_order() {
        // The first expectation matches both actions; a greedy matcher would take the wrong one.
        let expected = [
            ExpectedAction::new("notify"),
            ExpectedAction::notify("security"),
        ];
        let actual = [
            actual("notify", json!({"channel": "security"})),
            actual("notify", json!({"channel": "ops"})),
        ];
        assert!(compare(&expected, &actual, &[]).is_ok());
        let err = compare(&expected[..1], &actual, &[]).unwrap_err();
        assert_eq!(err.unexpected.len(), 1);
        let text = err.to_string();
        assert!(text.contains("\n+ notify"), "{text}");
    }
}
