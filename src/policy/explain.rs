//! Why each policy did or did not decide on a finding: [`PolicySet::explain`], the
//! [`Explanation`]s `remedy eval --explain` and `remedy test` print.

use super::PolicySet;
use crate::finding::{Finding, FindingSource};
use crate::plan::{Plan, PolicyFailure};

/// Why one policy did or did not decide on a finding ([`PolicySet::explain`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Explanation {
    /// The policy.
    pub policy: String,
    /// Why.
    #[serde(flatten)]
    pub why: Why,
}

/// The reason of an [`Explanation`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Why {
    /// The finding's type matches none of the policy's `APPLIES_TO` globs.
    TypeNotMatched {
        /// The globs.
        globs: Vec<String>,
    },
    /// The finding's source is not one of the policy's `SOURCES`.
    SourceNotMatched {
        /// The finding's source.
        source: FindingSource,
        /// The policy's sources.
        sources: Vec<FindingSource>,
    },
    /// The finding's severity is below the policy's `MIN_SEVERITY`.
    BelowMinSeverity {
        /// The minimum.
        min: f64,
    },
    /// A fallback policy, not run because other policies chose actions.
    FallbackNotNeeded,
    /// The policy ran and chose no action.
    ReturnedNothing {
        /// The glob that matched.
        glob: String,
    },
    /// The policy ran and chose actions.
    Chose {
        /// The glob that matched.
        glob: String,
        /// How many actions of the plan it chose.
        actions: usize,
    },
    /// The policy failed (its other actions may stand).
    Failed {
        /// The failure.
        failure: PolicyFailure,
    },
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.policy;
        match &self.why {
            Why::TypeNotMatched { globs } => {
                write!(
                    f,
                    "{p}: not applied: the type matches none of `{}`",
                    globs.join("`, `")
                )
            }
            Why::SourceNotMatched { source, sources } => {
                let names: Vec<&str> = sources.iter().map(|s| s.as_str()).collect();
                write!(
                    f,
                    "{p}: not applied: the finding is from `{source}`, the policy sees `{}` (`const SOURCES`)",
                    names.join("`, `")
                )
            }
            Why::BelowMinSeverity { min } => {
                write!(
                    f,
                    "{p}: not applied: the severity is below its minimum {min}"
                )
            }
            Why::FallbackNotNeeded => {
                write!(
                    f,
                    "{p}: not run: a fallback, and other policies chose actions"
                )
            }
            Why::ReturnedNothing { glob } => {
                write!(f, "{p}: applied (type matches `{glob}`), chose no action")
            }
            Why::Chose { glob, actions } => {
                write!(
                    f,
                    "{p}: applied (type matches `{glob}`), chose {actions} action(s)"
                )
            }
            Why::Failed { failure } => {
                write!(f, "{p}: applied, failed")?;
                if let Some(line) = failure.line {
                    write!(f, " at line {line}")?;
                    if let Some(column) = failure.column {
                        write!(f, ", column {column}")?;
                    }
                }
                write!(f, ": {}", failure.message)
            }
        }
    }
}

impl PolicySet {
    /// Why each policy of the set did or did not decide on `finding`, given the `plan` the set
    /// made for it (`remedy eval --explain`). Pure; runs no script.
    pub fn explain(&self, finding: &Finding, plan: &Plan) -> Vec<Explanation> {
        let ty = finding.finding_type().as_str();
        let severity = finding.severity().value();
        self.policies
            .iter()
            .map(|p| {
                let name = p.name.to_string();
                let why = match p.applies_to.iter().find(|g| crate::glob::glob_match(g, ty)) {
                    None => Why::TypeNotMatched {
                        globs: p.applies_to.clone(),
                    },
                    Some(_) if !p.sources.contains(&finding.source()) => Why::SourceNotMatched {
                        source: finding.source(),
                        sources: p.sources.clone(),
                    },
                    Some(glob) => match p.min_severity {
                        Some(min) if severity < min => Why::BelowMinSeverity { min },
                        _ if !plan.evaluated.iter().any(|e| **e == *p.name) => {
                            Why::FallbackNotNeeded
                        }
                        _ => {
                            let failed = plan.errors.iter().find(|e| e.policy == name).cloned();
                            let actions = plan
                                .actions
                                .iter()
                                .filter(|a| a.sources.iter().any(|s| *s.policy == *p.name))
                                .count();
                            match failed {
                                Some(failure) => Why::Failed { failure },
                                None if actions == 0 => Why::ReturnedNothing { glob: glob.clone() },
                                None => Why::Chose {
                                    glob: glob.clone(),
                                    actions,
                                },
                            }
                        }
                    },
                };
                Explanation { policy: name, why }
            })
            .collect()
    }
}
