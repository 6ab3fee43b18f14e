//! Literal JSONPaths (`finding.get("$.resource.accessKeyDetails.userName")`) that name no field of
//! a GuardDuty finding: a typo returns nothing at run time, so it is a warning at load.

use std::sync::Arc;

use super::super::catalogue::FIELDS;
use super::super::error::{DiagnosticKind, PolicyDiagnostic};
use super::super::metadata::literal_paths;

/// A warning for every literal path with a name no GuardDuty finding has.
pub(crate) fn check(file: &str, source: &Arc<str>, warnings: &mut Vec<PolicyDiagnostic>) {
    for (path, line, column) in literal_paths(source) {
        for name in names(&path) {
            if FIELDS.contains(&name.as_str()) {
                continue;
            }
            let mut d = PolicyDiagnostic::new(
                DiagnosticKind::UnknownField,
                file,
                format!("`{path}`: no GuardDuty finding has a field `{name}`"),
            )
            .at(source, line, column);
            d = match super::closest(&name, FIELDS.iter().copied()) {
                Some(known) => d.with_help(format!(
                    "did you mean `{known}`? `remedy parse --canonical FILE` prints the JSON `get` reads"
                )),
                None => d.with_help("`remedy parse --canonical FILE` prints the JSON `get` reads"),
            };
            warnings.push(d);
        }
    }
}

/// The field names a path spells out: `.name` and `['name']` segments (not indices, wildcards or
/// filter expressions).
fn names(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes: Vec<char> = path.chars().collect();
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        match c {
            '.' => {
                let start = i + 1;
                let mut end = start;
                while bytes
                    .get(end)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                {
                    end += 1;
                }
                if end > start {
                    out.push(bytes.get(start..end).unwrap_or_default().iter().collect());
                }
                i = end.max(i + 1);
            }
            '[' => {
                let quote = bytes.get(i + 1).copied();
                if matches!(quote, Some('\'') | Some('"')) {
                    let start = i + 2;
                    let mut end = start;
                    while bytes.get(end).is_some_and(|c| Some(*c) != quote) {
                        end += 1;
                    }
                    out.push(bytes.get(start..end).unwrap_or_default().iter().collect());
                    i = end + 1;
                } else {
                    // Indices, wildcards, slices and filters: skip to the closing bracket.
                    let mut depth = 0usize;
                    while let Some(&c) = bytes.get(i) {
                        i += 1;
                        match c {
                            '[' => depth += 1,
                            ']' => {
                                depth = depth.saturating_sub(1);
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => i += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_paths() {
        assert_eq!(
            names("$.resource.instanceDetails.platform"),
            ["resource", "instanceDetails", "platform"]
        );
        assert_eq!(
            names("$..remoteIpDetails.ipAddressV4"),
            ["remoteIpDetails", "ipAddressV4"]
        );
        assert_eq!(names("$['service']['count']"), ["service", "count"]);
        assert_eq!(
            names("$.service.evidence.threatIntelligenceDetails[0].threatListName"),
            [
                "service",
                "evidence",
                "threatIntelligenceDetails",
                "threatListName"
            ]
        );
        assert_eq!(
            names("$.resource.tags[?(@.key == 'env')].value"),
            ["resource", "tags", "value"]
        );
    }
}
