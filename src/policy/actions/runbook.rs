//! The constructors of the runbook actions: `start_automation(document, parameters[, reason])`,
//! `start_execution(state_machine, input[, reason])` and `isolate_instance(instance_id[, reason])`.
//! A document or state machine outside `[runbooks]` is refused where it is computed (literal
//! ones fail when the policy loads, see `lint::calls`).

use std::collections::BTreeMap;

use rhai::{Dynamic, EvalAltResult, NativeCallContext};
use serde_json::Value;

use super::ScriptAction;
use super::args::MAX_PARAMETERS_BYTES;
use super::args::{id_arg, invalid, reason_arg, string_arg, string_value, two_and_reason, type_of};
use crate::config::RunbooksConfig;
use crate::id::InstanceId;
use crate::plan::{Action, IsolateInstance, StartAutomation, StartExecution};

/// Why `target` may not be started, if it may not (`what`: `document` or `state machine`).
pub(crate) fn not_allowed(what: &str, target: &str, allowed: bool) -> Option<String> {
    let list = if what == "document" {
        "documents"
    } else {
        "state_machines"
    };
    (!allowed).then(|| {
        format!(
            "{what} `{target}` is not allowed (the configuration's `[runbooks] {list}` lists what \
             may start)"
        )
    })
}

pub(super) fn start_automation(
    ctx: &NativeCallContext,
    args: &mut [&mut Dynamic],
    runbooks: &RunbooksConfig,
) -> Result<ScriptAction, Box<EvalAltResult>> {
    const KIND: &str = "start_automation";
    let pos = ctx.call_position();
    let (document, parameters, reason) = two_and_reason(KIND, "document, parameters", args, pos)?;
    let document = string_arg(KIND, "document", document, 256, pos)?;
    if let Some(why) = not_allowed("document", &document, runbooks.allows_document(&document)) {
        return Err(invalid(pos, format!("{KIND}: {why}")));
    }
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
    let mut size = 0usize;
    for (name, value) in map.iter() {
        let bad = |v: &Dynamic| {
            invalid(
                pos,
                format!(
                    "{KIND}: parameter `{name}` must be a string or an array of strings, got {}",
                    type_of(v)
                ),
            )
        };
        let values = match value.read_lock::<rhai::Array>() {
            Some(list) => list
                .iter()
                .map(|v| string_value(v).ok_or_else(|| bad(v)))
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![string_value(value).ok_or_else(|| bad(value))?],
        };
        size = values.iter().fold(size.saturating_add(name.len()), |n, v| {
            n.saturating_add(v.len())
        });
        if size > MAX_PARAMETERS_BYTES {
            return Err(invalid(
                pos,
                format!("{KIND}: `parameters` are larger than {MAX_PARAMETERS_BYTES} bytes"),
            ));
        }
        params.insert(name.to_string(), values);
    }
    drop(map);
    Ok(ScriptAction::at(
        Action::StartAutomation(StartAutomation {
            document,
            parameters: params,
        }),
        reason,
        pos,
    ))
}

pub(super) fn start_execution(
    ctx: &NativeCallContext,
    args: &mut [&mut Dynamic],
    runbooks: &RunbooksConfig,
) -> Result<ScriptAction, Box<EvalAltResult>> {
    const KIND: &str = "start_execution";
    let pos = ctx.call_position();
    let (machine, input, reason) = two_and_reason(KIND, "state_machine, input", args, pos)?;
    let state_machine = string_arg(KIND, "state_machine", machine, 256, pos)?;
    if let Some(why) = not_allowed(
        "state machine",
        &state_machine,
        runbooks.allows_state_machine(&state_machine),
    ) {
        return Err(invalid(pos, format!("{KIND}: {why}")));
    }
    if input.read_lock::<rhai::Map>().is_none() {
        return Err(invalid(
            pos,
            format!("{KIND}: `input` must be a map, got {}", type_of(input)),
        ));
    }
    let input = match super::to_json(input, 0) {
        Ok(Value::Object(map)) => map,
        Ok(_) => serde_json::Map::new(),
        Err(why) => return Err(invalid(pos, format!("{KIND}: `input` {why}"))),
    };
    // Step Functions takes at most 256 KiB of input; the finding's context comes on top.
    if Value::Object(input.clone()).to_string().len() > 64 * 1024 {
        return Err(invalid(
            pos,
            format!("{KIND}: `input` is larger than 65536 bytes"),
        ));
    }
    Ok(ScriptAction::at(
        Action::StartExecution(StartExecution {
            state_machine,
            input,
        }),
        reason,
        pos,
    ))
}

pub(super) fn isolate_instance(
    ctx: &NativeCallContext,
    args: &mut [&mut Dynamic],
) -> Result<ScriptAction, Box<EvalAltResult>> {
    const KIND: &str = "isolate_instance";
    let pos = ctx.call_position();
    let (instance, reason) = match args {
        [a] => (&**a, None),
        [a, r] => (&**a, reason_arg(KIND, r, pos)?),
        _ => {
            return Err(invalid(
                pos,
                format!("{KIND}: expected (instance_id[, reason])"),
            ));
        }
    };
    let instance_id = id_arg(KIND, "instance_id", instance, pos, InstanceId::new)?;
    Ok(ScriptAction::at(
        Action::IsolateInstance(IsolateInstance { instance_id }),
        reason,
        pos,
    ))
}
