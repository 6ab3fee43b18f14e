//! Taking a typed payload out of an [`Action`]: [`ActionPayload`].

use super::{
    Action, ArchiveFinding, CustomAction, DisableAccessKey, DisableConsoleLogin, IsolateInstance,
    Notify, QuarantinePrincipal, RevokeRoleSessions, RunCommand, StartAutomation, StartExecution,
    SuppressSimilar, Undo, UpdateFinding,
};

/// The action types an executor can take out of an [`Action`] (see
/// [`crate::action::ActionRequest::payload`]).
pub trait ActionPayload: Sized {
    /// The payload of `action`, when it is of this type.
    fn from_action(action: &Action) -> Option<&Self>;
}

macro_rules! payload {
    ($($variant:ident),*) => {
        $(
            impl ActionPayload for $variant {
                fn from_action(action: &Action) -> Option<&Self> {
                    match action {
                        Action::$variant(payload) => Some(payload),
                        _ => None,
                    }
                }
            }
        )*
    };
}

payload!(
    Notify,
    DisableAccessKey,
    RunCommand,
    RevokeRoleSessions,
    QuarantinePrincipal,
    DisableConsoleLogin,
    StartAutomation,
    StartExecution,
    IsolateInstance,
    Undo,
    UpdateFinding,
    ArchiveFinding,
    SuppressSimilar
);

impl ActionPayload for CustomAction {
    fn from_action(action: &Action) -> Option<&Self> {
        match action {
            Action::Custom(payload) => Some(payload),
            _ => None,
        }
    }
}
