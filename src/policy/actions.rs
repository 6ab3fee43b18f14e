//! The action constructors scripts call: the built-ins and the kinds a host registers.

use std::any::TypeId;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, NativeCallContext};
use serde_json::{Map, Value};

use super::sandbox::ScriptError;

mod containment;
use crate::id::{AccessKeyId, InstanceId, InvalidId, UserName};
use crate::plan::{
    Action, ActionKind, CustomAction, DisableAccessKey, FailureKind, Notify, RunCommand,
};

/// The value an action constructor returns to a script: the typed action, the reason and the line
/// of the call.
#[derive(Debug, Clone)]
pub(crate) struct ScriptAction {
    pub(crate) action: Action,
    pub(crate) reason: Option<String>,
    pub(crate) line: Option<usize>,
    /// `.repeat_on_update()`: carry it out again each time GuardDuty updates the finding.
    pub(crate) repeat: bool,
}

/// The checks a host runs on the parameters of its action kind; returns the action's target (what it
/// acts on, e.g. an instance id) or a message saying what is wrong.
pub type ActionCheck = dyn Fn(&Map<String, Value>) -> Result<String, String> + Send + Sync;

/// An action kind registered by the host, callable from scripts like the built-ins.
///
/// A script calls it with the declared parameters in order, optionally followed by a reason:
/// `isolate_instance(finding.instance_id, "talks to a mining pool")`. The arguments become the
/// parameters of a [`CustomAction`] (`{"instance_id": "i-…"}`), the check closure validates them
/// and names the target. A closure that panics is caught and reported as a failure of the policy.
///
/// ```
/// use remedy::HostActionKind;
///
/// let isolate = HostActionKind::new("isolate_instance")?
///     .destructive(true)
///     .with_params(["instance_id"])
///     .with_check(|params| match params.get("instance_id").and_then(|v| v.as_str()) {
///         Some(id) if id.starts_with("i-") => Ok(id.to_owned()),
///         _ => Err("`instance_id` must be an instance id".to_owned()),
///     });
/// assert_eq!(isolate.kind().as_str(), "isolate_instance");
/// # Ok::<(), remedy::id::InvalidId>(())
/// ```
#[derive(Clone)]
pub struct HostActionKind {
    kind: ActionKind,
    destructive: bool,
    params: Vec<String>,
    check: Arc<ActionCheck>,
}

impl HostActionKind {
    /// A kind named `name` (a lower-case identifier that is not a built-in kind), destructive, with
    /// no parameters and a check that accepts anything and targets nothing in particular.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidId> {
        let kind = ActionKind::new(name)?;
        if kind.is_builtin() {
            return Err(InvalidId {
                what: "host action kind",
                value: kind.to_string(),
                expected: "a name that is not a built-in action",
            });
        }
        Ok(Self {
            kind,
            destructive: true,
            params: Vec::new(),
            check: Arc::new(|_| Ok(String::new())),
        })
    }

    /// Whether actions of this kind change something (default: true). Destructive actions are
    /// guarded and made idempotent by the remediator.
    pub fn destructive(mut self, destructive: bool) -> Self {
        self.destructive = destructive;
        self
    }

    /// The parameter names, in the order scripts pass them.
    pub fn with_params<I, S>(mut self, params: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.params = params.into_iter().map(Into::into).collect();
        self
    }

    /// The check run on every call: gets the parameters, returns the target or what is wrong.
    pub fn with_check(
        mut self,
        check: impl Fn(&Map<String, Value>) -> Result<String, String> + Send + Sync + 'static,
    ) -> Self {
        self.check = Arc::new(check);
        self
    }

    /// The kind.
    pub fn kind(&self) -> &ActionKind {
        &self.kind
    }

    /// The parameter names.
    pub fn params(&self) -> &[String] {
        &self.params
    }

    /// Whether actions of this kind are destructive.
    pub fn is_destructive(&self) -> bool {
        self.destructive
    }

    fn build(
        &self,
        ctx: &NativeCallContext,
        args: &[&mut Dynamic],
    ) -> Result<ScriptAction, Box<EvalAltResult>> {
        let kind = &self.kind;
        let pos = ctx.call_position();
        let mut params = Map::new();
        for (name, value) in self.params.iter().zip(args.iter()) {
            let value =
                to_json(value, 0).map_err(|m| invalid(pos, format!("{kind}: `{name}` {m}")))?;
            params.insert(name.clone(), value);
        }
        let reason = match args.get(self.params.len()) {
            Some(reason) => reason_arg(kind.as_str(), reason, pos)?,
            None => None,
        };
        let check = AssertUnwindSafe(|| (self.check)(&params));
        let target = match catch_unwind(check) {
            Ok(Ok(target)) => target,
            Ok(Err(message)) => return Err(invalid(pos, format!("{kind}: {message}"))),
            Err(payload) => {
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".to_owned());
                return Err(ScriptError::raise(
                    FailureKind::HostPanic,
                    format!("host action `{kind}` panicked while checking its arguments: {what}"),
                    pos,
                ));
            }
        };
        Ok(ScriptAction {
            action: Action::Custom(CustomAction {
                kind: kind.clone(),
                params,
                target,
                destructive: self.destructive,
            }),
            reason,
            line: pos.line(),
            repeat: false,
        })
    }
}

