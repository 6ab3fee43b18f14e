//! Closing the finding where it came from: its Security Hub workflow ([`UpdateFinding`]), its
//! GuardDuty archive ([`ArchiveFinding`]) and a time-boxed GuardDuty suppression of findings like
//! it ([`SuppressSimilar`]). Each acts only on the finding of its plan: the executor reads the
//! identifiers from the plan's [`FindingContext`], never from the policy.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::FindingContext;
use crate::id::digest;

/// What every filter remedy creates is named from: `remedy-suppress-…`. `remedy expire` and
/// `remedy undo` delete only filters so named.
pub const SUPPRESSION_PREFIX: &str = "remedy-suppress-";

/// The longest a suppression may last, in days.
pub const MAX_SUPPRESSION_DAYS: u32 = 90;

/// A Security Hub workflow status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkflowStatus {
    /// Nobody looked at it yet.
    New,
    /// Someone was told (Security Hub resets it to `NEW` when the finding changes).
    Notified,
    /// Dealt with (Security Hub resets it to `NEW` when the finding's record state or its
    /// compliance changes back).
    Resolved,
    /// Not to be looked at again (kept when the finding changes).
    Suppressed,
}

impl WorkflowStatus {
    /// The status as Security Hub writes it: `NEW`, `NOTIFIED`, `RESOLVED` or `SUPPRESSED`.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::New => "NEW",
            WorkflowStatus::Notified => "NOTIFIED",
            WorkflowStatus::Resolved => "RESOLVED",
            WorkflowStatus::Suppressed => "SUPPRESSED",
        }
    }

    /// The status named `name` (any case), if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        [
            WorkflowStatus::New,
            WorkflowStatus::Notified,
            WorkflowStatus::Resolved,
            WorkflowStatus::Suppressed,
        ]
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }

    /// The OCSF `status_id` of the status (`BatchUpdateFindingsV2`): 1 new, 2 in progress
    /// (notified), 3 suppressed, 4 resolved.
    pub fn ocsf_status_id(self) -> i32 {
        match self {
            WorkflowStatus::New => 1,
            WorkflowStatus::Notified => 2,
            WorkflowStatus::Suppressed => 3,
            WorkflowStatus::Resolved => 4,
        }
    }

    /// The status of OCSF `status_id` `id`, if it is one of the four (0 unknown, 5 archived,
    /// 6 deleted and 99 other are not).
    pub fn from_ocsf_status_id(id: i64) -> Option<Self> {
        [
            WorkflowStatus::New,
            WorkflowStatus::Notified,
            WorkflowStatus::Suppressed,
            WorkflowStatus::Resolved,
        ]
        .into_iter()
        .find(|s| i64::from(s.ocsf_status_id()) == id)
    }
}

impl fmt::Display for WorkflowStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Set the finding's Security Hub workflow status, with a note (`UpdatedBy` = `remedy`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateFinding {
    /// The new workflow status.
    pub status: WorkflowStatus,
    /// The note (Security Hub keeps the last one).
    pub note: String,
}

/// Archive the finding in GuardDuty (in remedy's own account, the GuardDuty administrator).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveFinding {}

/// What a suppression matches besides the finding's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressBy {
    /// The finding's principal: its access key's user name.
    Principal,
    /// The finding's resource: its instance.
    Resource,
    /// The finding's remote IP address.
    RemoteIp,
}

impl SuppressBy {
    /// The name policies use: `principal`, `resource` or `remote_ip`.
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressBy::Principal => "principal",
            SuppressBy::Resource => "resource",
            SuppressBy::RemoteIp => "remote_ip",
        }
    }

    /// The criterion named `name`, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        [
            SuppressBy::Principal,
            SuppressBy::Resource,
            SuppressBy::RemoteIp,
        ]
        .into_iter()
        .find(|c| c.as_str() == name)
    }
}

/// Archive the findings like this one for some days: a GuardDuty filter with action `ARCHIVE`
/// on the finding's type and the values of the finding that `criteria` names. It always waits
/// for a person's approval; `remedy expire` deletes it once its days are over.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressSimilar {
    /// What the filter matches besides the type (at least one).
    pub criteria: Vec<SuppressBy>,
    /// How long the filter lasts (1 to [`MAX_SUPPRESSION_DAYS`]).
    pub days: u32,
}

/// One condition of a suppression: a GuardDuty filter criterion (`type`,
/// `resource.accessKeyDetails.userName`, ...) equal to a value of the finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// The GuardDuty finding field.
    pub field: String,
    /// The value it must equal.
    pub value: String,
}

impl SuppressSimilar {
    /// The name of the filter for `finding`: [`SUPPRESSION_PREFIX`] and a digest of the
    /// finding's id and the criteria (GuardDuty's 64 characters at most).
    pub fn filter_name(&self, finding: &FindingContext) -> String {
        let criteria: Vec<&str> = self.criteria.iter().map(|c| c.as_str()).collect();
        format!(
            "{SUPPRESSION_PREFIX}{}",
            digest(&format!("{}|{}", finding.id, criteria.join(",")))
        )
    }

