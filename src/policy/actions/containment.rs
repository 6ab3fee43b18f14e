//! The constructors of the containment actions: `revoke_role_sessions(role_name[, reason])`,
//! `quarantine_principal(kind, name[, reason])` and `disable_console_login(user_name[, reason])`.

use rhai::{Dynamic, EvalAltResult, NativeCallContext};

use super::ScriptAction;
use super::args::{id_arg, invalid, reason_arg, string_arg};
use crate::id::{RoleName, UserName};
use crate::plan::{
    Action, DisableConsoleLogin, IamPrincipal, PrincipalKind, QuarantinePrincipal,
    RevokeRoleSessions,
};

/// The one required argument and the optional reason of a one-argument constructor.
fn one_and_reason<'a>(
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

fn action(action: Action, reason: Option<String>, pos: rhai::Position) -> ScriptAction {
    ScriptAction {
        action,
        reason,
        line: pos.line(),
        column: pos.position(),
        repeat: false,
        ask_first: false,
    }
}

pub(super) fn revoke_role_sessions(
    ctx: &NativeCallContext,
    args: &mut [&mut Dynamic],
) -> Result<ScriptAction, Box<EvalAltResult>> {
    const KIND: &str = "revoke_role_sessions";
    let pos = ctx.call_position();
    let (role, reason) = one_and_reason(KIND, "role_name", args, pos)?;
    let role_name = id_arg(KIND, "role_name", role, pos, RoleName::new)?;
    Ok(action(
        Action::RevokeRoleSessions(RevokeRoleSessions { role_name }),
        reason,
        pos,
    ))
}

pub(super) fn disable_console_login(
    ctx: &NativeCallContext,
    args: &mut [&mut Dynamic],
) -> Result<ScriptAction, Box<EvalAltResult>> {
    const KIND: &str = "disable_console_login";
    let pos = ctx.call_position();
    let (user, reason) = one_and_reason(KIND, "user_name", args, pos)?;
    let user_name = id_arg(KIND, "user_name", user, pos, UserName::new)?;
    Ok(action(
        Action::DisableConsoleLogin(DisableConsoleLogin { user_name }),
        reason,
        pos,
    ))
}

pub(super) fn quarantine_principal(
    ctx: &NativeCallContext,
    args: &mut [&mut Dynamic],
) -> Result<ScriptAction, Box<EvalAltResult>> {
    const KIND: &str = "quarantine_principal";
    let pos = ctx.call_position();
    let (kind, name, reason) = match args {
        [k, n] => (&**k, &**n, None),
        [k, n, r] => (&**k, &**n, reason_arg(KIND, r, pos)?),
        _ => {
            return Err(invalid(
                pos,
                format!("{KIND}: expected (kind, name[, reason]) with kind \"user\" or \"role\""),
            ));
        }
    };
    let kind = match string_arg(KIND, "kind", kind, 16, pos)?.as_str() {
        "user" => PrincipalKind::User,
        "role" => PrincipalKind::Role,
        other => {
            return Err(invalid(
                pos,
                format!("{KIND}: `kind` must be \"user\" or \"role\", got `{other}`"),
            ));
        }
    };
    let principal = match kind {
        PrincipalKind::User => IamPrincipal::User(id_arg(KIND, "name", name, pos, UserName::new)?),
        PrincipalKind::Role => IamPrincipal::Role(id_arg(KIND, "name", name, pos, RoleName::new)?),
    };
    Ok(action(
        Action::QuarantinePrincipal(QuarantinePrincipal { principal }),
        reason,
        pos,
    ))
}
