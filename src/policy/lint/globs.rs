//! `APPLIES_TO` globs: shell syntax is an error; a glob no known GuardDuty type matches (a typo,
//! the wrong case) is a warning with a suggestion.

use std::sync::Arc;

use super::super::catalogue::FINDING_TYPES;
use super::super::error::{DiagnosticKind, PolicyDiagnostic};
use super::super::metadata::const_position;
use crate::glob::glob_match;

/// Checks every glob of `APPLIES_TO`.
pub(crate) fn check(
    file: &str,
    source: &Arc<str>,
    globs: &[String],
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
        if FINDING_TYPES.iter().any(|t| glob_match(glob, t)) {
            continue;
        }
        let lower = glob.to_ascii_lowercase();
        let help = match FINDING_TYPES
            .iter()
            .find(|t| glob_match(&lower, &t.to_ascii_lowercase()))
        {
            Some(t) => format!("types are case-sensitive: did you mean one like `{t}`?"),
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
