//! Undoing what an action did: [`Reversal`] (what an executor says reverses its change, kept in
//! the action's audit record) and the [`Undo`] action (`remedy undo` carries one out).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::FindingContext;
use super::containment::IamPrincipal;
use crate::id::{AccessKeyId, InstanceId, UserName};

/// How to reverse exactly what one executed action changed, as its executor reports it: written
/// to the action's audit record (`outcome.undo`) and carried out by `remedy undo`.
///
/// In JSON, tagged by `kind`: `{"kind": "enable_access_key", "user_name": "alice",
/// "access_key_id": "AKIA…"}`, `{"kind": "delete_inline_policy", "principal": {"kind": "role",
/// "name": "web"}, "policy_name": "remedy-revoke-sessions-…"}`, `{"kind": "detach_policy",
/// "principal": …, "policy_arn": "arn:aws:iam::aws:policy/…"}`, `{"kind": "irreversible",
/// "reason": "…"}`, `{"kind": "release_instance", "instance_id": "i-…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Reversal {
    /// Set the access key active again (reverses `disable_access_key`).
    EnableAccessKey {
        /// The key's user.
        user_name: UserName,
        /// The key remedy disabled.
        access_key_id: AccessKeyId,
    },
    /// Delete the inline policy remedy put on the principal (reverses `revoke_role_sessions`, and
    /// `quarantine_principal` where it fell back to an inline deny-all).
    DeleteInlinePolicy {
        /// The user or role.
        principal: IamPrincipal,
        /// The inline policy remedy put.
        policy_name: String,
    },
    /// Detach the managed policy remedy attached (reverses `quarantine_principal`).
    DetachPolicy {
        /// The user or role.
        principal: IamPrincipal,
        /// The managed policy remedy attached.
        policy_arn: String,
    },
    /// Release an instance from isolation: `AWSSupport-ContainEC2Instance` with
    /// `Action=Release` (reverses `isolate_instance`).
    ReleaseInstance {
        /// The instance remedy isolated.
        instance_id: InstanceId,
    },
    /// Set the finding's Security Hub workflow status back to what it was (reverses
    /// `update_finding`).
    SetWorkflowStatus {
        /// The status before remedy's update.
        status: super::WorkflowStatus,
    },
    /// Delete the GuardDuty filter remedy created (reverses `suppress_similar`).
    DeleteFilter {
        /// The region of the filter (remedy's own account).
        region: String,
        /// The filter's name (always [`super::SUPPRESSION_PREFIX`]…).
        filter_name: String,
    },
    /// What was done cannot be reversed (a deleted console password): why, and what to do.
    Irreversible {
        /// Why not, and what to do instead.
        reason: String,
    },
}

impl Reversal {
    /// Why reversing touches something `finding` does not name, if it does: the same scope as
    /// the action it reverses.
    pub(crate) fn out_of_scope(&self, finding: &FindingContext) -> Option<String> {
        match self {
            Reversal::EnableAccessKey {
                user_name,
                access_key_id,
            } => super::key_out_of_scope(user_name.as_str(), access_key_id.as_str(), finding),
            Reversal::DeleteInlinePolicy { principal, .. }
            | Reversal::DetachPolicy { principal, .. } => principal.out_of_scope(finding),
            Reversal::ReleaseInstance { instance_id } => (!finding
                .instance_ids
                .iter()
                .any(|i| i.as_str() == instance_id.as_str()))
            .then(|| format!("instance `{instance_id}` (not one of the finding's instances)")),
            Reversal::DeleteFilter { filter_name, .. } => (!filter_name
                .starts_with(super::SUPPRESSION_PREFIX))
            .then(|| format!("filter `{filter_name}` (not one remedy names)")),
            Reversal::SetWorkflowStatus { .. } | Reversal::Irreversible { .. } => None,
        }
    }

    /// The kind whose executor carries this reversal out: `isolate_instance`'s for a release
    /// (the runbook executor), `undo`'s (IAM) for the rest. A router sends `undo` there.
    pub fn undone_by(&self) -> super::ActionKind {
        match self {
            Reversal::ReleaseInstance { .. } => super::ActionKind::ISOLATE_INSTANCE,
            Reversal::SetWorkflowStatus { .. } => super::ActionKind::UPDATE_FINDING,
            Reversal::DeleteFilter { .. } => super::ActionKind::SUPPRESS_SIMILAR,
            _ => super::ActionKind::UNDO,
        }
    }

    /// Whether the change can be reversed at all.
    pub fn is_reversible(&self) -> bool {
        !matches!(self, Reversal::Irreversible { .. })
    }
}