    /// The filter's conditions for `finding`: its type, then each criterion's value; an error
    /// names a criterion the finding has no value for.
    pub fn conditions(&self, finding: &FindingContext) -> Result<Vec<Condition>, String> {
        let mut all = vec![Condition {
            field: "type".into(),
            value: finding.finding_type.as_str().to_owned(),
        }];
        for criterion in &self.criteria {
            let (field, value) = match criterion {
                SuppressBy::Principal => (
                    "resource.accessKeyDetails.userName",
                    finding.user_name().map(str::to_owned),
                ),
                SuppressBy::Resource => (
                    "resource.instanceDetails.instanceId",
                    finding.instance_ids.first().map(|i| i.as_str().to_owned()),
                ),
                SuppressBy::RemoteIp => (
                    if finding.api.is_some() {
                        "service.action.awsApiCallAction.remoteIpDetails.ipAddressV4"
                    } else {
                        "service.action.networkConnectionAction.remoteIpDetails.ipAddressV4"
                    },
                    finding.remote_ip.as_ref().map(|i| i.as_str().to_owned()),
                ),
            };
            let value = value.ok_or_else(|| {
                format!(
                    "the finding names no {} to suppress by (`{}`)",
                    match criterion {
                        SuppressBy::Principal => "principal",
                        SuppressBy::Resource => "instance",
                        SuppressBy::RemoteIp => "remote IP address",
                    },
                    criterion.as_str()
                )
            })?;
            all.push(Condition {
                field: field.to_owned(),
                value,
            });
        }
        Ok(all)
    }

    /// Why the action cannot be carried out as it is, if it cannot.
    pub(crate) fn invalid(&self) -> Option<String> {
        if self.criteria.is_empty() {
            return Some(
                "a suppression needs at least one criterion besides the type (`principal`, \
                 `resource`, `remote_ip`): the type alone would hide every such finding"
                    .into(),
            );
        }
        (!(1..=MAX_SUPPRESSION_DAYS).contains(&self.days)).then(|| {
            format!(
                "`days` must be 1 to {MAX_SUPPRESSION_DAYS}, got {}",
                self.days
            )
        })
    }

    /// The criteria in a few words: `principal, remote_ip`.
    pub(crate) fn listed(&self) -> String {
        let names: Vec<&str> = self.criteria.iter().map(|c| c.as_str()).collect();
        names.join(", ")
    }
}

/// Whether actions of `kind` write back to the finding's source (they run after the plan's
/// other actions, and only when `[writeback] kinds` turns them on): the kinds the table of
/// [`crate::plan::kinds::BUILTIN_KINDS`] gives the [`Carrier::Writeback`](crate::plan::kinds::Carrier::Writeback).
pub fn is_writeback(kind: &super::ActionKind) -> bool {
    crate::plan::kinds::builtin(kind)
        .is_some_and(|spec| spec.carrier == crate::plan::kinds::Carrier::Writeback)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{FindingType, Severity};

    fn finding() -> FindingContext {
        let mut f = FindingContext::new(
            "abc",
            FindingType::new("Recon:IAMUser/MaliciousIPCaller").unwrap(),
            Severity::new(5.0).unwrap(),
        );
        f.remote_ip = Some("198.51.100.7".into());
        f.api = Some("ListBuckets".into());
        f
    }

    #[test]
    fn conditions_come_from_the_finding() {
        let s = SuppressSimilar {
            criteria: vec![SuppressBy::RemoteIp],
            days: 7,
        };
        let c = s.conditions(&finding()).unwrap();
        assert_eq!(c[0].value, "Recon:IAMUser/MaliciousIPCaller");
        assert_eq!(
            c[1].field,
            "service.action.awsApiCallAction.remoteIpDetails.ipAddressV4"
        );
        assert_eq!(c[1].value, "198.51.100.7");
        let by_user = SuppressSimilar {
            criteria: vec![SuppressBy::Principal],
            days: 7,
        };
        assert!(
            by_user
                .conditions(&finding())
                .unwrap_err()
                .contains("principal")
        );
        assert!(s.filter_name(&finding()).starts_with(SUPPRESSION_PREFIX));
        assert!(s.filter_name(&finding()).len() <= 64);
    }

    #[test]
    fn ocsf_status_ids_go_both_ways() {
        for status in [
            WorkflowStatus::New,
            WorkflowStatus::Notified,
            WorkflowStatus::Suppressed,
            WorkflowStatus::Resolved,
        ] {
            let id = i64::from(status.ocsf_status_id());
            assert_eq!(WorkflowStatus::from_ocsf_status_id(id), Some(status));
        }
        for other in [0, 5, 6, 99, -1] {
            assert_eq!(WorkflowStatus::from_ocsf_status_id(other), None);
        }
    }

    #[test]
    fn type_alone_and_long_suppressions_are_refused() {
        let none = SuppressSimilar {
            criteria: vec![],
            days: 7,
        };
        assert!(none.invalid().is_some());
        let long = SuppressSimilar {
            criteria: vec![SuppressBy::RemoteIp],
            days: 365,
        };
        assert!(long.invalid().unwrap().contains("365"));
    }
}
