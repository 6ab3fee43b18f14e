//! What the containment executors (in-memory and AWS) share: the IAM policy documents remedy
//! writes, how it reads its own back, and the words outcomes use, so that the twins agree.

use serde_json::{Value, json};

use crate::plan::{IamPrincipal, Reversal};

/// The statement id of remedy's revocation policy.
const REVOKE_SID: &str = "RemedyRevokeOlderSessions";

/// The inline policy that denies everything to sessions issued before `issued_before` (RFC 3339):
/// the document IAM's "Revoke active sessions" writes, with remedy's statement id.
pub(crate) fn revoke_document(issued_before: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": REVOKE_SID,
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": issued_before}},
        }],
    })
    .to_string()
}

/// The time of a revocation policy remedy wrote, or `None` when `document` is not one.
pub(crate) fn revoke_time(document: &str) -> Option<String> {
    let doc: Value = serde_json::from_str(document).ok()?;
    let statements = doc.get("Statement")?.as_array()?;
    let [statement] = statements.as_slice() else {
        return None;
    };
    if statement.get("Sid")?.as_str()? != REVOKE_SID || statement.get("Effect")?.as_str()? != "Deny"
    {
        return None;
    }
    let time = statement
        .get("Condition")?
        .get("DateLessThan")?
        .get("aws:TokenIssueTime")?
        .as_str()?;
    time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).ok()?;
    Some(time.to_owned())
}

/// The inline policy that denies everything: the quarantine when the managed policy is not
/// available.
pub(crate) fn deny_all_document() -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "RemedyQuarantine", "Effect": "Deny", "Action": "*", "Resource": "*"}],
    })
    .to_string()
}

/// The time a revocation denies sessions before: now, rounded up to the next second (so a
/// session issued a moment ago is included).
pub(crate) fn revocation_time() -> String {
    let now = time::OffsetDateTime::now_utc();
    let rounded = now
        .replace_nanosecond(0)
        .unwrap_or(now)
        .saturating_add(time::Duration::SECOND);
    rounded
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The ARN of the managed quarantine policy: `policy` when it is an ARN, otherwise the AWS
/// managed policy of that name in the partition of `region` (`aws-cn` for `cn-…`, `aws-us-gov`
/// for `us-gov-…`, `aws` otherwise).
pub(crate) fn quarantine_arn(policy: &str, region: &str) -> String {
    if policy.starts_with("arn:") {
        return policy.to_owned();
    }
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    format!("arn:{partition}:iam::aws:policy/{policy}")
}

/// Why a deleted console password cannot be restored, and what to do instead.
pub(crate) fn console_irreversible(user: &str) -> Reversal {
    Reversal::Irreversible {
        reason: format!(
            "a deleted console password cannot be restored: give user `{user}` a new one \
             (CreateLoginProfile or the IAM console) with a reset required at the next sign-in"
        ),
    }
}

/// The words outcomes use.
pub(crate) mod say {
    use super::IamPrincipal;

    pub(crate) fn no_such(principal: &IamPrincipal) -> String {
        format!("{principal} does not exist; nothing changed")
    }

    pub(crate) fn revoked(role: &str, time: &str, policy: &str) -> String {
        format!(
            "sessions of role `{role}` issued before {time} denied (inline policy `{policy}`, read \
             back); sessions issued later are not affected"
        )
    }

    pub(crate) fn already_revoked(role: &str, time: &str, policy: &str) -> String {
        format!(
            "sessions of role `{role}` issued before {time} are already denied (inline policy \
             `{policy}` of this finding; its first time is kept)"
        )
    }

    pub(crate) fn not_ours(principal: &IamPrincipal, policy: &str) -> String {
        format!(
            "{principal} has an inline policy `{policy}` that is not remedy's revocation; nothing \
             changed"
        )
    }

    pub(crate) fn attached(principal: &IamPrincipal, arn: &str) -> String {
        format!("quarantine policy `{arn}` attached to {principal} (read back)")
    }

    pub(crate) fn quarantined_inline(principal: &IamPrincipal, arn: &str, inline: &str) -> String {
        format!(
            "the quarantine policy `{arn}` is not available: inline deny-all policy `{inline}` put \
             on {principal} (read back)"
        )
    }

    pub(crate) fn already_quarantined(principal: &IamPrincipal, by: &str) -> String {
        format!("{principal} is already quarantined ({by})")
    }

    pub(crate) fn console_deleted(user: &str) -> String {
        format!(
            "console password of user `{user}` deleted (it existed; read back: gone); it cannot \
             be restored, only replaced"
        )
    }

    pub(crate) fn no_console(user: &str) -> String {
        format!("user `{user}` has no console password")
    }

    pub(crate) fn key_enabled(user: &str, key: &str) -> String {
        format!("access key `{key}` of user `{user}` set active again (read back)")
    }

    pub(crate) fn key_already_active(user: &str, key: &str) -> String {
        format!("access key `{key}` of user `{user}` is already active")
    }

    pub(crate) fn no_key(user: &str, key: &str) -> String {
        format!("access key `{key}` does not belong to user `{user}`; nothing changed")
    }

    pub(crate) fn inline_deleted(principal: &IamPrincipal, policy: &str) -> String {
        format!("inline policy `{policy}` deleted from {principal} (read back: gone)")
    }

    pub(crate) fn no_inline(principal: &IamPrincipal, policy: &str) -> String {
        format!("{principal} has no inline policy `{policy}`: nothing to undo")
    }

    pub(crate) fn detached(principal: &IamPrincipal, arn: &str) -> String {
        format!("policy `{arn}` detached from {principal} (read back: not attached)")
    }

    pub(crate) fn not_attached(principal: &IamPrincipal, arn: &str) -> String {
        format!("policy `{arn}` is not attached to {principal}: nothing to undo")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocation_documents_read_back() {
        let time = revocation_time();
        assert!(time.ends_with('Z') && !time.contains('.'), "{time}");
        let doc = revoke_document(&time);
        assert_eq!(revoke_time(&doc).as_deref(), Some(time.as_str()));
        // Someone else's policy under that name is not a revocation.
        assert_eq!(revoke_time(&deny_all_document()), None);
        assert_eq!(revoke_time("not json"), None);
        assert_eq!(
            revoke_time(&revoke_document("yesterday")),
            None,
            "not a time"
        );
    }

    #[test]
    fn quarantine_arns_follow_the_partition() {
        assert_eq!(
            quarantine_arn("AWSCompromisedKeyQuarantineV3", "eu-west-1"),
            "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
        );
        assert_eq!(
            quarantine_arn("Q", "cn-north-1"),
            "arn:aws-cn:iam::aws:policy/Q"
        );
        assert_eq!(
            quarantine_arn("Q", "us-gov-west-1"),
            "arn:aws-us-gov:iam::aws:policy/Q"
        );
        assert_eq!(
            quarantine_arn("arn:aws:iam::123456789012:policy/ours", "eu-west-1"),
            "arn:aws:iam::123456789012:policy/ours"
        );
        assert_eq!(
            quarantine_arn("Q", ""),
            "arn:aws:iam::aws:policy/Q",
            "no region: aws"
        );
    }
}