impl fmt::Display for Reversal {
    /// What reversing means, in a few words (`set access key … of user … active again`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reversal::EnableAccessKey {
                user_name,
                access_key_id,
            } => write!(
                f,
                "set access key `{access_key_id}` of user `{user_name}` active again"
            ),
            Reversal::DeleteInlinePolicy {
                principal,
                policy_name,
            } => write!(f, "delete inline policy `{policy_name}` of {principal}"),
            Reversal::DetachPolicy {
                principal,
                policy_arn,
            } => write!(f, "detach policy `{policy_arn}` from {principal}"),
            Reversal::ReleaseInstance { instance_id } => write!(
                f,
                "release instance `{instance_id}` from isolation (`{}`, `Action=Release`)",
                super::ISOLATION_DOCUMENT
            ),
            Reversal::SetWorkflowStatus { status } => write!(
                f,
                "set the finding's Security Hub workflow status back to {status}"
            ),
            Reversal::DeleteFilter {
                region,
                filter_name,
            } => write!(f, "delete GuardDuty filter `{filter_name}` in {region}"),
            Reversal::Irreversible { reason } => write!(f, "cannot be undone: {reason}"),
        }
    }
}

/// Reverse what an earlier action did, as its audit record says ([`Reversal`]). Built by
/// `remedy undo` from the audit trail, never by policies; carried out like any destructive action
/// (guards, ledger, intent and outcome records), once per record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Undo {
    /// The id of the action record being undone (its `intent`).
    pub record: String,
    /// What to reverse.
    pub reversal: Reversal,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::action::containment::PrincipalKind;

    #[test]
    fn reversals_are_tagged_by_kind_and_round_trip() {
        let all = [
            Reversal::EnableAccessKey {
                user_name: UserName::new("alice").unwrap(),
                access_key_id: AccessKeyId::new("AKIAIOSFODNN7EXAMPLE").unwrap(),
            },
            Reversal::DeleteInlinePolicy {
                principal: IamPrincipal::new(PrincipalKind::Role, "web").unwrap(),
                policy_name: "remedy-revoke-sessions-f1".into(),
            },
            Reversal::DetachPolicy {
                principal: IamPrincipal::new(PrincipalKind::User, "alice").unwrap(),
                policy_arn: "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3".into(),
            },
            Reversal::Irreversible {
                reason: "gone".into(),
            },
        ];
        let kinds = [
            "enable_access_key",
            "delete_inline_policy",
            "detach_policy",
            "irreversible",
        ];
        for (r, kind) in all.iter().zip(kinds) {
            let json = serde_json::to_value(r).unwrap();
            assert_eq!(json["kind"], kind);
            assert_eq!(&serde_json::from_value::<Reversal>(json).unwrap(), r);
        }
        assert_eq!(
            all[1].to_string(),
            "delete inline policy `remedy-revoke-sessions-f1` of role `web`"
        );
        assert!(!all[3].is_reversible() && all[0].is_reversible());
        let extra = serde_json::json!({"kind": "irreversible", "reason": "x", "more": 1});
        assert!(serde_json::from_value::<Reversal>(extra).is_err());
    }

    #[test]
    fn a_reversal_stays_in_the_scope_of_the_action_it_reverses() {
        use crate::finding::{FindingType, Severity};
        use crate::plan::Principal;
        let mut f = FindingContext::new(
            "f",
            FindingType::new("UnauthorizedAccess:IAMUser/MaliciousIPCaller").unwrap(),
            Severity::MIN,
        );
        f.principal = Some(Principal {
            user_name: Some("web".into()),
            user_type: Some("AssumedRole".into()),
            ..Principal::default()
        });
        let delete = |kind, name: &str| Reversal::DeleteInlinePolicy {
            principal: IamPrincipal::new(kind, name).unwrap(),
            policy_name: "p".into(),
        };
        assert_eq!(delete(PrincipalKind::Role, "web").out_of_scope(&f), None);
        assert!(
            delete(PrincipalKind::Role, "other")
                .out_of_scope(&f)
                .is_some()
        );
        assert!(
            delete(PrincipalKind::User, "web")
                .out_of_scope(&f)
                .is_some(),
            "the role's name is not a user"
        );
        let key = Reversal::EnableAccessKey {
            user_name: UserName::new("web").unwrap(),
            access_key_id: AccessKeyId::new("AKIAIOSFODNN7EXAMPLE").unwrap(),
        };
        assert!(key.out_of_scope(&f).unwrap().contains("access key"));
        let undo = crate::plan::Action::Undo(Undo {
            record: "r".into(),
            reversal: delete(PrincipalKind::Role, "other"),
        });
        assert!(undo.out_of_scope(&f).unwrap().contains("role `other`"));
    }
}
