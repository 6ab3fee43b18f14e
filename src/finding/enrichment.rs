//! What enrichment found: [`Context`] and its parts, plain serializable data.
//!
//! A context is frozen into the finding the policies see ([`crate::Finding::with_context`]) and
//! recorded in the plan (`enrichment`), so a decision test, a replay or an audit sees exactly what
//! the decision used, without AWS.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What the enrichers found about a finding's principal before the policies decided.
///
/// A part an enricher could not find or fetch is `None`, with an entry in [`Context::errors`];
/// the decision is still made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// The principal's permissions and tags (IAM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<PrincipalDetails>,
    /// What the principal's access key did recently (CloudTrail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<ActivitySummary>,
    /// What could not be found or fetched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ContextError>,
}

impl Context {
    /// A context holding only an error.
    pub fn failed(error: ContextError) -> Self {
        Self {
            errors: vec![error],
            ..Self::default()
        }
    }

    /// Whether the context holds nothing (no part, no error).
    pub fn is_empty(&self) -> bool {
        self.principal.is_none() && self.activity.is_none() && self.errors.is_empty()
    }

    /// Adds what `other` found: a part this context lacks is taken from it; errors are appended.
    pub fn merge(&mut self, other: Context) {
        if self.principal.is_none() {
            self.principal = other.principal;
        }
        if self.activity.is_none() {
            self.activity = other.activity;
        }
        self.errors.extend(other.errors);
    }

    /// One line for people: who the principal is and what they may do, what the key did, and
    /// what could not be found, e.g. `alice (user): administrator (AdministratorAccess); ...`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = &self.principal {
            parts.push(p.summary());
        }
        if let Some(a) = &self.activity {
            parts.push(a.summary());
        }
        for e in &self.errors {
            parts.push(format!(
                "{} failed ({}): {}",
                e.enricher,
                e.kind.as_str(),
                e.message
            ));
        }
        if parts.is_empty() {
            "nothing found".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// What kind of principal a finding names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PrincipalKind {
    /// An IAM user.
    #[default]
    User,
    /// An IAM role (the finding's principal is a session of it).
    Role,
    /// The account's root user.
    Root,
}

impl PrincipalKind {
    /// The kind's name: `user`, `role` or `root`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Role => "role",
            Self::Root => "root",
        }
    }
}

/// The principal's permissions as IAM says: policies, groups, whether any grants administrator
/// rights, tags, and the access key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalDetails {
    /// User, role or root.
    #[serde(default)]
    pub kind: PrincipalKind,
    /// The user or role name.
    #[serde(default)]
    pub name: String,
    /// The user's or role's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// When the user or role was created.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub created: Option<OffsetDateTime>,
    /// The names of the managed policies attached to the user or role itself.
    #[serde(default)]
    pub policies: Vec<String>,
    /// The names of the user's or role's inline policies.
    #[serde(default)]
    pub inline_policies: Vec<String>,
    /// The user's groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Each group's policies (attached managed and inline), by group name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group_policies: BTreeMap<String, Vec<String>>,
    /// Whether any of these policies grants administrator rights: `AdministratorAccess`, or an
    /// allowed statement with `"Action": "*"` or `iam:*` on `"Resource": "*"`.
    #[serde(default)]
    pub is_admin: bool,
    /// The policies that grant administrator rights, e.g. `AdministratorAccess` or
    /// `group admins: ops-inline`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admin_via: Vec<String>,
    /// The user's or role's tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The access key the finding names, as IAM knows it (users only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyDetails>,
}

impl PrincipalDetails {
    /// `alice (user): administrator (AdministratorAccess); policies: ...; groups: ...`.
    pub fn summary(&self) -> String {
        let mut s = format!("{} ({})", self.name, self.kind.as_str());
        if self.is_admin {
            s.push_str(": administrator");
            if !self.admin_via.is_empty() {
                s.push_str(&format!(" ({})", self.admin_via.join(", ")));
            }
        } else {
            s.push_str(": not an administrator");
        }
        let policies: Vec<&str> = self
            .policies
            .iter()
            .chain(&self.inline_policies)
            .map(String::as_str)
            .collect();
        s.push_str(&format!("; policies: {}", list_or_none(&policies)));
        if self.kind == PrincipalKind::User {
            let groups: Vec<&str> = self.groups.iter().map(String::as_str).collect();
            s.push_str(&format!("; groups: {}", list_or_none(&groups)));
        }
        if let Some(key) = &self.key {
            if let Some(created) = key.created.and_then(rfc3339) {
                s.push_str(&format!("; key created {created}"));
            }
            match key.last_used.and_then(rfc3339) {
                Some(used) => s.push_str(&format!(", last used {used}")),
                None => s.push_str(", never used before"),
            }
        }
        s
    }
}

