//! Load-time checks of how a policy uses the finding: `finding.user_nme` is an error when the
//! policy loads, with a suggestion, instead of a runtime error on the first finding that reaches it.

use std::sync::Arc;

use rhai::{AST, ASTNode, Expr};

use super::error::{DiagnosticKind, PolicyDiagnostic};
use super::script_context::known_keys;
use super::script_finding::PROPERTIES;

/// The variable name policies give the finding (`fn decide(finding)`); property reads on a variable
/// of this name are checked against the finding's properties.
const FINDING: &str = "finding";

/// Pushes a diagnostic for every read of an unknown property on a variable named `finding`.
pub(crate) fn unknown_properties(
    file: &str,
    source: &Arc<str>,
    ast: &AST,
    problems: &mut Vec<PolicyDiagnostic>,
) {
    // (what is unknown, the property, line, column, the known properties at that level)
    let mut found: Vec<(String, String, usize, usize, Vec<&'static str>)> = Vec::new();
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
                _ => {}
            }
        }
        true
    });
    for (what, name, line, column, known) in found {
        let mut d = PolicyDiagnostic::new(DiagnosticKind::UnknownProperty, file, what)
            .at(source, line, column);
        d = match closest_in(&name, &known) {
            Some(known) => d.with_help(format!(
                "did you mean `{known}`? The author's guide (policies/README.md) lists every property"
            )),
            None => d.with_help("the author's guide (policies/README.md) lists every property"),
        };
        problems.push(d);
    }
}

/// The first unknown property in a chain read on `finding.context` (`principal.is_admn`); maps
/// with arbitrary keys (`tags`, `by_name`) end the check.
fn unknown_in_context(
    chain: &[(String, usize, usize)],
) -> Option<(String, String, usize, usize, Vec<&'static str>)> {
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

/// The known property closest to `name` by edit distance, when close enough to be a typo.
#[cfg(test)]
fn closest(name: &str) -> Option<&'static str> {
    let known: Vec<&'static str> = PROPERTIES.iter().map(|(known, ..)| *known).collect();
    closest_in(name, &known)
}

/// The name in `known` closest to `name` by edit distance, when close enough to be a typo.
fn closest_in(name: &str, known: &[&'static str]) -> Option<&'static str> {
    known
        .iter()
        .map(|known| (*known, edit_distance(name, known)))
        .filter(|(known, d)| *d <= 2.max(known.len() / 4))
        .min_by_key(|(_, d)| *d)
        .map(|(known, _)| known)
}

fn edit_distance(a: &str, b: &str) -> usize {
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
        assert_eq!(closest("user_nme"), Some("user_name"));
        assert_eq!(closest("acces_key_id"), Some("access_key_id"));
        assert_eq!(closest("zzzzzzzzzz"), None);
    }
}
