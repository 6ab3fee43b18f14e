//! The containment actions for IAM principals: revoke a role's sessions, quarantine a user or a
//! role, end a user's console access.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::super::context::Principal;
use super::FindingContext;
use crate::id::{InvalidId, RoleName, UserName, digest};

/// Deny everything to the sessions of an IAM role issued before the first remediation: the
/// inline policy IAM's "Revoke active sessions" puts on a role (a deny conditioned on
/// `aws:TokenIssueTime`), under a name of remedy's own for each finding.
///
/// This is what contains stolen temporary credentials (`ASIA…` keys, an assumed role's session,
/// an instance role's credentials used elsewhere): `UpdateAccessKey` cannot disable them. Sessions
/// issued later (the instance's next credentials, a person signing in again) are not affected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRoleSessions {
    /// The role whose sessions are revoked.
    pub role_name: RoleName,
}

/// The start of the name of the inline policy [`RevokeRoleSessions`] puts on a role; the finding
/// id (or a digest of it) follows.
pub const REVOKE_POLICY_PREFIX: &str = "remedy-revoke-sessions-";

impl RevokeRoleSessions {
    /// The name of the inline policy that revokes the role's sessions for `finding_id`:
    /// [`REVOKE_POLICY_PREFIX`] and the finding id when it is made of letters, digits, `_` and `-`
    /// (GuardDuty's ids are), otherwise a digest of it. One policy per finding: a repeat of the
    /// finding finds its policy and keeps its time; another finding gets a policy of its own (so
    /// an old revocation never hides a new one), and undoing one leaves the others.
    pub fn policy_name(finding_id: &str) -> String {
        let plain = (1..=100).contains(&finding_id.len())
            && finding_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if plain {
            format!("{REVOKE_POLICY_PREFIX}{finding_id}")
        } else {
            format!("{REVOKE_POLICY_PREFIX}{}", digest(finding_id))
        }
    }
}

/// Whether an IAM principal is a user or a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// An IAM user.
    User,
    /// An IAM role.
    Role,
}

impl PrincipalKind {
    /// `user` or `role`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
        }
    }
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An IAM user or role, by name. In JSON: `{"kind": "user", "name": "alice"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    content = "name",
    rename_all = "lowercase",
    deny_unknown_fields
)]
pub enum IamPrincipal {
    /// An IAM user.
    User(UserName),
    /// An IAM role.
    Role(RoleName),
}

impl IamPrincipal {
    /// The principal of `kind` named `name`, validated by the rules of its kind.
    pub fn new(kind: PrincipalKind, name: impl Into<String>) -> Result<Self, InvalidId> {
        match kind {
            PrincipalKind::User => UserName::new(name).map(IamPrincipal::User),
            PrincipalKind::Role => RoleName::new(name).map(IamPrincipal::Role),
        }
    }

    /// Whether it is a user or a role.
    pub fn kind(&self) -> PrincipalKind {
        match self {
            IamPrincipal::User(_) => PrincipalKind::User,
            IamPrincipal::Role(_) => PrincipalKind::Role,
        }
    }

    /// The user's or role's name.
    pub fn name(&self) -> &str {
        match self {
            IamPrincipal::User(u) => u.as_str(),
            IamPrincipal::Role(r) => r.as_str(),
        }
    }
}

impl IamPrincipal {
    /// Why the principal is not the finding's to touch, if it is not (see [`role_out_of_scope`]
    /// and [`user_out_of_scope`]).
    pub(crate) fn out_of_scope(&self, finding: &FindingContext) -> Option<String> {
        match self {
            IamPrincipal::User(u) => user_out_of_scope(u.as_str(), finding),
            IamPrincipal::Role(r) => role_out_of_scope(r.as_str(), finding),
        }
    }
}

/// Whether a principal is a role (an assumed role's session): its `user_name` is then the role's
/// name.
fn is_role(principal: &Principal) -> bool {
    matches!(principal.user_type.as_deref(), Some("AssumedRole" | "Role"))
}

/// The finding's principal in a few words, for scope messages.
fn finding_principal(finding: &FindingContext) -> String {
    match finding.principal.as_ref() {
        Some(p) => match p.user_name.as_deref() {
            Some(name) if is_role(p) => format!("role `{name}`"),
            Some(name) => format!("user `{name}`"),
            None => "no principal".to_owned(),
        },
        None => "no principal".to_owned(),
    }
}

/// Why `role` is not the finding's to touch, if it is not: only the role of an assumed-role
/// principal the finding names (its own, or an attack sequence's actor) is.
pub(crate) fn role_out_of_scope(role: &str, finding: &FindingContext) -> Option<String> {
    let named = finding
        .principals()
        .any(|p| is_role(p) && p.user_name.as_deref() == Some(role));
    (!named).then(|| {
        format!(
            "role `{role}` (the finding names {})",
            finding_principal(finding)
        )
    })
}

/// Why `user` is not the finding's to touch, if it is not: only a principal the finding names
/// (its own, or an attack sequence's actor) that is not a role.
pub(crate) fn user_out_of_scope(user: &str, finding: &FindingContext) -> Option<String> {
    let named = finding
        .principals()
        .any(|p| !is_role(p) && p.user_name.as_deref() == Some(user));
    (!named).then(|| {
        format!(
            "user `{user}` (the finding names {})",
            finding_principal(finding)
        )
    })
}

impl fmt::Display for IamPrincipal {
    /// ``user `alice` `` or ``role `web` ``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`", self.kind(), self.name())
    }
}

