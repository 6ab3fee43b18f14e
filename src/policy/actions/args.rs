//! Checked arguments of the action constructors: strings, ids, reasons, with the positions their
//! errors point at.

use rhai::{Dynamic, EvalAltResult};

use crate::id::InvalidId;
use crate::plan::FailureKind;
use crate::policy::sandbox::ScriptError;

pub(super) fn invalid(pos: rhai::Position, message: String) -> Box<EvalAltResult> {
    ScriptError::raise(FailureKind::InvalidAction, message, pos)
}

pub(super) fn type_of(value: &Dynamic) -> String {
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
pub(super) fn string_arg(
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
    // Blank: only whitespace (as `trim` sees it), decided at the first visible character.
    if s.chars().all(char::is_whitespace) {
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

pub(super) fn reason_arg(
    kind: &str,
    value: &Dynamic,
    pos: rhai::Position,
) -> Result<Option<String>, Box<EvalAltResult>> {
    if value.is_unit() {
        return Ok(None);
    }
    string_arg(kind, "reason", value, 4096, pos).map(Some)
}

pub(super) fn id_arg<T>(
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

pub(super) fn string_value(value: &Dynamic) -> Option<String> {
    value
        .read_lock::<rhai::ImmutableString>()
        .map(|s| s.as_str().to_owned())
}

pub(super) fn param_error(name: &str, value: &Dynamic, pos: rhai::Position) -> Box<EvalAltResult> {
    invalid(
        pos,
        format!(
            "run_command: parameter `{name}` must be a string or an array of strings, got {}",
            type_of(value)
        ),
    )
}

/// The most bytes of names and values a `run_command`'s parameters may hold.
pub(crate) const MAX_PARAMETERS_BYTES: usize = 16 * 1024;

/// The one required argument and the optional reason of a one-argument constructor.
pub(super) fn one_and_reason<'a>(
    kind: &str,
    expected: &str,
    args: &'a mut [&mut Dynamic],
    pos: rhai::Position,
) -> Result<(&'a Dynamic, Option<String>), Box<EvalAltResult>> {
    match args {
        [a] => Ok((&**a, None)),
        [a, r] => Ok((&**a, reason_arg(kind, r, pos)?)),
        _ => Err(invalid(
            pos,
            format!("{kind}: expected ({expected}[, reason])"),
        )),
    }
}

/// The two required arguments and the optional reason.
pub(super) fn two_and_reason<'a>(
    kind: &str,
    expected: &str,
    args: &'a mut [&mut Dynamic],
    pos: rhai::Position,
) -> Result<(&'a Dynamic, &'a Dynamic, Option<String>), Box<EvalAltResult>> {
    match args {
        [a, b] => Ok((&**a, &**b, None)),
        [a, b, r] => Ok((&**a, &**b, reason_arg(kind, r, pos)?)),
        _ => Err(invalid(
            pos,
            format!("{kind}: expected ({expected}[, reason])"),
        )),
    }
}
