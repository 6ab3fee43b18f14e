//! The one table of built-in action kinds: from it come the kind list, the policy constructors'
//! shapes, the AWS routes and the in-memory twins' routes. A new built-in kind is one row here, a
//! payload ([`Action`](super::Action) variant), a constructor (`policy::actions`) and an executor
//! (a [`Carrier`] arm in `aws::router` and `testing::InMemory::router`).

use super::action::ActionKind;

/// Which executor carries a built-in kind out. The AWS router and the in-memory twins match on
/// it, so a new carrier cannot be forgotten by either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Carrier {
    /// The notify channels (SNS, the log, ...).
    Channels,
    /// IAM access keys.
    AccessKeys,
    /// IAM containment: role sessions, quarantine, console passwords, and undoing them.
    Containment,
    /// SSM Run Command.
    RunCommand,
    /// Runbooks and state machines: SSM Automation, Step Functions.
    Runbooks,
    /// The finding's source: Security Hub's workflow, GuardDuty's archive and filters.
    Writeback,
}

/// How a policy calls a built-in kind's constructor (named like the kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// The argument counts it takes: the required ones, and one more with the optional reason.
    pub arities: [usize; 2],
    /// The arguments (0-based) that name the action's target, checked against the finding at load.
    pub targets: &'static [usize],
}

/// One built-in kind.
#[derive(Debug, Clone)]
pub struct KindSpec {
    /// The kind.
    pub kind: ActionKind,
    /// Who carries it out.
    pub carrier: Carrier,
    /// Whether it changes something (guarded, rate limited, approvable) or only tells.
    pub destructive: bool,
    /// How policies build it; `None` when policies cannot choose it (`undo`).
    pub signature: Option<Signature>,
}

const fn row(
    kind: ActionKind,
    carrier: Carrier,
    destructive: bool,
    signature: Option<Signature>,
) -> KindSpec {
    KindSpec {
        kind,
        carrier,
        destructive,
        signature,
    }
}

const fn called(required: usize, targets: &'static [usize]) -> Option<Signature> {
    Some(Signature {
        arities: [required, required + 1],
        targets,
    })
}

/// The built-in kinds, one row each.
pub static BUILTIN_KINDS: [KindSpec; 13] = [
    row(ActionKind::NOTIFY, Carrier::Channels, false, called(2, &[])),
    row(
        ActionKind::DISABLE_ACCESS_KEY,
        Carrier::AccessKeys,
        true,
        called(2, &[0, 1]),
    ),
    row(
        ActionKind::RUN_COMMAND,
        Carrier::RunCommand,
        true,
        called(3, &[1]),
    ),
    row(
        ActionKind::REVOKE_ROLE_SESSIONS,
        Carrier::Containment,
        true,
        called(1, &[0]),
    ),
    row(
        ActionKind::QUARANTINE_PRINCIPAL,
        Carrier::Containment,
        true,
        called(2, &[1]),
    ),
    row(
        ActionKind::DISABLE_CONSOLE_LOGIN,
        Carrier::Containment,
        true,
        called(1, &[0]),
    ),
    row(
        ActionKind::START_AUTOMATION,
        Carrier::Runbooks,
        true,
        called(2, &[]),
    ),
    row(
        ActionKind::START_EXECUTION,
        Carrier::Runbooks,
        true,
        called(2, &[]),
    ),
    row(
        ActionKind::ISOLATE_INSTANCE,
        Carrier::Runbooks,
        true,
        called(1, &[0]),
    ),
    row(
        ActionKind::UPDATE_FINDING,
        Carrier::Writeback,
        true,
        called(2, &[]),
    ),
    row(
        ActionKind::ARCHIVE_FINDING,
        Carrier::Writeback,
        true,
        called(0, &[]),
    ),
    row(
        ActionKind::SUPPRESS_SIMILAR,
        Carrier::Writeback,
        true,
        called(2, &[]),
    ),
    row(ActionKind::UNDO, Carrier::Containment, true, None),
];

impl ActionKind {
    /// Whether this is one of the built-in kinds ([`BUILTIN_KINDS`]).
    pub fn is_builtin(&self) -> bool {
        builtin(self).is_some()
    }

    /// The built-in kinds, in the order of [`BUILTIN_KINDS`].
    pub fn builtin() -> impl Iterator<Item = ActionKind> {
        BUILTIN_KINDS.iter().map(|spec| spec.kind.clone())
    }

    /// The kinds that write back to the finding's source (carried by [`Carrier::Writeback`]):
    /// `update_finding`, `archive_finding`, `suppress_similar`.
    pub fn writeback() -> impl Iterator<Item = ActionKind> {
        BUILTIN_KINDS
            .iter()
            .filter(|spec| spec.carrier == Carrier::Writeback)
            .map(|spec| spec.kind.clone())
    }
}

/// The row of `kind`, if it is built in.
pub fn builtin(kind: &ActionKind) -> Option<&'static KindSpec> {
    BUILTIN_KINDS.iter().find(|spec| spec.kind == *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_agrees_with_the_payloads() {
        for spec in &BUILTIN_KINDS {
            assert!(spec.kind.is_builtin(), "{}", spec.kind);
        }
        let names: std::collections::BTreeSet<&str> =
            BUILTIN_KINDS.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(names.len(), BUILTIN_KINDS.len(), "a kind is listed twice");
    }
}
