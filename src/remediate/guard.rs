//! Guards checked before anything destructive: protection, rate limits and the circuit breaker,
//! the kill switch.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::glob::glob_match;
use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::action::FindingContext;
use crate::plan::{Action, ActionKind};

/// The result of one guard for one action, as recorded in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardResult {
    /// The guard: `kill_switch`, `sample`, `protection`, `circuit_breaker`, `rate_limit`,
    /// `enforcement`, `ledger`.
    pub guard: &'static str,
    /// Whether the action may go on.
    pub passed: bool,
    /// What the guard saw, when it stopped the action or has something to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl GuardResult {
    pub(crate) fn pass(guard: &'static str) -> Self {
        Self {
            guard,
            passed: true,
            detail: None,
        }
    }

    pub(crate) fn block(guard: &'static str, detail: impl Into<String>) -> Self {
        Self {
            guard,
            passed: false,
            detail: Some(detail.into()),
        }
    }
}

/// Principals and resources no policy may touch, as written in the configuration.
///
/// Every entry is a glob (`*` any run of characters, `?` one character) matched against the whole
/// name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectConfig {
    /// IAM user names, e.g. `break-glass-*`.
    #[serde(default)]
    pub users: Vec<String>,
    /// IAM role names; a finding whose principal is an assumed role of this name is not acted on.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Access key ids.
    #[serde(default)]
    pub access_keys: Vec<String>,
    /// EC2 instance ids.
    #[serde(default)]
    pub instances: Vec<String>,
    /// Instance tags: an instance carrying a matching tag is protected.
    #[serde(default)]
    pub instance_tags: Vec<TagRule>,
}

/// A protected instance tag: the key, and optionally a value glob (absent: any value).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TagRule {
    /// The tag key, e.g. `remedy:protect`.
    pub key: String,
    /// A glob over the value, e.g. `prod*`.
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Clone)]
struct Rule {
    pattern: String,
}

impl Rule {
    fn all(patterns: &[String]) -> Vec<Self> {
        patterns
            .iter()
            .map(|p| Rule { pattern: p.clone() })
            .collect()
    }

    fn matches(&self, name: &str) -> bool {
        glob_match(&self.pattern, name)
    }
}

fn empty_pattern(field: &str) -> ConfigError {
    ConfigError::Invalid {
        field: field.to_owned(),
        message: "an empty pattern protects nothing; remove it or write a name or glob".to_owned(),
    }
}

fn first_match<'r>(rules: &'r [Rule], name: &str) -> Option<&'r str> {
    rules
        .iter()
        .find(|r| r.matches(name))
        .map(|r| r.pattern.as_str())
}

/// Compiled protection rules.
#[derive(Debug, Clone, Default)]
pub struct Protection {
    users: Vec<Rule>,
    roles: Vec<Rule>,
    access_keys: Vec<Rule>,
    instances: Vec<Rule>,
    tags: Vec<(String, Option<Rule>)>,
}

impl Protection {
    /// Compiles the rules. Every pattern is a glob in remedy's one dialect (`*`, `?`); an empty
    /// pattern, which could only match an empty name, is an error naming the field.
    pub fn new(config: &ProtectConfig) -> Result<Self, ConfigError> {
        let fields = [
            ("protect.users", &config.users),
            ("protect.roles", &config.roles),
            ("protect.access_keys", &config.access_keys),
            ("protect.instances", &config.instances),
        ];
        for (field, patterns) in fields {
            if patterns.iter().any(String::is_empty) {
                return Err(empty_pattern(field));
            }
        }
        if config.instance_tags.iter().any(|t| t.key.is_empty()) {
            return Err(empty_pattern("protect.instance_tags"));
        }
        Ok(Self {
            users: Rule::all(&config.users),
            roles: Rule::all(&config.roles),
            access_keys: Rule::all(&config.access_keys),
            instances: Rule::all(&config.instances),
            tags: config
                .instance_tags
                .iter()
                .map(|t| {
                    let value = t.value.as_ref().map(|v| Rule { pattern: v.clone() });
                    (t.key.clone(), value)
                })
                .collect(),
        })
    }

