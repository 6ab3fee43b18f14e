//! `finding.context` as scripts see it: a map built from the finding's [`Context`], and the one
//! table of its properties ([`CONTEXT_PROPERTIES`]) from which the author's guide and
//! `remedy check`'s lint are made (a test checks the map against it).

use rhai::{Array, Dynamic, ImmutableString, Map};
use time::OffsetDateTime;

use crate::enrich::{ActivitySummary, Context, ContextError, KeyDetails, PrincipalDetails};

/// The properties of `finding.context`, by path: name, script type, meaning. A path with
/// children (`principal.key`) is a map of fixed keys; any other map (`principal.tags`) has
/// arbitrary keys.
pub(crate) const CONTEXT_PROPERTIES: &[(&str, &str, &str)] = &[
    (
        "principal",
        "map or ()",
        "the principal's permissions (IAM); `()` when not enriched, not found or failed (see `errors`)",
    ),
    ("principal.kind", "string", "`user`, `role` or `root`"),
    ("principal.name", "string", "the user or role name"),
    ("principal.arn", "string or ()", "the user's or role's ARN"),
    (
        "principal.created",
        "string or ()",
        "when the user or role was created (RFC 3339)",
    ),
    (
        "principal.policies",
        "array of strings",
        "the managed policies attached to the user or role itself",
    ),
    (
        "principal.inline_policies",
        "array of strings",
        "the inline policies of the user or role",
    ),
    ("principal.groups", "array of strings", "the user's groups"),
    (
        "principal.group_policies",
        "map",
        "group name to the group's policies (attached and inline)",
    ),
    (
        "principal.is_admin",
        "bool",
        "whether any of these policies grants administrator rights (`AdministratorAccess`, or `\"Action\": \"*\"` or `iam:*` on `\"Resource\": \"*\"`); always true for root",
    ),
    (
        "principal.admin_via",
        "array of strings",
        "the policies that grant administrator rights",
    ),
    (
        "principal.tags",
        "map",
        "the user's or role's tags, key to value",
    ),
    (
        "principal.key",
        "map or ()",
        "the finding's access key as IAM knows it (users only)",
    ),
    ("principal.key.id", "string", "the access key id"),
    (
        "principal.key.status",
        "string or ()",
        "`Active` or `Inactive`",
    ),
    (
        "principal.key.created",
        "string or ()",
        "when the key was created (RFC 3339)",
    ),
    (
        "principal.key.last_used",
        "string or ()",
        "when the key was last used before (RFC 3339); `()`: never",
    ),
    (
        "principal.key.last_used_service",
        "string or ()",
        "the service it was last used with",
    ),
    (
        "principal.key.last_used_region",
        "string or ()",
        "the region it was last used in",
    ),
    (
        "activity",
        "map or ()",
        "what the access key did recently (CloudTrail); `()` when not enriched or failed (see `errors`)",
    ),
    (
        "activity.hours",
        "int",
        "the window: this many hours before the lookup",
    ),
    ("activity.events", "int", "how many calls were read"),
    (
        "activity.truncated",
        "bool",
        "whether there were more calls than were read (`max_events`)",
    ),
    (
        "activity.by_name",
        "map",
        "calls by API name, e.g. `#{ListUsers: 12}`",
    ),
    (
        "activity.top",
        "array of maps",
        "the 5 most frequent calls, most frequent first: `#{name, count}`",
    ),
    (
        "activity.source_ips",
        "array of strings",
        "the distinct source addresses, most frequent first",
    ),
    (
        "activity.writes",
        "array of strings",
        "the distinct write calls (anything but `Get*`, `List*`, `Describe*`), sorted",
    ),
    (
        "activity.any_write",
        "bool",
        "whether any write call happened",
    ),
    (
        "activity.first_seen",
        "string or ()",
        "the time of the earliest call read (RFC 3339)",
    ),
    (
        "activity.last_seen",
        "string or ()",
        "the time of the latest call read (RFC 3339)",
    ),
    (
        "errors",
        "array of maps",
        "what could not be found or fetched: `#{enricher, kind, message}`, `kind` one of `not_found`, `permission_denied`, `throttled`, `timeout`, `unavailable`, `unsupported`, `failed`",
    ),
];

/// The known keys of the fixed-key map at `path` (`""` is `finding.context` itself), or `None`
/// when the value at `path` is not such a map (its keys are not checked).
pub(crate) fn known_keys(path: &str) -> Option<Vec<&'static str>> {
    let keys: Vec<&'static str> = CONTEXT_PROPERTIES
        .iter()
        .filter_map(|(p, ..)| match path {
            "" => Some(*p).filter(|p| !p.contains('.')),
            _ => p
                .strip_prefix(path)
                .and_then(|rest| rest.strip_prefix('.'))
                .filter(|rest| !rest.contains('.')),
        })
        .collect();
    (!keys.is_empty()).then_some(keys)
}

fn text(s: &str) -> Dynamic {
    Dynamic::from(ImmutableString::from(s))
}

fn opt(s: Option<&str>) -> Dynamic {
    s.map_or(Dynamic::UNIT, text)
}

fn time(t: Option<OffsetDateTime>) -> Dynamic {
    opt(t
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .as_deref())
}

fn int(n: u64) -> Dynamic {
    Dynamic::from(i64::try_from(n).unwrap_or(i64::MAX))
}

fn strings(items: &[String]) -> Dynamic {
    Dynamic::from_array(items.iter().map(|s| text(s)).collect())
}

fn map<'a>(entries: impl IntoIterator<Item = (&'a str, Dynamic)>) -> Dynamic {
    Dynamic::from_map(
        entries
            .into_iter()
            .map(|(k, v)| (k.into(), v))
            .collect::<Map>(),
    )
}

