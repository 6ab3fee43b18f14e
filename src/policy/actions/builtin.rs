//! The built-in constructors: `notify`, `disable_access_key`, `run_command`.

use std::collections::BTreeMap;

use rhai::{Dynamic, EvalAltResult, NativeCallContext};

use super::ScriptAction;
use super::args::{
    MAX_PARAMETERS_BYTES, id_arg, invalid, param_error, reason_arg, string_arg, string_value,
    type_of,
};
use crate::id::{AccessKeyId, InstanceId, UserName};
use crate::plan::{Action, DisableAccessKey, Notify, RunCommand};
use crate::policy::lint::calls::document_problem;

pub(super) fn notify(
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
        column: pos.position(),
        repeat: false,
        ask_first: false,
    })
}

pub(super) fn disable_access_key(
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
        column: pos.position(),
        repeat: false,
        ask_first: false,
    })
}

pub(super) fn run_command(
    ctx: &NativeCallContext,
    args: &mut [&mut Dynamic],
    documents: &[String],
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
    if let Some(why) = document_problem(&document, documents) {
        return Err(invalid(pos, format!("{KIND}: {why}")));
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
    let mut size = 0usize;
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
        column: pos.position(),
        repeat: false,
        ask_first: false,
    })
}
