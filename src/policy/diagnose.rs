//! Script errors as diagnostics and failures: what went wrong, in which file, at which line and
//! column, in words a policy author can act on.

use std::sync::Arc;

use rhai::EvalAltResult;

use super::error::{DiagnosticKind, PolicyDiagnostic};
use super::limits::Limits;
use super::metadata;
use super::sandbox::{DeadlinePassed, HelperModules, ScriptError};
use crate::plan::FailureKind;

/// Turns a compile error into a diagnostic, in the helper module's file when that is where it is.
pub(super) fn compile_problem(
    file: &str,
    source: &Arc<str>,
    err: EvalAltResult,
    helpers: &HelperModules,
    limits: &Limits,
) -> PolicyDiagnostic {
    match err {
        EvalAltResult::ErrorParsing(kind, pos) => {
            let message = lowercase_first(&kind.to_string());
            let help = match &kind {
                rhai::ParseErrorType::VariableUndefined(name) => {
                    constant_help(name, source, helpers)
                }
                _ => None,
            };
            let mut d = PolicyDiagnostic::new(DiagnosticKind::Syntax, file, message);
            let help = help.or_else(|| syntax_help(d.message()));
            if let (Some(line), Some(column)) = (pos.line(), pos.position()) {
                d = d.at(source, line, column);
            } else {
                d = d.in_source(source);
            }
            match help {
                Some(help) => d.with_help(help),
                None => d,
            }
        }
        EvalAltResult::ErrorInModule(module_file, inner, _) => {
            if let Some((_, _, module_source)) = helpers
                .sources()
                .into_iter()
                .find(|(_, f, _)| *f == module_file)
            {
                let module_source: Arc<str> = Arc::from(module_source);
                let d = compile_problem(&module_file, &module_source, *inner, helpers, limits);
                let message = format!("{} (imported by `{file}`)", d.message());
                let mut out = PolicyDiagnostic::new(d.kind(), &module_file, message);
                if let (Some(line), Some(column)) = (d.line(), d.column()) {
                    out = out.at(&module_source, line, column);
                }
                match d.help() {
                    Some(help) => out.with_help(help),
                    None => out,
                }
            } else {
                import_problem(file, source, &module_file, &inner.to_string())
            }
        }
        EvalAltResult::ErrorModuleNotFound(path, _) => import_problem(
            file,
            source,
            &path,
            &format!("no helper module `{path}` in the policy directory"),
        ),
        EvalAltResult::ErrorRuntime(value, pos) if value.is::<ScriptError>() => {
            let message = value
                .read_lock::<ScriptError>()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            let path = message.split('`').nth(1).unwrap_or_default().to_owned();
            if pos.is_none() && !path.is_empty() {
                import_problem(file, source, &path, &message)
            } else {
                let d = PolicyDiagnostic::new(DiagnosticKind::Import, file, message);
                match (pos.line(), pos.position()) {
                    (Some(line), Some(column)) => d.at(source, line, column),
                    _ => d.in_source(source),
                }
            }
        }
        other => {
            let (_, message, pos, _) = describe(other, limits);
            let d = PolicyDiagnostic::new(DiagnosticKind::Syntax, file, message);
            match (pos.line(), pos.position()) {
                (Some(line), Some(column)) => d.at(source, line, column),
                _ => d.in_source(source),
            }
        }
    }
}

fn import_problem(file: &str, source: &Arc<str>, path: &str, message: &str) -> PolicyDiagnostic {
    let d = PolicyDiagnostic::new(DiagnosticKind::Import, file, lowercase_first(message)).with_help(
        "a policy can import only helper modules of its own directory: `_name.rhai` files or files in subdirectories",
    );
    match metadata::string_position(source, path) {
        Some((line, column)) => d.at(source, line, column),
        None => d.in_source(source),
    }
}

