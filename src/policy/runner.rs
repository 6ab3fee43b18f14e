//! Calling a policy's `decide`, keeping rhai's function-resolution caches between calls when that
//! is safe.
//!
//! `Engine::call_fn` starts every call with empty caches, so each property getter, action
//! constructor and operator a policy uses is looked up again through every module on every call (a
//! first lookup is not even cached: rhai caches a function only when it is resolved a second time).
//! For a policy whose top level is empty once its metadata is dropped (see
//! [`super::metadata::runtime_ast`]) and that imports nothing, the resolution of a call depends only
//! on the engine and the policy's own functions, both fixed once the set is built; such a policy
//! calls `decide` through a one-statement script with caches taken from a small per-policy pool.
//! Every other policy (top-level statements, imports: module functions can enter the caches) runs
//! through `call_fn` as before.

use std::sync::Mutex;

use rhai::{AST, ASTNode, Caches, Dynamic, Engine, ImmutableString, Scope, Stmt};

use super::ENTRY_POINT;
use super::script_finding::ScriptFinding;
use crate::finding::Finding;

/// The variable the call script passes to `decide` (`decide` cannot see it: functions do not see
/// their caller's variables).
const FINDING_VAR: &str = "__remedy_finding";

/// How many warm caches a policy keeps (one per thread evaluating it at the same time).
const POOL_SIZE: usize = 8;

/// The call script of a policy set: `decide(__remedy_finding)`, compiled once.
pub(crate) fn call_script(engine: &Engine) -> Option<AST> {
    let mut scope = Scope::new();
    scope.push(FINDING_VAR, ());
    engine
        .compile_with_scope(&scope, format!("{ENTRY_POINT}({FINDING_VAR})"))
        .ok()
}

/// How one policy's `decide` is called.
pub(crate) struct Runner {
    /// Whether `decide` can be called with reused caches (no top level, no import).
    warm: bool,
    /// The policy's file, as rhai reports the source of errors and `debug` output.
    source: ImmutableString,
    /// Caches (and an empty scope, to keep its allocation) left by earlier calls.
    pool: Mutex<Vec<(Caches, Scope<'static>)>>,
}

impl Runner {
    /// The runner of the policy compiled into `ast` (the runtime AST) from `file`.
    pub(crate) fn new(ast: &AST, file: &str) -> Self {
        let mut imports = false;
        ast.walk(&mut |path: &[ASTNode]| {
            imports |= matches!(path.last(), Some(ASTNode::Stmt(Stmt::Import(..))));
            !imports
        });
        Self {
            warm: ast.statements().is_empty() && !imports,
            source: file.into(),
            pool: Mutex::new(Vec::new()),
        }
    }

    /// Calls `decide(finding)` of the policy compiled into `ast`; `call` is the set's call script.
    pub(crate) fn call(
        &self,
        engine: &Engine,
        call: Option<&AST>,
        ast: &AST,
        finding: &Finding,
    ) -> Result<Dynamic, Box<rhai::EvalAltResult>> {
        let Some(call) = call.filter(|_| self.warm) else {
            let options = rhai::CallFnOptions::new().eval_ast(true).rewind_scope(true);
            return engine.call_fn_with_options::<Dynamic>(
                options,
                &mut Scope::new(),
                ast,
                ENTRY_POINT,
                (ScriptFinding(finding.clone()),),
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
        scope.push(FINDING_VAR, ScriptFinding(finding.clone()));
        #[expect(
            deprecated,
            reason = "the only rhai API that runs statements with caller-owned caches"
        )]
        let result =
            engine.eval_statements_raw(&mut global, &mut caches, &mut scope, call.statements());
        scope.clear();
        if let Ok(mut pool) = self.pool.lock()
            && pool.len() < POOL_SIZE
        {
            pool.push((caches, scope));
        }
        result
    }
}
