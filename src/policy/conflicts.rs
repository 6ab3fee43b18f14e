//! Policies that contradict each other: two policies that decide on the same finding types and
//! choose different destructive outcomes for the same finding ([`PolicySet::conflicts`]).
//!
//! rhai is too dynamic to compare two `decide` functions by reading them, so the comparison is
//! made on findings: every finding given is evaluated once by the whole set, and for every two
//! policies that both ran on it (not fallbacks, neither failed), the destructive actions each
//! chose are compared by what they touch (a role, a user, a key, an instance, as `[protect]`
//! names them; the target for a runbook or the finding itself). One policy *spares* what another
//! *hits* when the other chooses a destructive action touching something and it chooses none
//! touching it: it only notifies, it chooses nothing although it acts on other findings of the
//! type, or it acts on other things. The findings are what the caller has: `remedy check` and `remedy test` use the
//! decision tests' findings (`tests/findings/*.json` and every case's finding, patched), so a case
//! that shows an exception (`break-glass-*` sessions spared, no forensics on `env=prod`) is exactly
//! what makes a contradiction visible.
//!
//! Write-back actions (`update_finding`, `archive_finding`, `suppress_similar`) are left out of
//! the comparison: they touch the finding, not the account's resources, run only after the plan's
//! other actions succeeded, and a suppression always waits for a person.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::{Policy, PolicySet};
use crate::finding::Finding;
use crate::plan::{Action, IamPrincipal, Plan};

/// How the policy that spares differs from the one that acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConflictKind {
    /// It only notifies where the other acts.
    OnlyNotifies,
    /// It chooses nothing where the other acts, although it acts on other findings of the same
    /// type.
    ChoosesNothing,
    /// It acts too, but not on the targets the other hits.
    SparesTarget,
}

impl ConflictKind {
    fn verb(self) -> &'static str {
        match self {
            ConflictKind::OnlyNotifies => "only notifies",
            ConflictKind::ChoosesNothing => "chooses nothing",
            ConflictKind::SparesTarget => "spares the target",
        }
    }
}

/// One finding on which two policies chose differently.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contrast {
    /// The finding, as the caller labelled it (a file, a test case).
    pub finding: String,
    /// The finding's type.
    pub finding_type: String,
    /// The destructive actions of the policy that acts which the other does not choose:
    /// `kind target` each.
    pub hits: Vec<String>,
    /// What the policy that spares chose: `kind target` each (empty: nothing).
    pub spares_chose: Vec<String>,
}

/// Two policies that contradict each other: for the same findings one chooses a destructive
/// action that the other spares. Plans are the union of their policies' actions, so the action
/// runs: an exception belongs in the configuration (`[protect]`, `[approval]`, `shadow`) or in
/// the policy that acts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    /// How the two differ.
    pub kind: ConflictKind,
    /// The policy that acts.
    pub acts: String,
    /// The policy that spares.
    pub spares: String,
    /// The globs of the two policies that overlap: `(acts' glob, spares' glob)`.
    pub globs: Vec<(String, String)>,
    /// The finding types on which they differed.
    pub finding_types: Vec<String>,
    /// How many findings showed it.
    pub findings: usize,
    /// The first findings that showed it (at most three).
    pub examples: Vec<Contrast>,
    /// `[protect]` entries that would spare the targets hit: `(key, value)`, e.g.
    /// `("roles", "break-glass-ops")`.
    pub protect: Vec<(String, String)>,
}

/// The most examples a [`Conflict`] keeps.
const EXAMPLES: usize = 3;