/// The hint for a variable `name` that a function of `source` reads but cannot see: a constant
/// of the file's own top level (functions see it as `global::NAME`, in a policy and in a helper
/// module alike), or a constant of a helper module the file imports (`alias::NAME`).
fn constant_help(name: &str, source: &str, helpers: &HelperModules) -> Option<String> {
    if metadata::const_position(source, name).is_some() {
        return Some(format!(
            "`{name}` is a constant of this file's top level: a function sees the top level \
             only through `global::`, so write `global::{name}`"
        ));
    }
    let modules = helpers.sources();
    metadata::imports(source)
        .into_iter()
        .find_map(|(path, alias)| {
            let key = HelperModules::key(&path)?;
            let (_, _, module) = modules.iter().find(|(k, _, _)| *k == key)?;
            if metadata::exported_const_position(module, name).is_some() {
                Some(format!(
                    "`{name}` is a constant of the helper module `{path}`, imported as \
                     `{alias}`: write `{alias}::{name}`"
                ))
            } else if metadata::const_position(module, name).is_some() {
                Some(format!(
                    "`{name}` is a constant of the helper module `{path}`, imported as \
                     `{alias}`: write `{alias}::{name}`, and declare it `export const {name} = \
                     …;` there (a module's constants are private unless exported)"
                ))
            } else {
                None
            }
        })
}

fn syntax_help(message: &str) -> Option<String> {
    if message.contains("eval") {
        Some("`eval` is disabled in policies".to_owned())
    } else if message.contains("complex") || message.contains("depth") {
        Some("expressions are limited in depth; split the expression or use variables".to_owned())
    } else if message.contains("variable not found") || message.contains("undefined") {
        Some(
            "variables must be declared with `let` or `const` before use (strict variables)"
                .to_owned(),
        )
    } else {
        None
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What went wrong in a script run, innermost error first: its kind, a message, its position and,
/// when it happened in a helper module, that module's file.
pub(super) fn describe(
    err: EvalAltResult,
    limits: &Limits,
) -> (FailureKind, String, rhai::Position, Option<String>) {
    let mut err = err;
    let mut file = None;
    loop {
        match err {
            EvalAltResult::ErrorInFunctionCall(_, source, inner, _) => {
                if !source.is_empty() {
                    file = Some(source);
                }
                err = *inner;
            }
            EvalAltResult::ErrorInModule(module, inner, _) => {
                file = Some(module);
                err = *inner;
            }
            other => {
                err = other;
                break;
            }
        }
    }
    let pos = err.position();
    let (kind, message) = match err {
        EvalAltResult::ErrorTerminated(token, _) if token.is::<DeadlinePassed>() => (
            FailureKind::Timeout,
            format!(
                "the policy ran past its deadline of {} ms",
                limits.deadline.as_millis()
            ),
        ),
        EvalAltResult::ErrorTooManyOperations(_) => (
            FailureKind::Limit,
            format!(
                "the policy ran more than {} operations",
                limits.max_operations
            ),
        ),
        EvalAltResult::ErrorStackOverflow(_) => (
            FailureKind::Limit,
            format!(
                "function calls nested deeper than {} levels",
                limits.max_call_levels
            ),
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => (
            FailureKind::Limit,
            format!("{} larger than the sandbox allows", lowercase_first(&what)),
        ),
        EvalAltResult::ErrorTooManyVariables(_) => (
            FailureKind::Limit,
            format!("more than {} variables", limits.max_variables),
        ),
        EvalAltResult::ErrorTooManyModules(_) => (
            FailureKind::Limit,
            format!("more than {} imported modules", limits.max_modules),
        ),
        EvalAltResult::ErrorModuleNotFound(path, _) => (
            FailureKind::Forbidden,
            format!("cannot import `{path}`: no such helper module in the policy directory"),
        ),
        EvalAltResult::ErrorRuntime(value, _) if value.is::<ScriptError>() => {
            match value.read_lock::<ScriptError>() {
                Some(e) => (e.kind, e.message.clone()),
                None => (FailureKind::Runtime, "runtime error".to_owned()),
            }
        }
        EvalAltResult::ErrorRuntime(value, _) => {
            (FailureKind::Runtime, format!("the policy threw `{value}`"))
        }
        EvalAltResult::ErrorVariableNotFound(name, _) if name.contains("::") => (
            FailureKind::Runtime,
            format!(
                "variable not found: `{name}`: a helper module's constant is visible to the \
                 policies that import it only when the module declares it `export const`"
            ),
        ),
        other => (FailureKind::Runtime, rhai_message(other)),
    };
    (kind, message, pos, file)
}

/// A rhai error's message without its position, first letter in lower case.
fn rhai_message(mut err: EvalAltResult) -> String {
    err.clear_position();
    lowercase_first(&err.to_string())
}