/// Attach the quarantine policy to an IAM user or role: the managed policy AWS itself attaches to
/// exposed keys (`AWSCompromisedKeyQuarantineV3` unless configured otherwise), or, where that
/// policy is not available, an inline policy denying everything.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuarantinePrincipal {
    /// The user or role quarantined.
    pub principal: IamPrincipal,
}

/// The name of the inline deny-all policy [`QuarantinePrincipal`] puts on a principal when the
/// managed quarantine policy is not available.
pub const QUARANTINE_INLINE_POLICY: &str = "remedy-quarantine";

/// The managed quarantine policy attached by default: AWS's own for exposed keys.
pub const DEFAULT_QUARANTINE_POLICY: &str = "AWSCompromisedKeyQuarantineV3";

/// Delete the login profile (the console password) of an IAM user, ending its console access.
/// A password cannot be restored: undoing this means setting a new one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisableConsoleLogin {
    /// The user whose console password is deleted.
    pub user_name: UserName,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoke_policies_are_named_by_finding() {
        assert_eq!(
            RevokeRoleSessions::policy_name("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"),
            "remedy-revoke-sessions-a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
        );
        let odd = RevokeRoleSessions::policy_name("finding/with:odd chars");
        assert!(odd.starts_with(REVOKE_POLICY_PREFIX), "{odd}");
        assert_eq!(odd.len(), REVOKE_POLICY_PREFIX.len() + 16);
        assert_ne!(
            odd,
            RevokeRoleSessions::policy_name("finding/with:odd chars!")
        );
        // IAM policy names: at most 128 characters of `[\w+=,.@-]`.
        let long = RevokeRoleSessions::policy_name(&"x".repeat(101));
        assert!(long.len() <= 128);
    }

    #[test]
    fn principals_serialize_with_kind_and_name() {
        let p = IamPrincipal::new(PrincipalKind::Role, "web-server-role").unwrap();
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "role", "name": "web-server-role"})
        );
        assert_eq!(serde_json::from_value::<IamPrincipal>(json).unwrap(), p);
        assert_eq!(p.to_string(), "role `web-server-role`");
        assert!(IamPrincipal::new(PrincipalKind::User, "a b").is_err());
        assert!(
            serde_json::from_value::<IamPrincipal>(
                serde_json::json!({"kind": "group", "name": "x"})
            )
            .is_err()
        );
        assert!(
            serde_json::from_value::<IamPrincipal>(serde_json::json!({"kind": "user", "name": ""}))
                .is_err()
        );
        assert!(
            serde_json::from_value::<IamPrincipal>(
                serde_json::json!({"kind": "user", "name": "a", "x": 1})
            )
            .is_err()
        );
    }
}
