//! The sandboxed rhai engine: explicit limits, a wall-clock deadline, no `eval`, no `sleep`, no file
//! system, `print`/`debug` to tracing, and helper modules resolved only from the policy directory.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rhai::{Dynamic, Engine, EvalAltResult, Module, Position, Scope};

type SharedModule = Arc<Module>;

use super::limits::Limits;
use crate::plan::FailureKind;

/// An error a host function raises on purpose: carried inside `ErrorRuntime` so evaluation can
/// report its kind.
#[derive(Debug, Clone)]
pub(crate) struct ScriptError {
    pub(crate) kind: FailureKind,
    pub(crate) message: String,
}

impl ScriptError {
    /// Boxes the error as a rhai runtime error at `pos`.
    pub(crate) fn raise(
        kind: FailureKind,
        message: impl Into<String>,
        pos: Position,
    ) -> Box<EvalAltResult> {
        Box::new(EvalAltResult::ErrorRuntime(
            Dynamic::from(ScriptError {
                kind,
                message: message.into(),
            }),
            pos,
        ))
    }
}

/// The token `on_progress` terminates a script with when its deadline has passed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeadlinePassed;

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    static IMPORTING: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with the wall-clock deadline of this thread's script runs set to `deadline`.
pub(crate) fn with_deadline<R>(deadline: Instant, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0;
            DEADLINE.with(|d| d.set(previous));
        }
    }
    let _restore = Restore(DEADLINE.with(|d| d.replace(Some(deadline))));
    f()
}

/// How often (in operations) the progress callback looks at the clock.
const CLOCK_EVERY: u64 = 64;

/// Builds an engine with every limit set from `limits` and every escape hatch closed.
pub(crate) fn engine(limits: &Limits, helpers: Arc<HelperModules>) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits.max_operations.max(1))
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(
            limits.max_expr_depth.max(1),
            limits.max_function_expr_depth.max(1),
        )
        .set_max_string_size(limits.max_string_size.max(1))
        .set_max_array_size(limits.max_array_size.max(1))
        .set_max_map_size(limits.max_map_size.max(1))
        .set_max_variables(limits.max_variables)
        .set_max_functions(limits.max_functions)
        .set_max_modules(limits.max_modules)
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(true)
        .set_module_resolver(HelperResolver(helpers));
    // No string interner: it is state shared by every policy (and thread) of the set, behind a
    // write lock taken for every interpolated string and every string stored in a variable.
    engine.set_max_strings_interned(0);
    engine.disable_symbol("eval");
    engine.on_progress(|operations| {
        if operations % CLOCK_EVERY != 0 {
            return None;
        }
        let deadline = DEADLINE.with(Cell::get)?;
        (Instant::now() >= deadline).then(|| Dynamic::from(DeadlinePassed))
    });
    engine.on_print(|text| tracing::info!(target: "remedy::policy", "{text}"));
    engine.on_debug(|text, source, pos| {
        tracing::debug!(
            target: "remedy::policy",
            source = source.unwrap_or("?"),
            line = pos.line(),
            "{text}"
        );
    });
    let sleep_forbidden = |ctx: rhai::NativeCallContext| -> Result<(), Box<EvalAltResult>> {
        Err(ScriptError::raise(
            FailureKind::Forbidden,
            "`sleep` is not available in policies: a policy must decide at once",
            ctx.call_position(),
        ))
    };
    engine
        .register_fn("sleep", move |ctx: rhai::NativeCallContext, _: i64| {
            sleep_forbidden(ctx)
        })
        .register_fn("sleep", move |ctx: rhai::NativeCallContext, _: f64| {
            sleep_forbidden(ctx)
        })
        .register_fn("sleep", move |ctx: rhai::NativeCallContext, _: Dynamic| {
            sleep_forbidden(ctx)
        });
    engine
}

/// The helper modules of a policy directory: files starting with `_` and files in subdirectories,
/// keyed by their path relative to the directory without `.rhai` (`_util`, `lib/ec2`).
#[derive(Debug, Default)]
pub(crate) struct HelperModules {
    sources: HashMap<String, (String, Arc<str>)>,
    compiled: Mutex<HashMap<String, SharedModule>>,
}

impl HelperModules {
    pub(crate) fn new(sources: HashMap<String, (String, Arc<str>)>) -> Self {
        Self {
            sources,
            compiled: Mutex::new(HashMap::new()),
        }
    }

    /// Every module's key, file name and source, sorted by key.
    pub(crate) fn sources(&self) -> Vec<(&str, &str, &str)> {
        let mut all: Vec<_> = self
            .sources
            .iter()
            .map(|(k, (file, src))| (k.as_str(), file.as_str(), &**src))
            .collect();
        all.sort_unstable();
        all
    }

    /// Turns an import path into a module key, or `None` when it points outside the directory.
    pub(crate) fn key(path: &str) -> Option<String> {
        let path = path.strip_prefix("./").unwrap_or(path);
        let path = path.strip_suffix(".rhai").unwrap_or(path);
        let ok = !path.is_empty()
            && !path.starts_with('/')
            && !path.contains('\\')
            && !path.contains(':')
            && path
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        ok.then(|| path.to_owned())
    }

    fn resolve(
        &self,
        engine: &Engine,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        let Some(key) = Self::key(path) else {
            return Err(ScriptError::raise(
                FailureKind::Forbidden,
                format!(
                    "cannot import `{path}`: only helper modules inside the policy directory can be imported"
                ),
                pos,
            ));
        };
        if let Some(module) = self.compiled.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(module);
        }
        let Some((file, source)) = self.sources.get(&key) else {
            return Err(Box::new(EvalAltResult::ErrorModuleNotFound(
                path.to_owned(),
                pos,
            )));
        };
        let cyclic = IMPORTING.with(|stack| {
            let mut stack = stack.borrow_mut();
            if stack.contains(&key) {
                true
            } else {
                stack.push(key.clone());
                false
            }
        });
        if cyclic {
            return Err(ScriptError::raise(
                FailureKind::Forbidden,
                format!("cannot import `{path}`: helper modules import each other in a cycle"),
                pos,
            ));
        }
        let result = engine
            .compile(&**source)
            .map_err(|e| Box::new(e.into()))
            .and_then(|mut ast| {
                ast.set_source(file.as_str());
                Module::eval_ast_as_new(Scope::new(), &ast, engine)
            });
        IMPORTING.with(|stack| stack.borrow_mut().retain(|k| k != &key));
        let module: SharedModule = result
            .map_err(|err| Box::new(EvalAltResult::ErrorInModule(file.clone(), err, pos)))?
            .into();
        if let Ok(mut compiled) = self.compiled.lock() {
            compiled.insert(key, module.clone());
        }
        Ok(module)
    }
}

/// The module resolver of a policy set: helper modules from the policy directory, nothing else.
struct HelperResolver(Arc<HelperModules>);

impl rhai::ModuleResolver for HelperResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        self.0.resolve(engine, path, pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_paths_stay_inside_the_directory() {
        assert_eq!(HelperModules::key("_util").as_deref(), Some("_util"));
        assert_eq!(
            HelperModules::key("./lib/ec2.rhai").as_deref(),
            Some("lib/ec2")
        );
        assert_eq!(HelperModules::key("../secret"), None);
        assert_eq!(HelperModules::key("/etc/passwd"), None);
        assert_eq!(HelperModules::key("lib/../../x"), None);
        assert_eq!(HelperModules::key("C:\\x"), None);
        assert_eq!(HelperModules::key(""), None);
    }
}