impl fmt::Debug for HostActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostActionKind")
            .field("kind", &self.kind)
            .field("destructive", &self.destructive)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

fn invalid(pos: rhai::Position, message: String) -> Box<EvalAltResult> {
    ScriptError::raise(FailureKind::InvalidAction, message, pos)
}

/// Registers the built-in constructors and every host kind on `engine`.
pub(crate) fn register(engine: &mut Engine, kinds: &[HostActionKind]) {
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
            notify(&ctx, args)
        });
        engine.register_raw_fn("disable_access_key", vec![dynamic; arity], |ctx, args| {
            disable_access_key(&ctx, args)
        });
    }
    for arity in [3, 4] {
        engine.register_raw_fn("run_command", vec![dynamic; arity], |ctx, args| {
            run_command(&ctx, args)
        });
    }
    containment::register(engine);
    for kind in kinds {
        for arity in [kind.params.len(), kind.params.len() + 1] {
            let kind = kind.clone();
            engine.register_raw_fn(
                kind.kind.to_string(),
                vec![dynamic; arity],
                move |ctx, args| kind.build(&ctx, args),
            );
        }
    }
}

fn describe(a: &ScriptAction) -> String {
    format!("{}({})", a.action.kind(), a.action.params())
}

fn type_of(value: &Dynamic) -> String {
    if value.is_unit() {
        "() (absent)".to_owned()
    } else {
        value
            .type_name()
            .rsplit("::")
            .next()
            .unwrap_or("?")
            .to_owned()
    }
}

/// A required, non-empty string argument of at most `max` bytes.
fn string_arg(
    kind: &str,
    name: &str,
    value: &Dynamic,
    max: usize,
    pos: rhai::Position,
) -> Result<String, Box<EvalAltResult>> {
    let Some(s) = value.read_lock::<rhai::ImmutableString>() else {
        return Err(invalid(
            pos,
            format!("{kind}: `{name}` must be a string, got {}", type_of(value)),
        ));
    };
    if s.trim().is_empty() {
        return Err(invalid(pos, format!("{kind}: `{name}` must not be empty")));
    }
    if s.len() > max {
        return Err(invalid(
            pos,
            format!("{kind}: `{name}` is longer than {max} bytes"),
        ));
    }
    Ok(s.as_str().to_owned())
}

fn reason_arg(
    kind: &str,
    value: &Dynamic,
    pos: rhai::Position,
) -> Result<Option<String>, Box<EvalAltResult>> {
    if value.is_unit() {
        return Ok(None);
    }
    string_arg(kind, "reason", value, 4096, pos).map(Some)
}

fn id_arg<T>(
    kind: &str,
    name: &str,
    value: &Dynamic,
    pos: rhai::Position,
    new: fn(String) -> Result<T, InvalidId>,
) -> Result<T, Box<EvalAltResult>> {
    if value.is_unit() {
        return Err(invalid(
            pos,
            format!("{kind}: `{name}` is absent (the finding has no such value)"),
        ));
    }
    let s = string_arg(kind, name, value, 256, pos)?;
    new(s).map_err(|e| invalid(pos, format!("{kind}: {e}")))
}

fn notify(
    ctx: &NativeCallContext,
    args: &mut [&mut Dynamic],
) -> Result<ScriptAction, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    let (channel, message, reason) = match args {
        [c, m] => (c, m, None),
        [c, m, r] => (c, m, Some(r)),
        _ => {
            return Err(invalid(
                pos,
                "notify: expected (channel, message[, reason])".to_owned(),
            ));
        }
    };
    let channel = string_arg("notify", "channel", channel, 128, pos)?;
    if !channel
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.:/".contains(&b))
    {
        return Err(invalid(
            pos,
            format!("notify: channel `{channel}` must be letters, digits and `-_.:/`"),
        ));
    }
    let message = string_arg("notify", "message", message, 16 * 1024, pos)?;
    let reason = reason
        .map(|r| reason_arg("notify", r, pos))
        .transpose()?
        .flatten();
    Ok(ScriptAction {
        action: Action::Notify(Notify { channel, message }),
        reason,
        line: pos.line(),
        repeat: false,
    })
}

