//! The action constructors scripts call: the built-ins ([`builtin`]) and the kinds a host
//! registers ([`HostActionKind`]).

use std::any::TypeId;
use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, NativeCallContext};
use serde_json::{Map, Value};

mod args;
mod builtin;
mod containment;
mod host;
pub(crate) mod runbook;
mod writeback;

pub use host::{ActionCheck, HostActionKind};

use super::lint::calls::Constructor;

use crate::config::RunbooksConfig;
use crate::plan::kinds::BUILTIN_KINDS;
use crate::plan::{Action, ActionKind};

/// The value an action constructor returns to a script: the typed action, the reason and the line
/// of the call.
#[derive(Debug, Clone)]
pub(crate) struct ScriptAction {
    pub(crate) action: Action,
    pub(crate) reason: Option<String>,
    pub(crate) line: Option<usize>,
    pub(crate) column: Option<usize>,
    /// `.repeat_on_update()`: carry it out again each time GuardDuty updates the finding.
    pub(crate) repeat: bool,
    /// `.ask_first()`: a destructive action that waits for a person's approval, whatever
    /// `[approval]` says.
    pub(crate) ask_first: bool,
}

impl ScriptAction {
    /// `action` chosen with `reason` at `pos` in the script (neither repeated nor asked first).
    pub(crate) fn at(action: Action, reason: Option<String>, pos: rhai::Position) -> Self {
        Self {
            action,
            reason,
            line: pos.line(),
            column: pos.position(),
            repeat: false,
            ask_first: false,
        }
    }
}

/// The action constructors as the load-time checks see them: names, argument counts, targets;
/// the built-ins from [`BUILTIN_KINDS`], then the host kinds.
pub(crate) fn constructors(kinds: &[HostActionKind]) -> Vec<Constructor> {
    let mut all: Vec<Constructor> = BUILTIN_KINDS
        .iter()
        .filter_map(|spec| {
            let signature = spec.signature?;
            Some(Constructor {
                name: spec.kind.as_str().to_owned(),
                arities: signature.arities.to_vec(),
                targets: signature.targets.to_vec(),
                destructive: spec.destructive,
            })
        })
        .collect();
    for kind in kinds {
        let n = kind.params().len();
        let targets = kind
            .target_param()
            .and_then(|t| kind.params().iter().position(|p| p == t))
            .into_iter()
            .collect();
        all.push(Constructor {
            name: kind.kind().as_str().to_owned(),
            arities: vec![n, n + 1],
            targets,
            destructive: kind.is_destructive(),
        });
    }
    all
}

/// A built-in constructor as rhai calls it.
type BuiltinFn = Arc<
    dyn Fn(&NativeCallContext, &mut [&mut Dynamic]) -> Result<ScriptAction, Box<EvalAltResult>>
        + Send
        + Sync,
>;

/// The constructor of the built-in `kind`; `None` for a kind policies cannot choose. Every row
/// of [`BUILTIN_KINDS`] with a signature has one (a test checks).
fn builtin_constructor(
    kind: &ActionKind,
    documents: &Arc<[String]>,
    runbooks: &Arc<RunbooksConfig>,
) -> Option<BuiltinFn> {
    let f: BuiltinFn = if *kind == ActionKind::NOTIFY {
        Arc::new(builtin::notify)
    } else if *kind == ActionKind::DISABLE_ACCESS_KEY {
        Arc::new(builtin::disable_access_key)
    } else if *kind == ActionKind::RUN_COMMAND {
        let documents = Arc::clone(documents);
        Arc::new(move |ctx, args| builtin::run_command(ctx, args, &documents))
    } else if *kind == ActionKind::REVOKE_ROLE_SESSIONS {
        Arc::new(containment::revoke_role_sessions)
    } else if *kind == ActionKind::QUARANTINE_PRINCIPAL {
        Arc::new(containment::quarantine_principal)
    } else if *kind == ActionKind::DISABLE_CONSOLE_LOGIN {
        Arc::new(containment::disable_console_login)
    } else if *kind == ActionKind::START_AUTOMATION {
        let runbooks = Arc::clone(runbooks);
        Arc::new(move |ctx, args| runbook::start_automation(ctx, args, &runbooks))
    } else if *kind == ActionKind::START_EXECUTION {
        let runbooks = Arc::clone(runbooks);
        Arc::new(move |ctx, args| runbook::start_execution(ctx, args, &runbooks))
    } else if *kind == ActionKind::ISOLATE_INSTANCE {
        Arc::new(runbook::isolate_instance)
    } else if *kind == ActionKind::UPDATE_FINDING {
        Arc::new(writeback::update_finding)
    } else if *kind == ActionKind::ARCHIVE_FINDING {
        Arc::new(writeback::archive_finding)
    } else if *kind == ActionKind::SUPPRESS_SIMILAR {
        Arc::new(writeback::suppress_similar)
    } else {
        return None;
    };
    Some(f)
}

