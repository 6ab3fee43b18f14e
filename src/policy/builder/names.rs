//! What a policy set's builder derives from the compiled scripts and the engine: the action kinds
//! the policies choose, the functions the engine knows (for the lint), short version hashes.

use std::sync::OnceLock;

use super::super::sandbox::HelperModules;
use super::super::{Policy, lint};

/// The action kinds the policies (and their helper modules) can choose: the constructors they call.
pub(super) fn used_kinds(
    policies: &[Policy],
    helpers: &HelperModules,
    engine: &rhai::Engine,
    constructors: &[lint::calls::Constructor],
) -> std::collections::BTreeSet<crate::plan::ActionKind> {
    let mut names = std::collections::BTreeSet::new();
    let mut collect = |ast: &rhai::AST| {
        ast.walk(&mut |path: &[rhai::ASTNode]| {
            if let Some(rhai::ASTNode::Expr(rhai::Expr::FnCall(call, _)))
            | Some(rhai::ASTNode::Stmt(rhai::Stmt::FnCall(call, _))) = path.last()
            {
                names.insert(call.name.to_string());
            }
            true
        });
    };
    for policy in policies {
        collect(&policy.ast);
    }
    for (_, _, source) in helpers.sources() {
        if let Ok(ast) = engine.compile(source) {
            collect(&ast);
        }
    }
    constructors
        .iter()
        .filter(|c| names.contains(&c.name))
        .filter_map(|c| crate::plan::ActionKind::new(c.name.as_str()).ok())
        .collect()
}

/// The first 16 hex digits of a hash: enough to tell versions apart in plans and logs.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The names of the functions `engine` can call, sorted, each once (the lint's list of known
/// functions). rhai's standard packages are the same in every engine [`crate::policy::sandbox::engine`] makes
/// (it starts from `Engine::new()`), so their thousands of signatures are listed once per process;
/// what the set registers is listed from `engine`.
pub(super) fn function_names(engine: &rhai::Engine) -> Vec<String> {
    fn names(signatures: Vec<String>) -> impl Iterator<Item = String> {
        signatures.into_iter().filter_map(|s| {
            s.split('(')
                .next()
                .map(|s| s.trim_start_matches("fn ").trim().to_owned())
        })
    }
    static STANDARD: OnceLock<Vec<String>> = OnceLock::new();
    let standard =
        STANDARD.get_or_init(|| names(rhai::Engine::new().gen_fn_signatures(true)).collect());
    let mut all: Vec<String> = standard
        .iter()
        .cloned()
        .chain(names(engine.gen_fn_signatures(false)))
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}
