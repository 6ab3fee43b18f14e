//! Replay: what a policy change would have done over real history, before it is enabled.
//!
//! A [`Replay`] holds two policy sets, the one in use (`old`) and the candidate (`new`), and
//! compares their plans for each finding of a history ([`Replay::compare`]): the actions only one
//! side chose, compared by kind, target and parameters, each with the policies that chose it and
//! their reasons. Evaluation is pure, so this is exact: it is what the two sets decide, nothing
//! is executed and no AWS credential is needed.
//!
//! - [`history`]: the inputs (files, directories searched recursively, `-`), gzip-compressed or
//!   not, in the order a GuardDuty S3 export sorts by day;
//! - [`Summary`]: the totals of a replay (findings, changes by kind and day, policy failures of
//!   either side, what the guards would have done);
//! - [`Simulation`]: the guards of a configuration, run on each side's plans on the findings'
//!   own clock, with [`InOrder`] putting nearly sorted findings in `updatedAt` order in bounded
//!   memory;
//! - [`html`]: the self-contained report.
//!
//! ```
//! use remedy::replay::Replay;
//! use remedy::{Finding, PolicySet};
//!
//! let notify = r#"const DESCRIPTION = "tell"; const APPLIES_TO = "Recon:*";
//!     fn decide(finding) { notify("security", finding.id) }"#;
//! let old = PolicySet::from_sources([("tell", notify)])?;
//! let new = PolicySet::from_sources([("tell", notify.replace("security", "soc"))])?;
//! let finding = Finding::from_json_str(include_str!("../examples/findings/02-recon-iamuser.json"))?;
//! let comparison = Replay::new(old, new).compare(&finding);
//! assert!(comparison.is_changed());
//! assert_eq!((comparison.added.len(), comparison.removed.len()), (1, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use serde::Serialize;

use crate::finding::Finding;
use crate::plan::{Plan, PlannedAction};
use crate::policy::PolicySet;

pub mod history;
pub mod html;
mod ledger;
mod order;
mod simulate;
mod summary;

pub use history::{HistoryError, expand, open_input};
pub use order::InOrder;
pub use simulate::{Fate, Simulation};
pub use summary::{FailureTally, GuardTally, Sides, Summary, SummaryRecord};

/// Why a replay could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// An input could not be listed or opened.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The configuration's guards cannot be built (a protection rule that does not parse).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// Two policy sets compared finding by finding: the set in use (`old`) and the candidate (`new`).
/// Cheap to clone (the sets are shared).
#[derive(Debug, Clone)]
pub struct Replay {
    old: Arc<PolicySet>,
    new: Arc<PolicySet>,
}

impl Replay {
    /// A replay of `old` against `new`.
    pub fn new(old: impl Into<Arc<PolicySet>>, new: impl Into<Arc<PolicySet>>) -> Self {
        Self {
            old: old.into(),
            new: new.into(),
        }
    }

    /// The set in use.
    pub fn old(&self) -> &PolicySet {
        &self.old
    }

    /// The candidate set.
    pub fn new_set(&self) -> &PolicySet {
        &self.new
    }

    /// Both sets' plans for `finding` and what differs (pure: nothing is carried out).
    pub fn compare(&self, finding: &Finding) -> Comparison {
        Comparison::from_plans(self.old.evaluate(finding), self.new.evaluate(finding))
    }
}

/// Which side of a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The set in use.
    Old,
    /// The candidate set.
    New,
}

impl Side {
    /// `old` or `new`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Old => "old",
            Side::New => "new",
        }
    }
}

/// The two plans of one finding and the actions only one of them holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The plan of the set in use.
    pub old: Plan,
    /// The plan of the candidate set.
    pub new: Plan,
    /// Actions the candidate chooses that the set in use does not (as the new plan has them).
    pub added: Vec<PlannedAction>,
    /// Actions the set in use chooses that the candidate does not (as the old plan has them).
    pub removed: Vec<PlannedAction>,
}

impl Comparison {
    /// The comparison of two plans of one finding: actions are the same when their kind, target
    /// and parameters are (the policies and reasons that chose them may differ).
    pub fn from_plans(old: Plan, new: Plan) -> Self {
        let added = only_in(&new.actions, &old.actions);
        let removed = only_in(&old.actions, &new.actions);
        Self {
            old,
            new,
            added,
            removed,
        }
    }