/// Registers the built-in constructors and every host kind on `engine`; `run_command` runs only
/// the `documents` listed, `start_automation` and `start_execution` only what `runbooks` allows.
pub(crate) fn register(
    engine: &mut Engine,
    kinds: &[HostActionKind],
    documents: &[String],
    runbooks: &RunbooksConfig,
) {
    engine.register_type_with_name::<ScriptAction>("Action");
    engine.register_get("kind", |a: &mut ScriptAction| a.action.kind().to_string());
    engine.register_get("reason", |a: &mut ScriptAction| -> Dynamic {
        a.reason.clone().map_or(Dynamic::UNIT, Dynamic::from)
    });
    engine.register_fn("repeat_on_update", |a: &mut ScriptAction| {
        let mut repeated = a.clone();
        repeated.repeat = true;
        repeated
    });
    engine.register_fn("ask_first", |a: &mut ScriptAction| {
        let mut asked = a.clone();
        asked.ask_first = true;
        asked
    });
    engine.register_fn("to_string", |a: &mut ScriptAction| describe(a));
    engine.register_fn("to_debug", |a: &mut ScriptAction| describe(a));

    let dynamic = TypeId::of::<Dynamic>();
    let documents: Arc<[String]> = documents.into();
    let runbooks = Arc::new(runbooks.clone());
    for spec in &BUILTIN_KINDS {
        let (Some(signature), Some(build)) = (
            spec.signature,
            builtin_constructor(&spec.kind, &documents, &runbooks),
        ) else {
            continue;
        };
        for arity in signature.arities {
            let build = Arc::clone(&build);
            engine.register_raw_fn(
                spec.kind.as_str(),
                vec![dynamic; arity],
                move |ctx, args| build(&ctx, args),
            );
        }
    }
    for kind in kinds {
        let n = kind.params().len();
        for arity in [n, n + 1] {
            let kind = kind.clone();
            engine.register_raw_fn(
                kind.kind().to_string(),
                vec![dynamic; arity],
                move |ctx, args| kind.build(&ctx, args),
            );
        }
    }
}

fn describe(a: &ScriptAction) -> String {
    format!("{}({})", a.action.kind(), a.action.params())
}

/// Converts a script value into JSON (for the parameters of host kinds).
pub(crate) fn to_json(value: &Dynamic, depth: usize) -> Result<Value, String> {
    if depth > 16 {
        return Err("is nested too deeply".to_owned());
    }
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = value.as_int() {
        return Ok(Value::from(i));
    }
    if let Ok(f) = value.as_float() {
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| "is not a finite number".to_owned());
    }
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        return Ok(Value::String(s.as_str().to_owned()));
    }
    if let Some(list) = value.read_lock::<rhai::Array>() {
        return list
            .iter()
            .map(|v| to_json(v, depth + 1))
            .collect::<Result<_, _>>()
            .map(Value::Array);
    }
    if let Some(map) = value.read_lock::<rhai::Map>() {
        return map
            .iter()
            .map(|(k, v)| Ok((k.as_str().to_owned(), to_json(v, depth + 1)?)))
            .collect::<Result<Map<_, _>, String>>()
            .map(Value::Object);
    }
    Err(format!(
        "must be a string, number, boolean, array or map, got {}",
        args::type_of(value)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_choosable_builtin_kind_has_a_constructor() {
        let documents: Arc<[String]> = Vec::new().into();
        let runbooks = Arc::new(RunbooksConfig::default());
        for spec in &BUILTIN_KINDS {
            assert_eq!(
                builtin_constructor(&spec.kind, &documents, &runbooks).is_some(),
                spec.signature.is_some(),
                "{}",
                spec.kind
            );
        }
    }
}