/// The access key a finding names, as IAM knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyDetails {
    /// The access key id.
    #[serde(default)]
    pub id: String,
    /// `Active` or `Inactive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// When the key was created.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub created: Option<OffsetDateTime>,
    /// When the key was last used (IAM's `GetAccessKeyLastUsed`; absent: never).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub last_used: Option<OffsetDateTime>,
    /// The service the key was last used with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_service: Option<String>,
    /// The region the key was last used in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_region: Option<String>,
}

/// What an access key did over a window of time: a summary of its CloudTrail events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivitySummary {
    /// The window, in hours before the lookup.
    #[serde(default)]
    pub hours: u32,
    /// How many events were read.
    #[serde(default)]
    pub events: u64,
    /// Whether there were more events than were read (the `max_events` limit).
    #[serde(default)]
    pub truncated: bool,
    /// Events by name (`ListUsers` -> 12).
    #[serde(default)]
    pub by_name: BTreeMap<String, u64>,
    /// The distinct source IP addresses (or service names), most frequent first.
    #[serde(default)]
    pub source_ips: Vec<String>,
    /// The distinct names of write calls (anything but `Get*`, `List*`, `Describe*`), sorted.
    #[serde(default)]
    pub writes: Vec<String>,
    /// The time of the earliest event read.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub first_seen: Option<OffsetDateTime>,
    /// The time of the latest event read.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub last_seen: Option<OffsetDateTime>,
}

/// One API call, as much of it as a summary needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityEvent {
    /// The API called, e.g. `ListUsers`.
    pub name: String,
    /// When.
    pub time: Option<OffsetDateTime>,
    /// From where (an IP address, or the service that called on the principal's behalf).
    pub source_ip: Option<String>,
}

/// Whether an API call changes something: anything but `Get*`, `List*` and `Describe*`.
pub fn is_write(name: &str) -> bool {
    !["Get", "List", "Describe"]
        .iter()
        .any(|read| name.starts_with(read))
}

impl ActivitySummary {
    /// Summarizes `events` read over the last `hours`; `truncated` says there were more.
    pub fn from_events(
        hours: u32,
        events: impl IntoIterator<Item = ActivityEvent>,
        truncated: bool,
    ) -> Self {
        let mut summary = Self {
            hours,
            truncated,
            ..Self::default()
        };
        let mut ips: BTreeMap<String, u64> = BTreeMap::new();
        for e in events {
            summary.events += 1;
            if let Some(t) = e.time {
                summary.first_seen = Some(summary.first_seen.map_or(t, |f| f.min(t)));
                summary.last_seen = Some(summary.last_seen.map_or(t, |l| l.max(t)));
            }
            if let Some(ip) = e.source_ip.filter(|ip| !ip.is_empty()) {
                *ips.entry(ip).or_default() += 1;
            }
            if is_write(&e.name) && !summary.writes.contains(&e.name) {
                summary.writes.push(e.name.clone());
            }
            *summary.by_name.entry(e.name).or_default() += 1;
        }
        summary.writes.sort();
        let mut ips: Vec<(String, u64)> = ips.into_iter().collect();
        ips.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        summary.source_ips = ips.into_iter().map(|(ip, _)| ip).collect();
        summary
    }

    /// The `n` most frequent calls, most frequent first (ties by name).
    pub fn top(&self, n: usize) -> Vec<(&str, u64)> {
        let mut all: Vec<(&str, u64)> = self
            .by_name
            .iter()
            .map(|(name, count)| (name.as_str(), *count))
            .collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        all.truncate(n);
        all
    }

    /// Whether any write call happened.
    pub fn any_write(&self) -> bool {
        !self.writes.is_empty()
    }

    /// `37 calls in the last 24 h (ListUsers 12, ...); from 198.51.100.23; writes: PutUserPolicy`.
    pub fn summary(&self) -> String {
        let more = if self.truncated { " or more" } else { "" };
        let mut s = format!("{}{more} calls in the last {} h", self.events, self.hours);
        let top: Vec<String> = self
            .top(5)
            .into_iter()
            .map(|(name, count)| format!("{name} {count}"))
            .collect();
        if !top.is_empty() {
            s.push_str(&format!(" ({})", top.join(", ")));
        }
        if !self.source_ips.is_empty() {
            s.push_str(&format!("; from {}", self.source_ips.join(", ")));
        }
        let writes: Vec<&str> = self.writes.iter().map(String::as_str).collect();
        s.push_str(&format!("; writes: {}", list_or_none(&writes)));
        s
    }
}

