//! `finding.user_nme` is an error when the policy loads, with a suggestion; so is
//! `finding.context.principal.is_admn` (the fixed-key maps of `finding.context`).

use std::sync::Arc;

use rhai::{AST, ASTNode, Expr};

use super::super::error::{DiagnosticKind, PolicyDiagnostic};
use super::super::script_context::known_keys;
use super::super::script_finding::{PROPERTIES, SOURCE_PROPERTIES};
use crate::finding::FindingSource;

/// An unknown property: what is unknown, the property, line, column, the known properties at
/// that level.
type Unknown = (String, String, usize, usize, Vec<&'static str>);

/// The variable name policies give the finding (`fn decide(finding)`); property reads on a variable
/// of this name are checked against the finding's properties.
const FINDING: &str = "finding";

/// The sources that fill `property`, when only some do.
fn filled_by(property: &str) -> Option<&'static [FindingSource]> {
    SOURCE_PROPERTIES
        .iter()
        .find(|(name, _)| *name == property)
        .map(|(_, sources)| *sources)
}

/// `guardduty, securityhub`.
fn names(sources: &[FindingSource]) -> String {
    let names: Vec<&str> = sources.iter().map(|s| s.as_str()).collect();
    names.join(", ")
}

/// Pushes an error for every read of an unknown property on a variable named `finding`, and a
/// warning for every read of a property no source the policy sees (`sources`) fills.
pub(crate) fn unknown_properties(
    file: &str,
    source: &Arc<str>,
    ast: &AST,
    sources: &[FindingSource],
    problems: &mut Vec<PolicyDiagnostic>,
    warnings: &mut Vec<PolicyDiagnostic>,
) {
    let mut found: Vec<Unknown> = Vec::new();
    let mut unfilled: Vec<(String, &'static [FindingSource], usize, usize)> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Expr(Expr::Dot(dot, ..))) = path.last()
            && matches!(&dot.lhs, Expr::Variable(v, ..) if v.1.as_str() == FINDING)
        {
            let chain = property_chain(&dot.rhs);
            let known = || PROPERTIES.iter().map(|(known, ..)| *known).collect();
            match chain.split_first() {
                Some(((name, line, column), _))
                    if !PROPERTIES.iter().any(|(k, ..)| *k == name.as_str()) =>
                {
                    let what = format!("the finding has no property `{name}`");
                    found.push((what, name.clone(), *line, *column, known()));
                }
                Some(((name, ..), rest)) if name == "context" => {
                    found.extend(unknown_in_context(rest));
                }
                Some(((name, line, column), _)) => {
                    if let Some(by) = filled_by(name)
                        && !by.iter().any(|s| sources.contains(s))
                    {
                        unfilled.push((name.clone(), by, *line, *column));
                    }
                }
                _ => {}
            }
        }
        true
    });
    for (name, by, line, column) in unfilled {
        warnings.push(
            PolicyDiagnostic::new(
                DiagnosticKind::UnfilledProperty,
                file,
                format!(
                    "`finding.{name}` is filled for {} findings only, and this policy sees {} \
                     findings",
                    names(by),
                    names(sources)
                ),
            )
            .at(source, line, column)
            .with_help(format!(
                "declare `const SOURCES = [{}];` (the sources it reads) or drop the read",
                by.iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
    }
    for (what, name, line, column, known) in found {
        let mut d = PolicyDiagnostic::new(DiagnosticKind::UnknownProperty, file, what)
            .at(source, line, column);
        d = match super::closest(&name, known.iter().copied()) {
            Some(known) => match filled_by(known) {
                Some(by) => d.with_help(format!(
                    "did you mean `{known}` (filled for {} findings)? The author's guide \
                     (policies/README.md) lists every property of every source",
                    names(by)
                )),
                None => d.with_help(format!(
                    "did you mean `{known}`? The author's guide (policies/README.md) lists every property"
                )),
            },
            None => d.with_help("the author's guide (policies/README.md) lists every property"),
        };
        problems.push(d);
    }
}

/// The first unknown property in a chain read on `finding.context` (`principal.is_admn`); maps
/// with arbitrary keys (`tags`, `by_name`) end the check.
fn unknown_in_context(chain: &[(String, usize, usize)]) -> Option<Unknown> {
    let mut path = String::new();
    for (name, line, column) in chain {
        let keys = known_keys(&path)?;
        if !keys.contains(&name.as_str()) {
            let full = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            let what = format!("`finding.context` has no property `{full}`");
            return Some((what, name.clone(), *line, *column, keys));
        }
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(name);
    }
    None
}

/// The properties read one after another on the right of `finding.`: `x.y.z` gives `x`, `y`,
/// `z`; an index or a method call ends the chain (`x.y[i]` gives `x`, `y`).
fn property_chain(rhs: &Expr) -> Vec<(String, usize, usize)> {
    let mut chain = Vec::new();
    let mut current = rhs;
    loop {
        match current {
            Expr::Dot(inner, ..) if matches!(inner.lhs, Expr::Property(..)) => {
                chain.extend(first_property(&inner.lhs));
                current = &inner.rhs;
            }
            other => {
                chain.extend(first_property(other));
                return chain;
            }
        }
    }
}

/// The property read first on the right of `finding.`: `finding.x`, `finding.x.y`, `finding.x[i]`.
fn first_property(rhs: &Expr) -> Option<(String, usize, usize)> {
    match rhs {
        Expr::Property(p, pos) => Some((p.2.to_string(), pos.line()?, pos.position()?)),
        Expr::Dot(inner, ..) | Expr::Index(inner, ..) => first_property(&inner.lhs),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::closest;
    use super::*;

    #[test]
    fn source_properties_are_properties_whose_meaning_names_their_sources() {
        for (name, sources) in SOURCE_PROPERTIES {
            let meaning = PROPERTIES
                .iter()
                .find(|(n, ..)| n == name)
                .map(|(.., m)| *m)
                .unwrap_or_else(|| panic!("{name} is no property"));
            let head = meaning.split([':', '(']).next().unwrap_or_default();
            for source in *sources {
                assert!(head.contains(source.as_str()), "{name}: {meaning}");
            }
        }
    }

    #[test]
    fn typos_have_suggestions() {
        let known = || PROPERTIES.iter().map(|(k, ..)| *k);
        assert_eq!(closest("user_nme", known()), Some("user_name"));
        assert_eq!(closest("acces_key_id", known()), Some("access_key_id"));
    }
}