    /// The rule protecting what `action` would touch, as text such as ``user `admin*` ``.
    pub fn check(&self, action: &Action, finding: &FindingContext) -> Option<String> {
        if matches!(finding.user_type.as_deref(), Some("AssumedRole" | "Role"))
            && let Some(role) = finding.user_name.as_deref()
            && let Some(p) = first_match(&self.roles, role)
        {
            return Some(format!("role `{p}` (principal `{role}`)"));
        }
        match action {
            Action::DisableAccessKey(d) => {
                if let Some(p) = first_match(&self.users, d.user_name.as_str()) {
                    return Some(format!("user `{p}`"));
                }
                if let Some(p) = first_match(&self.access_keys, d.access_key_id.as_str()) {
                    return Some(format!("access key `{p}`"));
                }
                None
            }
            Action::RunCommand(r) => r
                .instance_ids
                .iter()
                .find_map(|i| self.check_instance(i.as_str(), finding)),
            Action::Custom(c) => self
                .check_instance(&c.target, finding)
                .or_else(|| first_match(&self.users, &c.target).map(|p| format!("user `{p}`"))),
            _ => None,
        }
    }

    fn check_instance(&self, instance: &str, finding: &FindingContext) -> Option<String> {
        if let Some(p) = first_match(&self.instances, instance) {
            return Some(format!("instance `{p}`"));
        }
        // Tags are known only for the finding's own instance.
        if !finding.instance_ids.iter().any(|i| i == instance) {
            return None;
        }
        for (key, value_rule) in &self.tags {
            for (k, v) in &finding.instance_tags {
                if k != key {
                    continue;
                }
                match value_rule {
                    None => return Some(format!("instance tag `{key}`")),
                    Some(rule) if rule.matches(v) => {
                        return Some(format!("instance tag `{key}={}`", rule.pattern));
                    }
                    Some(_) => {}
                }
            }
        }
        None
    }
}

/// A rate limit: at most `max` actions of a kind per `per_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// The most actions in a window.
    pub max: u32,
    /// The window, in seconds.
    pub per_secs: u64,
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} per {} s", self.max, self.per_secs)
    }
}

/// Sliding-window rate limits per action kind, and the circuit breaker they trip.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    limits: BTreeMap<ActionKind, RateLimit>,
    windows: Mutex<BTreeMap<ActionKind, VecDeque<Instant>>>,
    cooldown: Duration,
    open: Mutex<Option<(Instant, String)>>,
}

/// What the limiter said about one action.
pub(crate) enum Admission {
    Admitted,
    Limited { limit: RateLimit, tripped: bool },
}

impl Limiter {
    pub(crate) fn new(limits: BTreeMap<ActionKind, RateLimit>, cooldown: Duration) -> Self {
        Self {
            limits,
            windows: Mutex::default(),
            cooldown,
            open: Mutex::default(),
        }
    }

    /// The breaker's cause while it is open.
    pub(crate) fn open_cause(&self) -> Option<String> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        match &*open {
            Some((until, cause)) if Instant::now() < *until => Some(cause.clone()),
            Some(_) => {
                *open = None;
                None
            }
            None => None,
        }
    }

    /// Counts one action of `kind`; when the limit is exceeded, trips the breaker for destructive
    /// kinds (`tripped` is true for the call that tripped it).
    pub(crate) fn admit(&self, kind: &ActionKind, destructive: bool) -> Admission {
        let Some(limit) = self.limits.get(kind).copied() else {
            return Admission::Admitted;
        };
        let now = Instant::now();
        let window = Duration::from_secs(limit.per_secs);
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let times = windows.entry(kind.clone()).or_default();
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            times.pop_front();
        }
        if times.len() < limit.max as usize {
            times.push_back(now);
            return Admission::Admitted;
        }
        drop(windows);
        let mut tripped = false;
        if destructive {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            if open.as_ref().is_none_or(|(until, _)| now >= *until) {
                *open = Some((
                    now + self.cooldown,
                    format!("rate limit of `{kind}` ({limit}) exceeded"),
                ));
                tripped = true;
            }
        }
        Admission::Limited { limit, tripped }
    }

    pub(crate) fn cooldown(&self) -> Duration {
        self.cooldown
    }
}

/// A global stop for destructive actions: a flag, and optionally a file whose existence engages
/// it (`touch` the file to stop remedy without restarting it). Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct KillSwitch {
    flag: Arc<AtomicBool>,
    file: Option<PathBuf>,
}