/// Why a part of the context is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContextErrorKind {
    /// The principal (or its key) does not exist.
    NotFound,
    /// The credentials may not read it.
    PermissionDenied,
    /// The service asked to slow down, past the retries.
    Throttled,
    /// The enricher did not finish in time.
    Timeout,
    /// The service could not be reached or failed on its side.
    Unavailable,
    /// The enricher does not handle this finding or principal (a sample, a federated user).
    Unsupported,
    /// Anything else.
    Failed,
}

impl ContextErrorKind {
    /// The kind's name as used in the JSON form, e.g. `permission_denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::PermissionDenied => "permission_denied",
            Self::Throttled => "throttled",
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::Unsupported => "unsupported",
            Self::Failed => "failed",
        }
    }
}

/// A part of the context an enricher could not give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextError {
    /// The enricher, e.g. `iam` or `cloudtrail`.
    pub enricher: String,
    /// What went wrong.
    pub kind: ContextErrorKind,
    /// What went wrong, for people.
    pub message: String,
}

impl ContextError {
    /// An error of `enricher`.
    pub fn new(
        enricher: impl Into<String>,
        kind: ContextErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Self {
            enricher: enricher.into(),
            kind,
            message: message.into(),
        }
    }
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// `2026-11-27T10:00:00Z`.
pub(crate) fn rfc3339(t: OffsetDateTime) -> Option<String> {
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn event(name: &str, minute: u8, ip: &str) -> ActivityEvent {
        ActivityEvent {
            name: name.into(),
            time: Some(
                datetime!(2026-11-27 10:00 UTC)
                    .replace_minute(minute)
                    .unwrap(),
            ),
            source_ip: Some(ip.into()),
        }
    }

    #[test]
    fn events_are_summarized() {
        let s = ActivitySummary::from_events(
            24,
            [
                event("ListUsers", 5, "198.51.100.23"),
                event("ListUsers", 1, "198.51.100.23"),
                event("PutUserPolicy", 9, "203.0.113.7"),
                event("GetCallerIdentity", 3, "198.51.100.23"),
                event("DescribeInstances", 2, "203.0.113.7"),
                event("CreateAccessKey", 4, "198.51.100.23"),
                event("PutUserPolicy", 7, "198.51.100.23"),
            ],
            true,
        );
        assert_eq!(s.events, 7);
        assert_eq!(s.by_name["ListUsers"], 2);
        assert_eq!(s.source_ips, ["198.51.100.23", "203.0.113.7"]);
        assert_eq!(s.writes, ["CreateAccessKey", "PutUserPolicy"]);
        assert!(s.any_write());
        assert_eq!(s.first_seen, Some(datetime!(2026-11-27 10:01 UTC)));
        assert_eq!(s.last_seen, Some(datetime!(2026-11-27 10:09 UTC)));
        assert_eq!(s.top(2), [("ListUsers", 2), ("PutUserPolicy", 2)]);
        assert_eq!(
            s.summary(),
            "7 or more calls in the last 24 h (ListUsers 2, PutUserPolicy 2, CreateAccessKey 1, \
             DescribeInstances 1, GetCallerIdentity 1); from 198.51.100.23, 203.0.113.7; writes: \
             CreateAccessKey, PutUserPolicy"
        );
        assert!(!is_write("GetObject") && !is_write("ListBuckets") && is_write("RunInstances"));
    }

    #[test]
    fn merging_keeps_the_first_part_and_every_error() {
        let mut a = Context::failed(ContextError::new("iam", ContextErrorKind::NotFound, "x"));
        let b = Context {
            principal: Some(PrincipalDetails {
                name: "alice".into(),
                ..PrincipalDetails::default()
            }),
            activity: None,
            errors: vec![ContextError::new("ct", ContextErrorKind::Timeout, "y")],
        };
        a.merge(b);
        assert_eq!(a.principal.as_ref().unwrap().name, "alice");
        assert_eq!(a.errors.len(), 2);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Context>(&json).unwrap(), a);
        assert!(json.contains(r#""kind":"timeout""#), "{json}");
        assert!(
            serde_json::from_str::<Context>(r#"{"principal": {"is_admn": true}}"#).is_err(),
            "unknown fields are refused"
        );
    }
}
