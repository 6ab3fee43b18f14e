//! The constructors of the containment actions: `revoke_role_sessions(role_name[, reason])`,
//! `quarantine_principal(kind, name[, reason])` and `disable_console_login(user_name[, reason])`.

use rhai::{Dynamic, EvalAltResult, NativeCallContext};

use super::ScriptAction;
use super::args::{id_arg, invalid, one_and_reason, string_arg, two_and_reason};
use crate::id::{RoleName, UserName};
use crate::plan::{
    Action, DisableConsoleLogin, IamPrincipal, PrincipalKind, QuarantinePrincipal,
    RevokeRoleSessions,
};

pub(super) fn revoke_role_sessions(
    ctx: &NativeCallContext,
    args: &mut [&mut Dynamic],
) -> Result<ScriptAction, Box<EvalAltResult>> {
    const KIND: &str = "revoke_role_sessions";
    let pos = ctx.call_position();
    let (role, reason) = one_and_reason(KIND, "role_name", args, pos)?;
    let role_name = id_arg(KIND, "role_name", role, pos, RoleName::new)?;
    Ok(ScriptAction::at(
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
    Ok(ScriptAction::at(
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
    let (kind, name, reason) = two_and_reason(KIND, "kind, name", args, pos)?;
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
    Ok(ScriptAction::at(
        Action::QuarantinePrincipal(QuarantinePrincipal { principal }),
        reason,
        pos,
    ))
}