impl KillSwitch {
    /// A released switch with no file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also engages the switch while `path` exists.
    pub fn with_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Engages the switch.
    pub fn engage(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Releases the flag (the file, if any, still counts).
    pub fn release(&self) {
        self.flag.store(false, Ordering::SeqCst);
    }

    /// Where the switch is engaged from, or `None` when it is released.
    pub fn engaged(&self) -> Option<String> {
        if self.flag.load(Ordering::SeqCst) {
            return Some("engaged by the host".into());
        }
        let file = self.file.as_ref()?;
        file.try_exists()
            .unwrap_or(true)
            .then(|| format!("file `{}` exists", file.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{AccessKeyId, InstanceId, UserName};
    use crate::plan::{DisableAccessKey, RunCommand};

    fn protection() -> Protection {
        Protection::new(&ProtectConfig {
            users: vec!["break-glass-*".into(), "admin".into()],
            roles: vec!["OrganizationAccountAccessRole".into()],
            access_keys: vec!["AKIAPROTECTED0000000".into()],
            instances: vec!["i-0000000000000000a".into()],
            instance_tags: vec![
                TagRule {
                    key: "remedy:protect".into(),
                    value: None,
                },
                TagRule {
                    key: "env".into(),
                    value: Some("prod*".into()),
                },
            ],
        })
        .unwrap()
    }

    fn disable(user: &str, key: &str) -> Action {
        Action::DisableAccessKey(DisableAccessKey {
            user_name: UserName::new(user).unwrap(),
            access_key_id: AccessKeyId::new(key).unwrap(),
        })
    }

    fn run(instance: &str) -> Action {
        Action::RunCommand(RunCommand {
            document: "AWS-RunShellScript".into(),
            instance_ids: vec![InstanceId::new(instance).unwrap()],
            parameters: Default::default(),
        })
    }

    #[test]
    fn users_keys_and_roles_are_protected() {
        let p = protection();
        let f = FindingContext::new("f", "t");
        assert_eq!(
            p.check(&disable("break-glass-1", "AKIAAAAAAAAAAAAAAAAA"), &f)
                .unwrap(),
            "user `break-glass-*`"
        );
        assert!(
            p.check(&disable("alice", "AKIAPROTECTED0000000"), &f)
                .is_some()
        );
        assert!(
            p.check(&disable("alice", "AKIAAAAAAAAAAAAAAAAA"), &f)
                .is_none()
        );
        let mut role = f.clone();
        role.user_type = Some("AssumedRole".into());
        role.user_name = Some("OrganizationAccountAccessRole".into());
        assert!(
            p.check(&disable("alice", "AKIAAAAAAAAAAAAAAAAA"), &role)
                .is_some()
        );
    }

    #[test]
    fn instances_and_their_tags_are_protected() {
        let p = protection();
        let mut f = FindingContext::new("f", "t");
        assert!(p.check(&run("i-0000000000000000a"), &f).is_some());
        assert!(p.check(&run("i-0000000000000000b"), &f).is_none());
        f.instance_ids = vec!["i-0000000000000000b".into()];
        f.instance_tags = vec![("env".into(), "production".into())];
        assert_eq!(
            p.check(&run("i-0000000000000000b"), &f).unwrap(),
            "instance tag `env=prod*`"
        );
        f.instance_tags = vec![("env".into(), "dev".into())];
        assert!(p.check(&run("i-0000000000000000b"), &f).is_none());
    }

    #[test]
    fn empty_patterns_are_reported() {
        let err = Protection::new(&ProtectConfig {
            users: vec!["admin".into(), String::new()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("`protect.users`"), "{err}");
        // Brackets are plain characters in remedy's globs, not an error.
        let p = Protection::new(&ProtectConfig {
            users: vec!["a[".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.users.len(), 1);
    }

    #[test]
    fn limiter_trips_once_and_blocks() {
        let limits = BTreeMap::from([(
            ActionKind::DISABLE_ACCESS_KEY,
            RateLimit {
                max: 2,
                per_secs: 60,
            },
        )]);
        let l = Limiter::new(limits, Duration::from_secs(60));
        let k = ActionKind::DISABLE_ACCESS_KEY;
        assert!(matches!(l.admit(&k, true), Admission::Admitted));
        assert!(matches!(l.admit(&k, true), Admission::Admitted));
        assert!(l.open_cause().is_none());
        assert!(matches!(
            l.admit(&k, true),
            Admission::Limited { tripped: true, .. }
        ));
        assert!(matches!(
            l.admit(&k, true),
            Admission::Limited { tripped: false, .. }
        ));
        assert!(l.open_cause().unwrap().contains("disable_access_key"));
        assert!(matches!(
            l.admit(&ActionKind::NOTIFY, false),
            Admission::Admitted
        ));
    }

    #[test]
    fn kill_switch_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("STOP");
        let k = KillSwitch::new().with_file(&path);
        assert!(k.engaged().is_none());
        std::fs::write(&path, "").unwrap();
        assert!(k.engaged().unwrap().contains("STOP"));
        std::fs::remove_file(&path).unwrap();
        k.clone().engage();
        assert!(k.engaged().is_some());
    }
}
