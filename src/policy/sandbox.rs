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

/// How many bytes of `print` and `debug` output one policy run may write to the log.
pub(crate) const MAX_PRINT_BYTES: usize = 16 * 1024;

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// What is left of this run's print budget.
    static PRINT_LEFT: Cell<usize> = const { Cell::new(MAX_PRINT_BYTES) };
    static IMPORTING: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// The file being compiled: rhai resolves a script's imports without saying whose they are.
    static COMPILING: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f` (a compilation of `file`) with `file` as the importer of the imports it resolves, so
/// that each directory of a composed set imports its own helper modules.
pub(crate) fn compiling<R>(file: &str, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<String>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            COMPILING.with(|c| *c.borrow_mut() = previous);
        }
    }
    let _restore = Restore(COMPILING.with(|c| c.borrow_mut().replace(file.to_owned())));
    f()
}

/// Runs `f` with the wall-clock deadline of this thread's script runs set to `deadline`.
/// (`None`: a deadline too far away to represent, so none.)
pub(crate) fn with_deadline<R>(deadline: Option<Instant>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0;
            DEADLINE.with(|d| d.set(previous));
        }
    }
    let _restore = Restore(DEADLINE.with(|d| d.replace(deadline)));
    PRINT_LEFT.with(|p| p.set(MAX_PRINT_BYTES));
    f()
}

/// `text` cut to what is left of the run's print budget; `None` once it is spent (the run that
/// spends it logs that its output was cut, once).
fn printable(text: &str) -> Option<String> {
    PRINT_LEFT.with(|left| {
        let budget = left.get();
        if budget == 0 {
            return None;
        }
        if text.len() <= budget {
            left.set(budget - text.len());
            return Some(text.to_owned());
        }
        left.set(0);
        let mut end = budget;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Some(format!(
            "{}… (print output of this policy run cut at {MAX_PRINT_BYTES} bytes)",
            text.get(..end).unwrap_or_default()
        ))
    })
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
        // A missing map key reads as `()`, so `tags["env"] ?? "none"` works.
        .set_fail_on_invalid_map_property(false)
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
    engine.on_print(|text| {
        if let Some(text) = printable(text) {
            tracing::info!(target: "remedy::policy", "{}", crate::finding::inert(&text));
        }
    });
    engine.on_debug(|text, source, pos| {
        if let Some(text) = printable(text) {
            tracing::debug!(
                target: "remedy::policy",
                source = crate::finding::inert(source.unwrap_or("?")).as_ref(),
                line = pos.line(),
                "{}",
                crate::finding::inert(&text)
            );
        }
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

/// The helper modules of the policy directories: files starting with `_` and files in
/// subdirectories, keyed by their directory (its label: the prefix of its files' names, empty for
/// a set of one directory) and their path relative to it without `.rhai` (`_util`, `lib/ec2`). A
/// policy imports only the helpers of its own directory.
#[derive(Debug, Default)]
pub(crate) struct HelperModules {
    sources: HashMap<(String, String), (String, Arc<str>)>,
    /// Each directory's label, longest first (so a label that prefixes another is tried last).
    labels: Vec<String>,
    compiled: Mutex<HashMap<(String, String), Result<SharedModule, String>>>,
}

impl HelperModules {
    pub(crate) fn new(
        sources: HashMap<(String, String), (String, Arc<str>)>,
        mut labels: Vec<String>,
    ) -> Self {
        labels.sort_by_key(|l| std::cmp::Reverse(l.len()));
        Self {
            sources,
            labels,
            compiled: Mutex::new(HashMap::new()),
        }
    }

    /// Every module's key, file name and source, sorted by file name.
    pub(crate) fn sources(&self) -> Vec<(&str, &str, &str)> {
        let mut all: Vec<_> = self
            .sources
            .iter()
            .map(|((_, k), (file, src))| (file.as_str(), k.as_str(), &**src))
            .collect();
        all.sort_unstable();
        all.into_iter()
            .map(|(file, k, src)| (k, file, src))
            .collect()
    }

    /// The label of the directory a file (as named in the set) belongs to.
    fn label_of(&self, file: Option<&str>) -> String {
        let file = file.unwrap_or_default();
        self.labels
            .iter()
            .find(|l| l.is_empty() || file.starts_with(&format!("{l}/")))
            .cloned()
            .unwrap_or_default()
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
        importer: Option<&str>,
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
        let label = match importer {
            Some(file) => self.label_of(Some(file)),
            None => COMPILING.with(|c| self.label_of(c.borrow().as_deref())),
        };
        let key = (label, key);
        match self.compiled.lock().ok().and_then(|c| c.get(&key).cloned()) {
            Some(Ok(module)) => return Ok(module),
            // A module that failed once fails the same way at once (a slow one is not run again).
            Some(Err(message)) => {
                return Err(ScriptError::raise(FailureKind::Forbidden, message, pos));
            }
            None => {}
        }
        let Some((file, source)) = self.sources.get(&key) else {
            return Err(Box::new(EvalAltResult::ErrorModuleNotFound(
                path.to_owned(),
                pos,
            )));
        };
        let cyclic = IMPORTING.with(|stack| {
            let mut stack = stack.borrow_mut();
            if stack.contains(&key.1) {
                true
            } else {
                stack.push(key.1.clone());
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
                if let Some(stmt) = ast.statements().iter().find(|s| !declaration(s)) {
                    return Err(ScriptError::raise(
                        FailureKind::Forbidden,
                        format!(
                            "helper module `{file}` runs code at its top level: only `const`, \
                             `import` and `fn` belong there"
                        ),
                        stmt.position(),
                    ));
                }
                ast.set_source(file.as_str());
                Module::eval_ast_as_new(Scope::new(), &ast, engine)
            });
        IMPORTING.with(|stack| stack.borrow_mut().retain(|k| k != &key.1));
        let module = result
            .map(SharedModule::from)
            .map_err(|err| Box::new(EvalAltResult::ErrorInModule(file.clone(), err, pos)));
        if let Ok(mut compiled) = self.compiled.lock() {
            let kept = match &module {
                Ok(m) => Ok(m.clone()),
                Err(e) => Err(format!("cannot import `{path}`: {e}")),
            };
            compiled.insert(key, kept);
        }
        module
    }
}

/// Whether a top-level statement only declares (a constant, an import).
fn declaration(stmt: &rhai::Stmt) -> bool {
    match stmt {
        rhai::Stmt::Var(_, flags, _) => flags.contains(rhai::ASTFlags::CONSTANT),
        rhai::Stmt::Import(..) | rhai::Stmt::Noop(_) => true,
        _ => false,
    }
}

/// The module resolver of a policy set: helper modules from the policy directory, nothing else.
struct HelperResolver(Arc<HelperModules>);

impl rhai::ModuleResolver for HelperResolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        self.0.resolve(engine, source, path, pos)
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
