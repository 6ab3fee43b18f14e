//! Why each policy did or did not decide on a failed case's finding, in words: the lines
//! `remedy test` prints under a failure.

use crate::finding::{Finding, inert};
use crate::plan::Plan;
use crate::policy::{PolicySet, Why};

/// One line per policy that could have decided on `finding` (its type matched, or it is the
/// case's `scope`), saying why it did or did not: its `SOURCES` or `MIN_SEVERITY` left it out, it
/// chose nothing, it chose these actions, it is a fallback and did not run (and which policies
/// chose actions instead), it failed (with line and column). The policies whose `APPLIES_TO` did
/// not match share one last line.
pub(super) fn why_lines(
    set: &PolicySet,
    finding: &Finding,
    plan: &Plan,
    scope: Option<&str>,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut unmatched = Vec::new();
    let chose = |policy: &str| -> Vec<String> {
        plan.actions
            .iter()
            .filter(|a| a.sources.iter().any(|s| &*s.policy == policy))
            .map(|a| format!("{} {}", a.action.kind(), inert(&a.action.target())))
            .collect()
    };
    for e in set.explain(finding, plan) {
        let name = inert(&e.policy).into_owned();
        let line = match &e.why {
            Why::TypeNotMatched { .. } if scope != Some(e.policy.as_str()) => {
                unmatched.push(name);
                continue;
            }
            Why::Chose { glob, .. } => format!(
                "{name}: applied (type matches `{}`), chose {}",
                inert(glob),
                chose(&e.policy).join(", ")
            ),
            Why::FallbackNotNeeded => {
                let others: Vec<String> = plan
                    .actions
                    .iter()
                    .flat_map(|a| a.sources.iter().map(|s| s.policy.to_string()))
                    .fold(Vec::new(), |mut all, p| {
                        if !all.contains(&p) {
                            all.push(p);
                        }
                        all
                    });
                format!(
                    "{name}: not run: a fallback runs only when no other policy chose an action, \
                     and `{}` did",
                    others.join("`, `")
                )
            }
            Why::ReturnedNothing { glob } => format!(
                "{name}: applied (type matches `{}`), `decide` returned nothing",
                inert(glob)
            ),
            _ => inert(&e.to_string()).into_owned(),
        };
        lines.push(line);
    }
    if !unmatched.is_empty() {
        lines.push(format!(
            "not applied, the type `{}` matches none of their `APPLIES_TO`: {}",
            inert(finding.finding_type().as_str()),
            unmatched.join(", ")
        ));
    }
    lines
}
