//! The top level of a policy holds constants, imports and functions; nothing there runs per finding.

use std::sync::Arc;

use rhai::{AST, ASTFlags, ASTNode, Stmt};

use super::super::error::{DiagnosticKind, PolicyDiagnostic};

/// Code at the top level (a `loop`, a `let`, a call), and more imports than the sandbox allows.
pub(crate) fn check(
    file: &str,
    source: &Arc<str>,
    ast: &AST,
    max_modules: usize,
    problems: &mut Vec<PolicyDiagnostic>,
) {
    for stmt in ast.statements() {
        let allowed = match stmt {
            Stmt::Var(_, flags, _) => flags.contains(ASTFlags::CONSTANT),
            Stmt::Import(..) | Stmt::Noop(_) => true,
            _ => false,
        };
        if !allowed {
            let pos = stmt.position();
            let d = PolicyDiagnostic::new(
                DiagnosticKind::TopLevel,
                file,
                "a policy runs no code at its top level: only `const`, `import` and `fn` belong there",
            )
            .with_help("move the code into `fn decide(finding)` (a top-level `let` is `const` there)");
            problems.push(match (pos.line(), pos.position()) {
                (Some(line), Some(column)) => d.at(source, line, column),
                _ => d.in_source(source),
            });
        }
    }
    let mut imports = 0usize;
    let mut first_over = None;
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Stmt(stmt @ Stmt::Import(..))) = path.last() {
            imports += 1;
            if imports > max_modules && first_over.is_none() {
                first_over = Some(stmt.position());
            }
        }
        true
    });
    if let Some(pos) = first_over {
        let d = PolicyDiagnostic::new(
            DiagnosticKind::TopLevel,
            file,
            format!("the policy imports {imports} modules; the sandbox allows {max_modules}"),
        )
        .with_help("import each helper module once, at the top");
        problems.push(match (pos.line(), pos.position()) {
            (Some(line), Some(column)) => d.at(source, line, column),
            _ => d.in_source(source),
        });
    }
}
