//! The action constructors scripts call: the built-ins ([`builtin`]) and the kinds a host
//! registers ([`HostActionKind`]).

use std::any::TypeId;

use rhai::{Dynamic, Engine};
use serde_json::{Map, Value};

mod args;
mod builtin;
mod containment;
mod host;

pub use host::{ActionCheck, HostActionKind};

use super::lint::calls::Constructor;

use crate::plan::Action;

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
}

/// The action constructors as the load-time checks see them: names, argument counts, targets.
pub(crate) fn constructors(kinds: &[HostActionKind]) -> Vec<Constructor> {
    let c = |name: &str, arities: Vec<usize>, targets: Vec<usize>, destructive: bool| Constructor {
        name: name.to_owned(),
        arities,
        targets,
        destructive,
    };
    let mut all = vec![
        c("notify", vec![2, 3], vec![], false),
        c("disable_access_key", vec![2, 3], vec![0, 1], true),
        c("run_command", vec![3, 4], vec![1], true),
        c("revoke_role_sessions", vec![1, 2], vec![0], true),
        c("quarantine_principal", vec![2, 3], vec![1], true),
        c("disable_console_login", vec![1, 2], vec![0], true),
    ];
    for kind in kinds {
        let n = kind.params().len();
        let targets = kind
            .target_param()
            .and_then(|t| kind.params().iter().position(|p| p == t))
            .into_iter()
            .collect();
        all.push(c(
            kind.kind().as_str(),
            vec![n, n + 1],
            targets,
            kind.is_destructive(),
        ));
    }
    all
}

/// Registers the built-in constructors and every host kind on `engine`; `run_command` runs only
/// the `documents` listed.
pub(crate) fn register(engine: &mut Engine, kinds: &[HostActionKind], documents: &[String]) {
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
    engine.register_fn("to_string", |a: &mut ScriptAction| describe(a));
    engine.register_fn("to_debug", |a: &mut ScriptAction| describe(a));

    let dynamic = TypeId::of::<Dynamic>();
    for arity in [2, 3] {
        engine.register_raw_fn("notify", vec![dynamic; arity], |ctx, args| {
            builtin::notify(&ctx, args)
        });
        engine.register_raw_fn("disable_access_key", vec![dynamic; arity], |ctx, args| {
            builtin::disable_access_key(&ctx, args)
        });
    }
    let documents: std::sync::Arc<[String]> = documents.into();
    for arity in [3, 4] {
        let documents = std::sync::Arc::clone(&documents);
        engine.register_raw_fn("run_command", vec![dynamic; arity], move |ctx, args| {
            builtin::run_command(&ctx, args, &documents)
        });
    }
    containment::register(engine);
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
