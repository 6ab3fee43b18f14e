//! The constructors of the write-back actions: `update_finding(status, note[, reason])`,
//! `archive_finding([reason])` and `suppress_similar(criteria, days[, reason])`. None takes an
//! identifier: each acts on the finding being decided. A suppression always asks a person first.

use rhai::{Dynamic, EvalAltResult, NativeCallContext};

use super::ScriptAction;
use super::args::{invalid, reason_arg, string_arg, string_value, two_and_reason, type_of};
use crate::plan::{
    Action, ArchiveFinding, SuppressBy, SuppressSimilar, UpdateFinding, WorkflowStatus,
};

pub(super) fn update_finding(
    ctx: &NativeCallContext,
    args: &mut [&mut Dynamic],
) -> Result<ScriptAction, Box<EvalAltResult>> {
    const KIND: &str = "update_finding";
    let pos = ctx.call_position();
    let (status, note, reason) = two_and_reason(KIND, "status, note", args, pos)?;
    let name = string_arg(KIND, "status", status, 16, pos)?;
    let Some(status) = WorkflowStatus::parse(&name) else {
        return Err(invalid(
            pos,
            format!("{KIND}: `status` must be NEW, NOTIFIED, RESOLVED or SUPPRESSED, got `{name}`"),
        ));
    };
    // Security Hub takes notes of at most 512 characters.
    let note = string_arg(KIND, "note", note, 512, pos)?;
    Ok(ScriptAction::at(
        Action::UpdateFinding(UpdateFinding { status, note }),
        reason,
        pos,
    ))
}

pub(super) fn archive_finding(
    ctx: &NativeCallContext,
    args: &mut [&mut Dynamic],
) -> Result<ScriptAction, Box<EvalAltResult>> {
    const KIND: &str = "archive_finding";
    let pos = ctx.call_position();
    let reason = match args {
        [] => None,
        [r] => reason_arg(KIND, r, pos)?,
        _ => return Err(invalid(pos, format!("{KIND}: expected ([reason])"))),
    };
    Ok(ScriptAction::at(
        Action::ArchiveFinding(ArchiveFinding {}),
        reason,
        pos,
    ))
}

pub(super) fn suppress_similar(
    ctx: &NativeCallContext,
    args: &mut [&mut Dynamic],
) -> Result<ScriptAction, Box<EvalAltResult>> {
    const KIND: &str = "suppress_similar";
    let pos = ctx.call_position();
    let (criteria, days, reason) = two_and_reason(KIND, "criteria, days", args, pos)?;
    let names: Vec<String> = match criteria.read_lock::<rhai::Array>() {
        Some(list) => list.iter().filter_map(string_value).collect(),
        None => string_value(criteria).into_iter().collect(),
    };
    let mut by = Vec::new();
    for name in &names {
        let Some(c) = SuppressBy::parse(name) else {
            return Err(invalid(
                pos,
                format!(
                    "{KIND}: criterion `{name}` is not one of `principal`, `resource`, `remote_ip`"
                ),
            ));
        };
        if !by.contains(&c) {
            by.push(c);
        }
    }
    by.sort();
    let Ok(days) = days.as_int() else {
        return Err(invalid(
            pos,
            format!("{KIND}: `days` must be an integer, got {}", type_of(days)),
        ));
    };
    let days = u32::try_from(days).unwrap_or(0);
    let suppress = SuppressSimilar { criteria: by, days };
    if let Some(why) = suppress.invalid() {
        return Err(invalid(pos, format!("{KIND}: {why}")));
    }
    let mut made = ScriptAction::at(Action::SuppressSimilar(suppress), reason, pos);
    // Hiding findings is never automatic: a person approves every suppression.
    made.ask_first = true;
    Ok(made)
}
