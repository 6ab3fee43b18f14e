//! `APPLIES_TO` globs: shell syntax is an error; a glob no known GuardDuty type matches (a typo,
//! the wrong case) is a warning with a suggestion.

use std::sync::{Arc, OnceLock};

use super::super::catalogue::FINDING_TYPES;
use super::super::error::{DiagnosticKind, PolicyDiagnostic};
use super::super::metadata::const_position;
use crate::glob::{glob_match, literal_prefix};

/// The known finding types in lower case, made once.
fn lower_types() -> &'static [String] {
    static LOWER: OnceLock<Vec<String>> = OnceLock::new();
    LOWER.get_or_init(|| {
        FINDING_TYPES
            .iter()
            .map(|t| t.to_ascii_lowercase())
            .collect()
    })
}

/// Checks every glob of `APPLIES_TO`; against GuardDuty's catalogue of types only when the policy
/// sees GuardDuty's findings alone (`guardduty_only`).
pub(crate) fn check(
    file: &str,
    source: &Arc<str>,
    globs: &[String],
    guardduty_only: bool,
    problems: &mut Vec<PolicyDiagnostic>,
    warnings: &mut Vec<PolicyDiagnostic>,
) {
    let (line, column) = const_position(source, "APPLIES_TO").unwrap_or((1, 1));
    for glob in globs {
        if glob.contains(['{', '}', '[', ']']) {
            problems.push(
                PolicyDiagnostic::new(
                    DiagnosticKind::Metadata,
                    file,
                    format!(
                        "`{glob}` uses shell syntax (`{{a,b}}`, `[abc]`), which finding-type globs \
                         do not have"
                    ),
                )
                .at(source, line, column)
                .with_help(
                    "list each type (or glob) in an array: `const APPLIES_TO = [\"Recon:IAMUser/*\", \"Recon:EC2/*\"];`; only `*` and `?` are wildcards",
                ),
            );
            continue;
        }
        if !guardduty_only {
            continue;
        }
        // A glob matches only types that start with its literal prefix (a cheap first test).
        let prefix = literal_prefix(glob);
        if FINDING_TYPES
            .iter()
            .any(|t| t.starts_with(prefix) && glob_match(glob, t))
        {
            continue;
        }
        let lower = glob.to_ascii_lowercase();
        let lower_prefix = literal_prefix(&lower);
        let help = match FINDING_TYPES
            .iter()
            .zip(lower_types())
            .find(|(_, l)| l.starts_with(lower_prefix) && glob_match(&lower, l))
        {
            Some((t, _)) => format!("types are case-sensitive: did you mean one like `{t}`?"),
            None => match super::closest(glob, FINDING_TYPES.iter().copied()) {
                Some(t) => format!("did you mean `{t}`?"),
                None => "GuardDuty's finding types look like `UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom` (AWS's finding-type reference lists them)".to_owned(),
            },
        };
        warnings.push(
            PolicyDiagnostic::new(
                DiagnosticKind::UnknownFindingType,
                file,
                format!("`{glob}` matches no known GuardDuty finding type"),
            )
            .at(source, line, column)
            .with_help(help),
        );
    }
}
