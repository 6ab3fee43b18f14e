//! `finding.user_nme` is an error when the policy loads, with a suggestion.

use std::sync::Arc;

use rhai::{AST, ASTNode, Expr};

use super::super::error::{DiagnosticKind, PolicyDiagnostic};
use super::super::script_finding::PROPERTIES;

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
        d = match super::closest(&name, PROPERTIES.iter().map(|(known, ..)| *known)) {
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

#[cfg(test)]
mod tests {
    use super::super::closest;
    use super::*;

    #[test]
    fn typos_have_suggestions() {
        let known = || PROPERTIES.iter().map(|(k, ..)| *k);
        assert_eq!(closest("user_nme", known()), Some("user_name"));
        assert_eq!(closest("acces_key_id", known()), Some("access_key_id"));
    }
}
