//! Load-time checks of how a policy uses the finding: `finding.user_nme` is an error when the
//! policy loads, with a suggestion, instead of a runtime error on the first finding that reaches it.

use std::sync::Arc;

use rhai::{AST, ASTNode, Expr};

use super::error::{DiagnosticKind, PolicyDiagnostic};
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
    let mut found: Vec<(String, usize, usize)> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Expr(Expr::Dot(dot, ..))) = path.last()
            && matches!(&dot.lhs, Expr::Variable(v, ..) if v.1.as_str() == FINDING)
            && let Some((name, line, column)) = first_property(&dot.rhs)
            && !PROPERTIES.iter().any(|(known, ..)| *known == name)
        {
            found.push((name, line, column));
        }
        true
    });
    for (name, line, column) in found {
        let mut d = PolicyDiagnostic::new(
            DiagnosticKind::UnknownProperty,
            file,
            format!("the finding has no property `{name}`"),
        )
        .at(source, line, column);
        d = match closest(&name) {
            Some(known) => d.with_help(format!(
                "did you mean `{known}`? The author's guide (policies/README.md) lists every property"
            )),
            None => d.with_help("the author's guide (policies/README.md) lists every property"),
        };
        problems.push(d);
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
fn closest(name: &str) -> Option<&'static str> {
    PROPERTIES
        .iter()
        .map(|(known, ..)| (*known, edit_distance(name, known)))
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