fn disable_access_key(
    ctx: &NativeCallContext,
    args: &mut [&mut Dynamic],
) -> Result<ScriptAction, Box<EvalAltResult>> {
    const KIND: &str = "disable_access_key";
    let pos = ctx.call_position();
    let (user, key, reason) = match args {
        [u, k] => (u, k, None),
        [u, k, r] => (u, k, Some(r)),
        _ => {
            return Err(invalid(
                pos,
                format!("{KIND}: expected (user_name, access_key_id[, reason])"),
            ));
        }
    };
    let user_name = id_arg(KIND, "user_name", user, pos, UserName::new)?;
    let access_key_id = id_arg(KIND, "access_key_id", key, pos, AccessKeyId::new)?;
    let reason = reason
        .map(|r| reason_arg(KIND, r, pos))
        .transpose()?
        .flatten();
    Ok(ScriptAction {
        action: Action::DisableAccessKey(DisableAccessKey {
            user_name,
            access_key_id,
        }),
        reason,
        line: pos.line(),
        repeat: false,
    })
}

fn run_command(
    ctx: &NativeCallContext,
    args: &mut [&mut Dynamic],
) -> Result<ScriptAction, Box<EvalAltResult>> {
    const KIND: &str = "run_command";
    let pos = ctx.call_position();
    let (document, ids, parameters, reason) = match args {
        [d, i, p] => (d, i, p, None),
        [d, i, p, r] => (d, i, p, Some(r)),
        _ => {
            return Err(invalid(
                pos,
                format!("{KIND}: expected (document, instance_ids, parameters[, reason])"),
            ));
        }
    };
    let document = string_arg(KIND, "document", document, 128, pos)?;
    if !document
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.:/".contains(&b))
    {
        return Err(invalid(
            pos,
            format!("{KIND}: document `{document}` must be letters, digits and `-_.:/`"),
        ));
    }
    let instance_ids = if ids.is_array() {
        let list = ids
            .read_lock::<rhai::Array>()
            .map(|a| a.clone())
            .unwrap_or_default();
        if list.is_empty() {
            return Err(invalid(
                pos,
                format!("{KIND}: `instance_ids` must name at least one instance"),
            ));
        }
        list.iter()
            .map(|id| id_arg(KIND, "instance_ids", id, pos, InstanceId::new))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        vec![id_arg(KIND, "instance_ids", ids, pos, InstanceId::new)?]
    };
    let Some(map) = parameters.read_lock::<rhai::Map>() else {
        return Err(invalid(
            pos,
            format!(
                "{KIND}: `parameters` must be a map, got {}",
                type_of(parameters)
            ),
        ));
    };
    let mut params = BTreeMap::new();
    for (name, value) in map.iter() {
        let values = if value.is_array() {
            let list = value
                .read_lock::<rhai::Array>()
                .map(|a| a.clone())
                .unwrap_or_default();
            list.iter()
                .map(|v| string_value(v).ok_or_else(|| param_error(name, v, pos)))
                .collect::<Result<Vec<_>, _>>()?
        } else {
            vec![string_value(value).ok_or_else(|| param_error(name, value, pos))?]
        };
        params.insert(name.to_string(), values);
    }
    drop(map);
    let reason = reason
        .map(|r| reason_arg(KIND, r, pos))
        .transpose()?
        .flatten();
    Ok(ScriptAction {
        action: Action::RunCommand(RunCommand {
            document,
            instance_ids,
            parameters: params,
        }),
        reason,
        line: pos.line(),
        repeat: false,
    })
}

fn string_value(value: &Dynamic) -> Option<String> {
    value
        .read_lock::<rhai::ImmutableString>()
        .map(|s| s.as_str().to_owned())
}

fn param_error(name: &str, value: &Dynamic, pos: rhai::Position) -> Box<EvalAltResult> {
    invalid(
        pos,
        format!(
            "run_command: parameter `{name}` must be a string or an array of strings, got {}",
            type_of(value)
        ),
    )
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
        type_of(value)
    ))
}