    /// Whether the planned actions differ.
    pub fn is_changed(&self) -> bool {
        !self.added.is_empty() || !self.removed.is_empty()
    }

    /// The plan of `side`.
    pub fn plan(&self, side: Side) -> &Plan {
        match side {
            Side::Old => &self.old,
            Side::New => &self.new,
        }
    }

    /// The finding's `updatedAt` in seconds since the Unix epoch, if it has one.
    pub fn updated_secs(&self) -> Option<u64> {
        self.new
            .finding
            .updated_at
            .and_then(|t| u64::try_from(t.unix_timestamp()).ok())
    }

    /// The day of the finding's `updatedAt` (`YYYY-MM-DD`, UTC), `unknown` without one.
    pub fn day(&self) -> String {
        match self.new.finding.updated_at {
            Some(t) => {
                let t = t.to_offset(time::UtcOffset::UTC);
                format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
            }
            None => "unknown".to_owned(),
        }
    }

    /// The change record of this finding, when its planned actions differ.
    pub fn change_record(&self) -> Option<ChangeRecord<'_>> {
        self.is_changed().then(|| {
            let finding = &self.new.finding;
            ChangeRecord {
                record: "change",
                finding_id: &finding.id,
                finding_type: finding.finding_type.as_str(),
                account_id: finding.account_id.as_str(),
                region: finding.region.as_str(),
                severity: finding.severity.value(),
                updated_at: finding.updated_at.and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                }),
                added: &self.added,
                removed: &self.removed,
            }
        })
    }
}

/// One finding whose planned actions differ, as `remedy replay` prints it (one JSON line).
#[derive(Debug, Clone, Serialize)]
pub struct ChangeRecord<'a> {
    /// Always `change`.
    pub record: &'static str,
    /// The finding's id.
    pub finding_id: &'a str,
    /// The finding's type.
    pub finding_type: &'a str,
    /// The finding's account.
    pub account_id: &'a str,
    /// The finding's region.
    pub region: &'a str,
    /// The finding's severity.
    pub severity: f64,
    /// When GuardDuty last updated the finding (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// What the candidate set adds: each action with the policies that chose it and why.
    pub added: &'a [PlannedAction],
    /// What the candidate set no longer does.
    pub removed: &'a [PlannedAction],
}

/// The actions of `these` that `those` lacks.
fn only_in(these: &[PlannedAction], those: &[PlannedAction]) -> Vec<PlannedAction> {
    these
        .iter()
        .filter(|a| !those.iter().any(|b| same_action(a, b)))
        .cloned()
        .collect()
}

/// The same action: kind, target and parameters.
fn same_action(a: &PlannedAction, b: &PlannedAction) -> bool {
    let (a, b) = (&a.action, &b.action);
    a.kind() == b.kind() && a.target() == b.target() && a.params() == b.params()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, body: &str) -> PolicySet {
        let source = format!(
            "const DESCRIPTION = \"t\";\nconst APPLIES_TO = \"*\";\nfn decide(finding) {{ {body} }}\n"
        );
        PolicySet::from_sources([(name.to_owned(), source)]).unwrap()
    }

    fn finding() -> Finding {
        Finding::from_json_str(include_str!("../examples/findings/02-recon-iamuser.json")).unwrap()
    }

    #[test]
    fn same_actions_from_other_policies_are_no_change() {
        let old = set("a", "notify(\"security\", \"x\")");
        let new = set("b", "notify(\"security\", \"x\")");
        let c = Replay::new(old, new).compare(&finding());
        assert!(!c.is_changed(), "{c:?}");
        assert!(c.change_record().is_none());
    }

    #[test]
    fn a_changed_parameter_is_one_added_and_one_removed() {
        let old = set("a", "notify(\"security\", \"x\")");
        let new = set(
            "a",
            "[notify(\"security\", \"y\"), notify(\"security\", \"x\")]",
        );
        let c = Replay::new(old, new).compare(&finding());
        assert_eq!(c.added.len(), 1);
        assert!(c.removed.is_empty());
        let json = serde_json::to_value(c.change_record().unwrap()).unwrap();
        assert_eq!(json["record"], "change");
        assert_eq!(json["added"][0]["params"]["message"], "y");
        assert_eq!(json["added"][0]["sources"][0]["policy"], "a");
        assert!(c.day().len() == 10 || c.day() == "unknown", "{}", c.day());
    }
}