/// `finding.context`: `#{principal, activity, errors}`, every part present (`()` when missing),
/// so `finding.context.principal` never fails.
pub(crate) fn to_dynamic(context: Option<&Context>) -> Dynamic {
    let principal = context.and_then(|c| c.principal.as_ref());
    let activity = context.and_then(|c| c.activity.as_ref());
    let errors: Array = context
        .map(|c| c.errors.iter().map(error).collect())
        .unwrap_or_default();
    map([
        ("principal", principal.map_or(Dynamic::UNIT, principal_map)),
        ("activity", activity.map_or(Dynamic::UNIT, activity_map)),
        ("errors", Dynamic::from_array(errors)),
    ])
}

fn principal_map(p: &PrincipalDetails) -> Dynamic {
    let group_policies = p
        .group_policies
        .iter()
        .map(|(g, policies)| (g.as_str(), strings(policies)));
    let tags = p.tags.iter().map(|(k, v)| (k.as_str(), text(v)));
    map([
        ("kind", text(p.kind.as_str())),
        ("name", text(&p.name)),
        ("arn", opt(p.arn.as_deref())),
        ("created", time(p.created)),
        ("policies", strings(&p.policies)),
        ("inline_policies", strings(&p.inline_policies)),
        ("groups", strings(&p.groups)),
        ("group_policies", map(group_policies)),
        ("is_admin", Dynamic::from(p.is_admin)),
        ("admin_via", strings(&p.admin_via)),
        ("tags", map(tags)),
        ("key", p.key.as_ref().map_or(Dynamic::UNIT, key_map)),
    ])
}

fn key_map(k: &KeyDetails) -> Dynamic {
    map([
        ("id", text(&k.id)),
        ("status", opt(k.status.as_deref())),
        ("created", time(k.created)),
        ("last_used", time(k.last_used)),
        ("last_used_service", opt(k.last_used_service.as_deref())),
        ("last_used_region", opt(k.last_used_region.as_deref())),
    ])
}

fn activity_map(a: &ActivitySummary) -> Dynamic {
    let by_name = a.by_name.iter().map(|(name, n)| (name.as_str(), int(*n)));
    let top: Array = a
        .top(5)
        .into_iter()
        .map(|(name, n)| map([("name", text(name)), ("count", int(n))]))
        .collect();
    map([
        ("hours", int(u64::from(a.hours))),
        ("events", int(a.events)),
        ("truncated", Dynamic::from(a.truncated)),
        ("by_name", map(by_name)),
        ("top", Dynamic::from_array(top)),
        ("source_ips", strings(&a.source_ips)),
        ("writes", strings(&a.writes)),
        ("any_write", Dynamic::from(a.any_write())),
        ("first_seen", time(a.first_seen)),
        ("last_seen", time(a.last_seen)),
    ])
}

fn error(e: &ContextError) -> Dynamic {
    map([
        ("enricher", text(&e.enricher)),
        ("kind", text(e.kind.as_str())),
        ("message", text(&e.message)),
    ])
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::enrich::{ActivityEvent, ContextErrorKind};

    fn full() -> Context {
        let t = time::macros::datetime!(2026-11-27 10:00 UTC);
        Context {
            principal: Some(PrincipalDetails {
                name: "alice".into(),
                arn: Some("arn:aws:iam::123456789012:user/alice".into()),
                created: Some(t),
                policies: vec!["AdministratorAccess".into()],
                groups: vec!["ops".into()],
                is_admin: true,
                key: Some(KeyDetails {
                    id: "AKIAIOSFODNN7EXAMPLE".into(),
                    status: Some("Active".into()),
                    created: Some(t),
                    last_used: Some(t),
                    last_used_service: Some("iam".into()),
                    last_used_region: Some("us-east-1".into()),
                }),
                ..PrincipalDetails::default()
            }),
            activity: Some(ActivitySummary::from_events(
                24,
                [ActivityEvent {
                    name: "ListUsers".into(),
                    time: Some(t),
                    source_ip: Some("198.51.100.23".into()),
                }],
                false,
            )),
            errors: vec![ContextError::new("x", ContextErrorKind::Timeout, "late")],
        }
    }

    /// Every path of fixed-key maps in `value`, below `prefix`.
    fn paths(value: &Dynamic, prefix: &str, out: &mut BTreeSet<String>) {
        let Some(map) = value.read_lock::<Map>() else {
            return;
        };
        if known_keys(prefix).is_none() {
            return;
        }
        for (k, v) in map.iter() {
            let path = if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            };
            paths(v, &path, out);
            out.insert(path);
        }
    }

    #[test]
    fn the_map_has_exactly_the_documented_properties() {
        let mut found = BTreeSet::new();
        paths(&to_dynamic(Some(&full())), "", &mut found);
        let documented: BTreeSet<String> = CONTEXT_PROPERTIES
            .iter()
            .map(|(p, ..)| p.to_string())
            .collect();
        assert_eq!(found, documented);
    }

    #[test]
    fn missing_parts_are_unit_and_keys_are_known_by_level() {
        let value = to_dynamic(None);
        let map = value.read_lock::<Map>().unwrap();
        assert!(map["principal"].is_unit() && map["activity"].is_unit());
        assert_eq!(map["errors"].clone().into_array().unwrap().len(), 0);
        assert!(known_keys("principal").unwrap().contains(&"is_admin"));
        assert!(known_keys("principal.key").unwrap().contains(&"last_used"));
        assert_eq!(known_keys("principal.tags"), None);
        assert_eq!(
            known_keys(""),
            Some(vec!["principal", "activity", "errors"])
        );
    }
}