impl Conflict {
    /// One line: who acts, who spares, on which types.
    pub fn summary(&self) -> String {
        format!(
            "`{}` {} where `{}` acts, on {}",
            self.spares,
            self.kind.verb(),
            self.acts,
            self.finding_types
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// Where the exception belongs, with the configuration to write: the first line says why,
    /// each further line is one place.
    pub fn help(&self) -> String {
        let acts = &self.acts;
        let mut keys: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (key, value) in &self.protect {
            keys.entry(key.as_str()).or_default().push(value.as_str());
        }
        let mut lines = vec![
            "a policy cannot set aside another's action (a plan is the union of every policy's \
             actions); put the exception where every policy obeys it:"
                .to_owned(),
        ];
        for (key, values) in &keys {
            let quoted: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
            lines.push(format!(
                "`[protect] {key} = [{}]` (globs work): never touched, whoever chooses it",
                quoted.join(", ")
            ));
        }
        if keys.contains_key("instances") {
            lines.push(
                "`[protect] instance_tags = [{ key = \"env\", value = \"prod*\" }]`: instances by tag"
                    .to_owned(),
            );
        }
        lines.push(format!(
            "`[approval] policies = [\"{acts}\"]` (or `kinds`, `tags`): a person decides first"
        ));
        lines.push(format!(
            "`[enforcement] shadow = [\"{acts}\"]`: its actions are recorded, not carried out"
        ));
        lines.push(format!(
            "or change `{acts}` itself (copy it into your directory and leave the original out)"
        ));
        lines.join("\n")
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        let globs: Vec<String> = self
            .globs
            .iter()
            .map(|(a, s)| {
                if a == s {
                    format!("`{a}`")
                } else {
                    format!("`{a}` / `{s}`")
                }
            })
            .collect();
        writeln!(
            f,
            "  both decide on {}; they differ on {} finding{}",
            globs.join(", "),
            self.findings,
            if self.findings == 1 { "" } else { "s" }
        )?;
        for c in &self.examples {
            writeln!(f, "  {}:", c.finding)?;
            writeln!(f, "    `{}` chooses {}", self.acts, c.hits.join(", "))?;
            let chose = if c.spares_chose.is_empty() {
                "nothing".to_owned()
            } else {
                c.spares_chose.join(", ")
            };
            writeln!(f, "    `{}` chooses {chose}", self.spares)?;
        }
        if self.findings > self.examples.len() {
            writeln!(f, "  … and {} more", self.findings - self.examples.len())?;
        }
        let help = self.help();
        let mut lines = help.lines();
        write!(f, "  help: {}", lines.next().unwrap_or_default())?;
        for line in lines {
            write!(f, "\n    - {line}")?;
        }
        Ok(())
    }
}

/// Two policies (by index) that can decide on the same findings, with their overlapping globs.
type Pair = (usize, usize, Vec<(String, String)>);

/// What one policy chose on one finding.
#[derive(Default)]
struct Choice {
    /// Each destructive action: `"kind target"`, and the things it touches (see
    /// [`protect_entries`]).
    destructive: Vec<(String, Vec<(String, String)>)>,
    /// `"kind target"` of every action.
    all: Vec<String>,
}

impl Choice {
    /// Everything the policy's destructive actions touch.
    fn touched(&self) -> BTreeSet<&(String, String)> {
        self.destructive.iter().flat_map(|(_, t)| t).collect()
    }
}

impl PolicySet {
    /// The pairs of policies that contradict each other on `findings` (`(label, finding)` pairs:
    /// the label names the finding in the result). Every finding is evaluated once by the whole
    /// set; only pairs of policies whose `APPLIES_TO` globs and `SOURCES` overlap are compared,
    /// fallbacks are not (they run only when nothing else chose an action). Pure: nothing runs
    /// but the policies.
    pub fn conflicts<'a, I>(&self, findings: I) -> Vec<Conflict>
    where
        I: IntoIterator<Item = (&'a str, &'a Finding)>,
    {
        let pairs = self.overlapping_pairs();
        if pairs.is_empty() {
            return Vec::new();
        }
        let involved: BTreeSet<usize> = pairs.iter().flat_map(|(a, b, _)| [*a, *b]).collect();
        // First pass: what each involved policy chose on each finding.
        let mut seen: Vec<(&str, String, BTreeMap<usize, Choice>)> = Vec::new();
        let mut acts_on_type: BTreeSet<(usize, String)> = BTreeSet::new();
        for (label, finding) in findings {
            let plan = self.evaluate(finding);
            let finding_type = crate::finding::inert(finding.finding_type().as_str()).into_owned();
            let mut choices = BTreeMap::new();
            for &i in &involved {
                let Some(policy) = self.policies.get(i) else {
                    continue;
                };
                if let Some(choice) = choice_of(&plan, policy) {
                    if !choice.destructive.is_empty() {
                        acts_on_type.insert((i, finding_type.clone()));
                    }
                    choices.insert(i, choice);
                }
            }
            seen.push((label, finding_type, choices));
        }
        // Second pass: compare each pair on each finding both decided on, both ways.
        let mut found: BTreeMap<(usize, usize, ConflictKind), Conflict> = BTreeMap::new();
        for (label, finding_type, choices) in &seen {
            for (a, b, globs) in &pairs {
                for (acts, spares) in [(*a, *b), (*b, *a)] {
                    let (Some(x), Some(y)) = (choices.get(&acts), choices.get(&spares)) else {
                        continue;
                    };
                    let spared = y.touched();
                    let hits: Vec<&(String, String)> = x
                        .touched()
                        .into_iter()
                        .filter(|t| !spared.contains(t))
                        .collect();
                    if hits.is_empty() {
                        continue;
                    }
                    let kind = if !y.destructive.is_empty() {
                        ConflictKind::SparesTarget
                    } else if !y.all.is_empty() {
                        ConflictKind::OnlyNotifies
                    } else if acts_on_type.contains(&(spares, finding_type.clone())) {
                        ConflictKind::ChoosesNothing
                    } else {
                        // It has no opinion on findings like this one.
                        continue;
                    };
                    let (Some(pa), Some(ps)) = (self.policies.get(acts), self.policies.get(spares))
                    else {
                        continue;
                    };
                    let conflict = found
                        .entry((acts, spares, kind))
                        .or_insert_with(|| Conflict {
                            kind,
                            acts: pa.name().to_owned(),
                            spares: ps.name().to_owned(),
                            globs: if acts == *a {
                                globs.clone()
                            } else {
                                globs.iter().map(|(g, h)| (h.clone(), g.clone())).collect()
                            },
                            finding_types: Vec::new(),
                            findings: 0,
                            examples: Vec::new(),
                            protect: Vec::new(),
                        });
                    conflict.findings += 1;
                    if !conflict.finding_types.contains(finding_type) {
                        conflict.finding_types.push(finding_type.clone());
                    }
                    for (key, value) in &hits {
                        let entry = (key.clone(), value.clone());
                        if key != TARGET && !conflict.protect.contains(&entry) {
                            conflict.protect.push(entry);
                        }
                    }
                    if conflict.examples.len() < EXAMPLES {
                        conflict.examples.push(Contrast {
                            finding: crate::finding::inert(label).into_owned(),
                            finding_type: finding_type.clone(),
                            hits: x
                                .destructive
                                .iter()
                                .filter(|(_, touched)| touched.iter().any(|t| hits.contains(&t)))
                                .map(|(shown, _)| shown.clone())
                                .collect(),
                            spares_chose: y.all.clone(),
                        });
                    }
                }
            }
        }
        found.into_values().collect()
    }

    /// Every two policies (not fallbacks) that can decide on the same findings: their sources
    /// meet and some glob of one overlaps some glob of the other. Each with the overlapping
    /// globs.
    fn overlapping_pairs(&self) -> Vec<Pair> {
        let mut pairs = Vec::new();
        for (i, a) in self.policies.iter().enumerate() {
            for (j, b) in self.policies.iter().enumerate().skip(i + 1) {
                if a.fallback || b.fallback || !a.sources.iter().any(|s| b.sources.contains(s)) {
                    continue;
                }
                let globs: Vec<(String, String)> = a
                    .applies_to
                    .iter()
                    .flat_map(|g| b.applies_to.iter().map(move |h| (g, h)))
                    .filter(|(g, h)| globs_overlap(g, h))
                    .map(|(g, h)| (g.clone(), h.clone()))
                    .collect();
                if !globs.is_empty() {
                    pairs.push((i, j, globs));
                }
            }
        }
        pairs
    }
}

/// What `policy` chose in `plan`, when it ran and did not fail.
fn choice_of(plan: &Plan, policy: &Policy) -> Option<Choice> {
    let name = policy.name();
    if !plan.evaluated.iter().any(|p| &**p == name) || plan.errors.iter().any(|e| e.policy == name)
    {
        return None;
    }
    let mut choice = Choice::default();
    for planned in &plan.actions {
        if !planned.sources.iter().any(|s| &*s.policy == name) {
            continue;
        }
        let action = &planned.action;
        let target = action.target();
        let shown = format!("{} {}", action.kind(), crate::finding::inert(&target));
        if action.is_destructive() && !crate::plan::is_writeback(&action.kind()) {
            let mut touched = protect_entries(action);
            if touched.is_empty() {
                touched.push((TARGET.to_owned(), target));
            }
            choice.destructive.push((shown.clone(), touched));
        }
        choice.all.push(shown);
    }
    Some(choice)
}

/// The key of what an action touches that `[protect]` has no key for (a runbook, the finding):
/// its target.
const TARGET: &str = "target";

/// The `[protect]` entries that spare what `action` would touch: what it touches, as `[protect]`
/// names it (`("roles", "web-server-role")`, `("instances", "i-…")`).
fn protect_entries(action: &Action) -> Vec<(String, String)> {
    let entry =
        |key: &str, value: &str| (key.to_owned(), crate::finding::inert(value).into_owned());
    match action {
        Action::DisableAccessKey(d) => vec![
            entry("users", d.user_name.as_str()),
            entry("access_keys", d.access_key_id.as_str()),
        ],
        Action::RevokeRoleSessions(r) => vec![entry("roles", r.role_name.as_str())],
        Action::QuarantinePrincipal(q) => match &q.principal {
            IamPrincipal::User(u) => vec![entry("users", u.as_str())],
            IamPrincipal::Role(r) => vec![entry("roles", r.as_str())],
        },
        Action::DisableConsoleLogin(d) => vec![entry("users", d.user_name.as_str())],
        Action::RunCommand(r) => r
            .instance_ids
            .iter()
            .map(|i| entry("instances", i.as_str()))
            .collect(),
        Action::IsolateInstance(i) => vec![entry("instances", i.instance_id.as_str())],
        _ => Vec::new(),
    }
}

/// Whether some finding type matches both globs (`*` any run of characters, `?` one).
pub(crate) fn globs_overlap(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // reach[i * (m + 1) + j]: the rest of `a` from i and the rest of `b` from j can match a
    // common text.
    let (n, m) = (a.len(), b.len());
    let mut reach = vec![false; (n + 1) * (m + 1)];
    let at = |reach: &[bool], i: usize, j: usize| {
        i <= n && j <= m && reach.get(i * (m + 1) + j).copied().unwrap_or(false)
    };
    for i in (0..=n).rev() {
        for j in (0..=m).rev() {
            let (x, y) = (a.get(i), b.get(j));
            let here = match (x, y) {
                (None, None) => true,
                (Some('*'), _) | (_, Some('*')) => {
                    // A star matches nothing more, or eats one character (or the other side's
                    // star) of the other side.
                    let star_a = x == Some(&'*') && (at(&reach, i + 1, j) || at(&reach, i, j + 1));
                    let star_b = y == Some(&'*') && (at(&reach, i, j + 1) || at(&reach, i + 1, j));
                    star_a || star_b
                }
                (Some(x), Some(y)) => {
                    (x == y || *x == '?' || *y == '?') && at(&reach, i + 1, j + 1)
                }
                _ => false,
            };
            if let Some(cell) = reach.get_mut(i * (m + 1) + j) {
                *cell = here;
            }
        }
    }
    at(&reach, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::globs_overlap;

    #[test]
    fn globs_overlap_when_a_type_matches_both() {
        assert!(globs_overlap("*", "Recon:IAMUser/*"));
        assert!(globs_overlap(
            "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration*",
            "UnauthorizedAccess:IAMUser/*"
        ));
        assert!(globs_overlap("Backdoor:EC2/C&CActivity.B*", "*.B!DNS"));
        assert!(globs_overlap("a?c", "*c"));
        assert!(globs_overlap("ab", "ab"));
        assert!(!globs_overlap("Recon:IAMUser/*", "Backdoor:*"));
        assert!(!globs_overlap("a?c", "abd"));
        assert!(!globs_overlap("*.Custom", "*.B"));
        assert!(!globs_overlap("ab", "abc"));
    }
}
