//! [`Summary`]: the totals of a replay, counted finding by finding in bounded memory.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::{Comparison, Side};
use crate::finding::inert;
use crate::plan::PolicyFailure;

/// How many finding ids a policy failure keeps as examples.
const FAILURE_EXAMPLES: usize = 5;

/// A value for each side of a replay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sides<T> {
    /// The set in use.
    pub old: T,
    /// The candidate set.
    pub new: T,
}

impl<T> Sides<T> {
    /// The value of `side`.
    pub fn get(&self, side: Side) -> &T {
        match side {
            Side::Old => &self.old,
            Side::New => &self.new,
        }
    }

    /// The value of `side`, to change.
    pub fn get_mut(&mut self, side: Side) -> &mut T {
        match side {
            Side::Old => &mut self.old,
            Side::New => &mut self.new,
        }
    }
}

/// One policy's failures on one side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FailureTally {
    /// On how many findings it failed.
    pub count: u64,
    /// Its first failure, as a line (`policy `x` failed at file:line:column (kind): message`).
    pub first: String,
    /// The first findings it failed on (at most 5).
    pub findings: Vec<String>,
}

/// What the guards would have done with one side's actions, counted by fate (see
/// [`Fate`](super::Fate)); every fate the issue names is always present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GuardTally {
    /// Actions by fate: `executed`, `pending_approval`, `protected`, `rate_limited`,
    /// `circuit_open`, `shadow`, `repeat`, and any other that occurred.
    pub actions: BTreeMap<String, u64>,
    /// How many times the circuit breaker tripped.
    pub breaker_trips: u64,
}

/// The totals of a replay. [`Summary::add`] counts one finding's comparison; memory grows only
/// with the number of days, action kinds and failing policies, never with the findings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Findings compared.
    pub findings: u64,
    /// Findings whose planned actions differ.
    pub changed: u64,
    /// Actions only the candidate chooses, by kind.
    pub added: BTreeMap<String, u64>,
    /// Actions only the set in use chooses, by kind.
    pub removed: BTreeMap<String, u64>,
    /// Planned actions on each side, all findings together.
    pub actions: Sides<u64>,
    /// Findings on which a policy failed, on each side.
    pub failed_findings: Sides<u64>,
    /// Policy failures on each side, by policy.
    pub failures: Sides<BTreeMap<String, FailureTally>>,
    /// Changed actions by day of `updatedAt` (`unknown` without one): added and removed by kind.
    pub days: BTreeMap<String, Sides<BTreeMap<String, u64>>>,
    /// The version (content hash) of each side's policy set.
    pub policy_set_versions: Sides<String>,
    /// What the guards would have done (with a configuration only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guards: Option<Sides<GuardTally>>,
    /// Findings counted by the guards out of `updatedAt` order (see [`InOrder`](super::InOrder)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_order: Option<u64>,
}

/// The summary as `remedy replay` prints it: `{"record": "summary", ...}`.
#[derive(Debug, Serialize)]
pub struct SummaryRecord<'a> {
    /// Always `summary`.
    pub record: &'static str,
    /// The totals.
    #[serde(flatten)]
    pub summary: &'a Summary,
}

impl Summary {
    /// An empty summary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one finding.
    pub fn add(&mut self, comparison: &Comparison) {
        self.findings += 1;
        for side in [Side::Old, Side::New] {
            let plan = comparison.plan(side);
            *self.actions.get_mut(side) += plan.actions.len() as u64;
            if self.policy_set_versions.get(side).is_empty() {
                *self.policy_set_versions.get_mut(side) = plan.policy_set_version.to_string();
            }
            if !plan.errors.is_empty() {
                *self.failed_findings.get_mut(side) += 1;
            }
            for (i, failure) in plan.errors.iter().enumerate() {
                // A policy failing twice on one finding counts once.
                let again = plan
                    .errors
                    .iter()
                    .take(i)
                    .any(|e| e.policy == failure.policy);
                if !again {
                    self.add_failure(side, &plan.finding.id, failure);
                }
            }
        }
        if !comparison.is_changed() {
            return;
        }
        self.changed += 1;
        let day = self.days.entry(comparison.day()).or_default();
        for (side, actions, totals) in [
            (Side::New, &comparison.added, &mut self.added),
            (Side::Old, &comparison.removed, &mut self.removed),
        ] {
            for planned in actions {
                let kind = planned.action.kind().to_string();
                *day.get_mut(side).entry(kind.clone()).or_default() += 1;
                *totals.entry(kind).or_default() += 1;
            }
        }
    }

    fn add_failure(&mut self, side: Side, finding: &str, failure: &PolicyFailure) {
        let tally = self
            .failures
            .get_mut(side)
            .entry(failure.policy.clone())
            .or_insert_with(|| FailureTally {
                first: failure.to_string(),
                ..FailureTally::default()
            });
        tally.count += 1;
        if tally.findings.len() < FAILURE_EXAMPLES {
            tally.findings.push(finding.to_owned());
        }
    }

    /// The record `remedy replay` prints last.
    pub fn record(&self) -> SummaryRecord<'_> {
        SummaryRecord {
            record: "summary",
            summary: self,
        }
    }

    /// A readable summary, several lines, finding data and policy text inert.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "replay: {} finding{}, {} changed; actions planned: {} by the set in use, {} by the \
             candidate",
            self.findings,
            plural(self.findings),
            self.changed,
            self.actions.old,
            self.actions.new
        );
        let _ = writeln!(s, "  added:   {}", by_kind(&self.added));
        let _ = writeln!(s, "  removed: {}", by_kind(&self.removed));
        for side in [Side::Old, Side::New] {
            let name = side_name(side);
            for (policy, tally) in self.failures.get(side) {
                let share = if self.findings == 0 {
                    0.0
                } else {
                    100.0 * tally.count as f64 / self.findings as f64
                };
                let _ = writeln!(
                    s,
                    "  {name}: policy `{}` failed on {} finding{} ({share:.1}%); first: {}",
                    inert(policy),
                    tally.count,
                    plural(tally.count),
                    inert(&tally.first)
                );
            }
        }
        if let Some(guards) = &self.guards {
            let _ = writeln!(
                s,
                "  guards, on the findings' clock (set in use -> candidate):"
            );
            let fates = guards.old.actions.keys().chain(guards.new.actions.keys());
            let mut seen = std::collections::BTreeSet::new();
            for fate in fates {
                if !seen.insert(fate) {
                    continue;
                }
                let count = |t: &GuardTally| t.actions.get(fate).copied().unwrap_or(0);
                let _ = writeln!(
                    s,
                    "    {fate:<22} {:>8} -> {}",
                    count(&guards.old),
                    count(&guards.new)
                );
            }
            let _ = writeln!(
                s,
                "    {:<22} {:>8} -> {}",
                "breaker trips", guards.old.breaker_trips, guards.new.breaker_trips
            );
        }
        if let Some(late) = self.out_of_order.filter(|&n| n > 0) {
            let _ = writeln!(
                s,
                "  note: {late} finding{} came too far out of `updatedAt` order and were counted \
                 at the latest time seen",
                plural(late)
            );
        }
        s
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Old => "set in use",
        Side::New => "candidate",
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `kind n, kind n` or `none`.
fn by_kind(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts
        .iter()
        .map(|(kind, n)| format!("{} {n}", inert(kind)))
        .collect::<Vec<_>>()
        .join(", ")
}
