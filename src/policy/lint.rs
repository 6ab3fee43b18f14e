//! Load-time checks of a policy beyond what rhai's compiler checks, so that mistakes fail (or
//! warn) when the policy loads instead of on every finding that reaches it:
//!
//! - [`properties`]: `finding.user_nme` is an error, with a did-you-mean;
//! - [`calls`]: a call of a function that does not exist (`notfy(...)`, an unregistered host
//!   kind), wrong literal arguments of action constructors, literal targets out of scope;
//! - [`globs`]: `APPLIES_TO` globs in shell syntax (`{a,b}`), or matching no known finding type;
//! - [`paths`]: literal JSONPaths naming no field of a GuardDuty finding;
//! - [`top`]: code at the top level, and more imports than the sandbox allows.

use std::sync::Arc;

use rhai::AST;

use super::error::PolicyDiagnostic;

pub(crate) mod calls;
pub(crate) mod globs;
pub(crate) mod paths;
pub(crate) mod properties;
pub(crate) mod top;

/// What a policy is checked against: the set's constructors, documents and scope settings.
pub(crate) struct Context<'a> {
    /// Every callable function's name (registered and standard), with the policy's own.
    pub(crate) functions: &'a [String],
    /// The action constructors: name, accepted argument counts, the index of the argument that
    /// names the target (for out-of-scope literals), whether destructive.
    pub(crate) constructors: &'a [calls::Constructor],
    /// The SSM documents `run_command` may run.
    pub(crate) documents: &'a [String],
    /// Whether the policy may reach beyond its finding (`REACH` declared and allowed).
    pub(crate) reach: bool,
    /// The most modules a policy may import.
    pub(crate) max_modules: usize,
}

/// Every check of one compiled policy: errors in `problems`, warnings in `warnings`.
pub(crate) fn check(
    file: &str,
    source: &Arc<str>,
    ast: &AST,
    context: &Context<'_>,
    problems: &mut Vec<PolicyDiagnostic>,
    warnings: &mut Vec<PolicyDiagnostic>,
) {
    properties::unknown_properties(file, source, ast, problems);
    calls::check(file, source, ast, context, problems);
    top::check(file, source, ast, context.max_modules, problems);
    paths::check(file, source, warnings);
}

/// The candidate closest to `name` by edit distance, when close enough to be a typo.
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|known| (known, edit_distance(name, known)))
        .filter(|(known, d)| *d <= 2.max(known.len() / 4))
        .min_by_key(|(_, d)| *d)
        .map(|(known, _)| known)
}

/// Levenshtein distance, by characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let (Some(&left), Some(&up)) = (row.get(j), row.get(j + 1)) else {
                break;
            };
            let value = (prev + usize::from(ca != *cb)).min(left + 1).min(up + 1);
            prev = up;
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = value;
            }
        }
    }
    row.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("user_nme", "user_name"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(closest("notfy", ["notify", "run_command"]), Some("notify"));
        assert_eq!(closest("zzzzzzzzzz", ["notify"]), None);
    }
}
