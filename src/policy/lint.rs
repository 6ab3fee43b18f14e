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
use crate::finding::FindingSource;

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
    /// What `start_automation` and `start_execution` may start.
    pub(crate) runbooks: &'a crate::config::RunbooksConfig,
    /// Whether the policy may reach beyond its finding (`REACH` declared and allowed).
    pub(crate) reach: bool,
    /// The most modules a policy may import.
    pub(crate) max_modules: usize,
    /// The sources the policy sees (`const SOURCES`).
    pub(crate) sources: &'a [FindingSource],
}

impl Context<'_> {
    /// Whether the policy sees GuardDuty's findings only: JSONPaths and types are then checked
    /// against GuardDuty's catalogue (other sources' documents have fields and types of their own).
    pub(crate) fn guardduty_only(&self) -> bool {
        self.sources.iter().all(|s| *s == FindingSource::GuardDuty)
    }
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
    properties::unknown_properties(file, source, ast, context.sources, problems, warnings);
    calls::check(file, source, ast, context, problems);
    top::check(file, source, ast, context.max_modules, problems);
    if context.guardduty_only() {
        paths::check(file, source, warnings);
    }
}

/// The candidate closest to `name` by edit distance, when close enough to be a typo (at most
/// `max(2, len / 4)` edits from the candidate).
pub(crate) fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let name: Vec<char> = name.chars().collect();
    candidates
        .into_iter()
        .filter_map(|known| Some((known, edit_distance(&name, known, 2.max(known.len() / 4))?)))
        .min_by_key(|(_, d)| *d)
        .map(|(known, _)| known)
}

/// Levenshtein distance by characters, if it is at most `max`. `closest` runs it against every
/// known finding type for each unknown glob, so it stops as soon as the distance must be more
/// than `max`: by the length difference, by what the texts hold besides a common prefix and
/// suffix ([`bag_distance`]), or at a row of the table whose every cell is beyond `max`.
pub(crate) fn edit_distance(a: &[char], b: &str, max: usize) -> Option<usize> {
    // The length difference is a lower bound: most candidates stop here.
    let b_len = if b.is_ascii() {
        b.len()
    } else {
        b.chars().count()
    };
    if a.len().abs_diff(b_len) > max {
        return None;
    }
    // A common prefix and suffix cost nothing (and leave the length difference as it is).
    let prefix = a
        .iter()
        .zip(b.chars())
        .take_while(|(x, y)| **x == *y)
        .count();
    let b = b
        .char_indices()
        .nth(prefix)
        .map_or("", |(at, _)| b.get(at..).unwrap_or_default());
    let a = a.get(prefix..).unwrap_or_default();
    let suffix = a
        .iter()
        .rev()
        .zip(b.chars().rev())
        .take_while(|(x, y)| **x == *y)
        .count();
    let b = match suffix.checked_sub(1) {
        Some(n) => b
            .char_indices()
            .rev()
            .nth(n)
            .map_or(b, |(at, _)| b.get(..at).unwrap_or_default()),
        None => b,
    };
    let a = a.get(..a.len() - suffix).unwrap_or_default();
    if bag_distance(a, b) > max {
        return None;
    }
    // One row of the distance table: row[j] is the distance between b's first i characters and
    // a's first j.
    let mut row: Vec<usize> = (0..=a.len()).collect();
    for (i, cb) in b.chars().enumerate() {
        let (first, cells) = row.split_first_mut()?;
        let mut diagonal = *first;
        let mut left = i + 1;
        *first = left;
        let mut least = left;
        for (ca, cell) in a.iter().zip(cells) {
            let value = (diagonal + usize::from(*ca != cb))
                .min(left + 1)
                .min(*cell + 1);
            diagonal = *cell;
            *cell = value;
            left = value;
            least = least.min(value);
        }
        // No later row has a cell below this row's least.
        if least > max {
            return None;
        }
    }
    row.last().copied().filter(|&d| d <= max)
}

/// A lower bound of the edit distance of ASCII text: the characters one side has more of than
/// the other (each takes an edit); 0 when either side is not ASCII. It spares the table for
/// nearly every known type an unknown glob is compared with.
fn bag_distance(a: &[char], b: &str) -> usize {
    if !b.is_ascii() || !a.iter().all(char::is_ascii) {
        return 0;
    }
    let mut unmatched = [0u32; 128];
    for &c in a {
        if let Some(n) = unmatched.get_mut(c as usize) {
            *n += 1;
        }
    }
    let mut matched = 0;
    for c in b.bytes() {
        if let Some(n) = unmatched.get_mut(usize::from(c))
            && *n > 0
        {
            *n -= 1;
            matched += 1;
        }
    }
    (a.len() - matched).max(b.len() - matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(edit_distance(&chars("user_nme"), "user_name", 9), Some(1));
        assert_eq!(edit_distance(&chars(""), "abc", 9), Some(3));
        assert_eq!(edit_distance(&chars("same"), "same", 0), Some(0));
        assert_eq!(edit_distance(&chars("kitten"), "sitting", 3), Some(3));
        assert_eq!(edit_distance(&chars("kitten"), "sitting", 2), None);
        assert_eq!(edit_distance(&chars("abc"), "abcdef", 2), None);
        assert_eq!(edit_distance(&chars("flaw"), "lawn", 2), Some(2));
        // Cutting the common ends and stopping early never change a distance within the bound.
        let naive = |a: &str, b: &str| {
            let b: Vec<char> = b.chars().collect();
            let mut row: Vec<usize> = (0..=b.len()).collect();
            for (i, ca) in a.chars().enumerate() {
                let mut next = vec![i + 1];
                for (j, cb) in b.iter().enumerate() {
                    next.push(
                        (row[j] + usize::from(ca != *cb))
                            .min(row[j + 1] + 1)
                            .min(next[j] + 1),
                    );
                }
                row = next;
            }
            row[b.len()]
        };
        let words = [
            "",
            "a",
            "ab",
            "ba",
            "notify",
            "notfy",
            "Recon:EC2/Type4",
            "Recon:EC2/PortProbeUnprotectedPort",
            "Recon:EC2/PortProbeEMRUnprotectedPort",
            "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
            "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
            "é-ü",
            "éé-üü",
            "aXa",
            "aa",
        ];
        for a in words {
            for b in words {
                let full = naive(a, b);
                for max in 0..60 {
                    assert_eq!(
                        edit_distance(&chars(a), b, max),
                        Some(full).filter(|&d| d <= max),
                        "{a} {b} {max}"
                    );
                }
            }
        }
        assert_eq!(closest("notfy", ["notify", "run_command"]), Some("notify"));
        assert_eq!(closest("zzzzzzzzzz", ["notify"]), None);
    }
}
