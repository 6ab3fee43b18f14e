//! Calling a policy's `decide`, keeping rhai's function-resolution caches between calls when that
//! is safe.
//!
//! `Engine::call_fn` starts every call with empty caches, so each property getter, action
//! constructor and operator a policy uses is looked up again through every module on every call (a
//! first lookup is not even cached: rhai caches a function only when it is resolved a second time).
//! For a policy whose top level is empty once its metadata is dropped (see
//! [`super::metadata::runtime_ast`]) and that imports nothing, the resolution of a call depends only
//! on the engine and the policy's own functions, both fixed once the set is built; such a policy
//! runs the body of `decide` in place: its statements, with the finding bound to `decide`'s
//! parameter as the only variable, under a fresh global state set up as inside `decide` (same call
//! level as through `call_fn`, block level 1), with caches taken from a small per-policy pool. That is what rhai
//! does when it calls `decide`, without resolving the call, cloning the finding into a new argument
//! and building a scope for it. Every other policy (top-level statements, imports: module functions
//! can enter the caches) runs through `call_fn` as before.

use std::sync::Mutex;

use rhai::{AST, ASTNode, Caches, Dynamic, Engine, ImmutableString, Module, Scope, Stmt};

use super::ENTRY_POINT;
use super::script_finding::ScriptFinding;
use crate::finding::Finding;

/// How `decide` is called.
///
/// Both give the same decisions, errors and limits (the bundled decision tests and the sandbox
/// tests run through both); [`CallMode::InPlace`] is faster (see `benches/README.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallMode {
    /// Runs the body of `decide` in place with warm function-resolution caches, for policies whose
    /// top level is only metadata and that import nothing; others through `call_fn`.
    #[default]
    InPlace,
    /// Always through rhai's `call_fn`.
    CallFn,
}

/// How many warm caches a policy keeps (one per thread evaluating it at the same time).
const POOL_SIZE: usize = 8;

/// `decide(finding)`, ready to run in place.
struct Body {
    /// The name of `decide`'s parameter.
    param: ImmutableString,
    /// The statements of `decide`.
    statements: Vec<Stmt>,
}

/// How one policy's `decide` is called.
pub(crate) struct Runner {
    /// `decide`'s body when it can run in place with reused caches (no top level, no import).
    warm: Option<Body>,
    /// The policy's file, as rhai reports the source of errors and `debug` output.
    source: ImmutableString,
    /// Caches, and a scope holding only `decide`'s parameter (set to `()`), left by earlier calls.
    pool: Mutex<Vec<(Caches, Scope<'static>)>>,
}

/// The body of `decide(finding)` in `ast`, if it has one with one parameter.
fn body(ast: &AST) -> Option<Body> {
    let def = ast.shared_lib().get_script_fn(ENTRY_POINT, 1)?;
    let param = def.params.first()?.clone();
    // Walk an AST holding only `decide`: its top-level nodes are the statements of the body.
    let mut lib = Module::new();
    lib.set_script_fn(def.clone());
    let only = AST::new(Vec::<Stmt>::new(), lib);
    let mut statements = Vec::new();
    only.walk(&mut |path: &[ASTNode]| {
        if let [ASTNode::Stmt(stmt)] = path {
            statements.push((*stmt).clone());
        }
        true
    });
    Some(Body { param, statements })
}

impl Runner {
    /// The runner of the policy compiled into `ast` (the runtime AST) from `file`.
    pub(crate) fn new(ast: &AST, file: &str, mode: CallMode) -> Self {
        let mut imports = false;
        ast.walk(&mut |path: &[ASTNode]| {
            imports |= matches!(path.last(), Some(ASTNode::Stmt(Stmt::Import(..))));
            !imports
        });
        let warm = mode == CallMode::InPlace && ast.statements().is_empty() && !imports;
        Self {
            warm: warm.then(|| body(ast)).flatten(),
            source: file.into(),
            pool: Mutex::new(Vec::new()),
        }
    }

    /// Calls `decide(finding)` of the policy compiled into `ast`.
    pub(crate) fn call(
        &self,
        engine: &Engine,
        ast: &AST,
        finding: &Finding,
    ) -> Result<Dynamic, Box<rhai::EvalAltResult>> {
        let Some(body) = &self.warm else {
            let options = rhai::CallFnOptions::new().eval_ast(true).rewind_scope(true);
            return engine.call_fn_with_options::<Dynamic>(
                options,
                &mut Scope::new(),
                ast,
                ENTRY_POINT,
                (ScriptFinding::new(finding.clone()),),
            );
        };
        let (mut caches, mut scope) = self
            .pool
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_default();
        let mut global = engine.new_global_runtime_state();
        global.lib.push(ast.shared_lib().clone());
        global.source = Some(self.source.clone());
        // As inside `decide` called by `call_fn`: call level 0 (so `max_call_levels` allows the
        // same depth; a test checks the limit on both paths), one block deep (so a `const` in the
        // body stays local instead of becoming a global constant).
        global.level = 0;
        global.scope_level = 1;
        // The pooled scope keeps the parameter's entry between calls (pushing a name allocates).
        let value = Dynamic::from(ScriptFinding::new(finding.clone()));
        let single = scope.len() == 1;
        match scope.get_mut(&body.param).filter(|_| single) {
            Some(slot) => *slot = value,
            None => {
                scope.clear();
                scope.push_dynamic(body.param.clone(), value);
            }
        }
        #[expect(
            deprecated,
            reason = "the only rhai API that runs statements with caller-owned caches"
        )]
        let result =
            engine.eval_statements_raw(&mut global, &mut caches, &mut scope, &body.statements);
        // Drop what the body declared and the finding; keep the empty entry.
        scope.rewind(1);
        if let Some(slot) = scope.get_mut(&body.param) {
            *slot = Dynamic::UNIT;
        } else {
            scope.clear();
        }
        if let Ok(mut pool) = self.pool.lock()
            && pool.len() < POOL_SIZE
        {
            pool.push((caches, scope));
        }
        result
    }
}
