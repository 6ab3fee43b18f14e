//! Protection: principals and resources no policy may touch, as configured.

use crate::config::{ConfigError, ProtectConfig};
use crate::glob::glob_match;
use crate::plan::{Action, FindingContext, IamPrincipal, Reversal};

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
    accounts: Vec<Rule>,
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
            ("protect.accounts", &config.accounts),
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
            accounts: Rule::all(&config.accounts),
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
    ///
    /// Whatever the action, a finding whose principal is an assumed role listed in `roles` is not
    /// acted on. Then by what the action touches: a user (`disable_access_key`,
    /// `disable_console_login`, `quarantine_principal` of a user) is checked against `users`, a
    /// role (`revoke_role_sessions`, `quarantine_principal` of a role) against `roles`, an access
    /// key against `access_keys`, instances against `instances` and `instance_tags`
    /// (`isolate_instance`, and what a runbook's parameters name); an `undo` against what it
    /// would change back.
    pub fn check(&self, action: &Action, finding: &FindingContext) -> Option<String> {
        if let Some(p) = first_match(&self.accounts, finding.account_id.as_str()) {
            return Some(format!("account `{p}`"));
        }
        if matches!(finding.user_type(), Some("AssumedRole" | "Role"))
            && let Some(role) = finding.user_name()
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
            Action::RevokeRoleSessions(r) => self.check_role(r.role_name.as_str()),
            Action::QuarantinePrincipal(q) => self.check_principal(&q.principal),
            Action::DisableConsoleLogin(d) => self.check_user(d.user_name.as_str()),
            Action::Undo(u) => match &u.reversal {
                Reversal::EnableAccessKey {
                    user_name,
                    access_key_id,
                } => self.check_user(user_name.as_str()).or_else(|| {
                    first_match(&self.access_keys, access_key_id.as_str())
                        .map(|p| format!("access key `{p}`"))
                }),
                Reversal::DeleteInlinePolicy { principal, .. }
                | Reversal::DetachPolicy { principal, .. } => self.check_principal(principal),
                Reversal::ReleaseInstance { instance_id } => {
                    self.check_instance(instance_id.as_str(), finding)
                }
                _ => None,
            },
            Action::IsolateInstance(i) => self.check_instance(i.instance_id.as_str(), finding),
            Action::StartAutomation(a) => self.check_named(&a.named(), finding),
            Action::StartExecution(e) => self.check_named(&e.named(), finding),
            Action::Custom(c) => self
                .check_instance(&c.target, finding)
                .or_else(|| first_match(&self.users, &c.target).map(|p| format!("user `{p}`")))
                .or_else(|| first_match(&self.roles, &c.target).map(|p| format!("role `{p}`")))
                .or_else(|| {
                    first_match(&self.access_keys, &c.target).map(|p| format!("access key `{p}`"))
                }),
            _ => None,
        }
    }

    /// The first of what a runbook's parameters name that is protected: as an instance, a user
    /// or a role.
    fn check_named(&self, named: &[String], finding: &FindingContext) -> Option<String> {
        named.iter().find_map(|n| {
            let instance = crate::id::InstanceId::new(n.as_str()).is_ok();
            instance
                .then(|| self.check_instance(n, finding))
                .flatten()
                .or_else(|| self.check_user(n))
                .or_else(|| self.check_role(n))
        })
    }

    fn check_user(&self, user: &str) -> Option<String> {
        first_match(&self.users, user).map(|p| format!("user `{p}`"))
    }

    fn check_role(&self, role: &str) -> Option<String> {
        first_match(&self.roles, role).map(|p| format!("role `{p}`"))
    }

    fn check_principal(&self, principal: &IamPrincipal) -> Option<String> {
        match principal {
            IamPrincipal::User(u) => self.check_user(u.as_str()),
            IamPrincipal::Role(r) => self.check_role(r.as_str()),
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
            let Some(value) = finding.instance_tags.get(key) else {
                continue;
            };
            match value_rule {
                None => return Some(format!("instance tag `{key}`")),
                Some(rule) if rule.matches(value) => {
                    return Some(format!("instance tag `{key}={}`", rule.pattern));
                }
                Some(_) => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TagRule;
    use crate::finding::{FindingType, Severity};
    use crate::id::{AccessKeyId, InstanceId, UserName};
    use crate::plan::{DisableAccessKey, Principal, RunCommand};

    fn context() -> FindingContext {
        FindingContext::new(
            "f",
            FindingType::new("Recon:IAMUser/UserPermissions").unwrap(),
            Severity::new(5.0).unwrap(),
        )
    }

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
            accounts: vec!["0000000000*".into()],
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
        let f = context();
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
        role.principal = Some(Principal {
            user_type: Some("AssumedRole".into()),
            user_name: Some("OrganizationAccountAccessRole".into()),
            ..Principal::default()
        });
        assert!(
            p.check(&disable("alice", "AKIAAAAAAAAAAAAAAAAA"), &role)
                .is_some()
        );
    }

    #[test]
    fn roles_and_users_named_by_containment_actions_are_protected() {
        use crate::id::RoleName;
        use crate::plan::{
            DisableConsoleLogin, PrincipalKind, QuarantinePrincipal, RevokeRoleSessions, Undo,
        };
        let p = protection();
        let f = context();
        let revoke = |role: &str| {
            Action::RevokeRoleSessions(RevokeRoleSessions {
                role_name: RoleName::new(role).unwrap(),
            })
        };
        assert_eq!(
            p.check(&revoke("OrganizationAccountAccessRole"), &f)
                .unwrap(),
            "role `OrganizationAccountAccessRole`"
        );
        assert!(p.check(&revoke("web-server-role"), &f).is_none());
        let quarantine = |kind, name: &str| {
            Action::QuarantinePrincipal(QuarantinePrincipal {
                principal: IamPrincipal::new(kind, name).unwrap(),
            })
        };
        assert!(
            p.check(&quarantine(PrincipalKind::User, "break-glass-2"), &f)
                .is_some()
        );
        assert!(
            p.check(&quarantine(PrincipalKind::Role, "break-glass-2"), &f)
                .is_none(),
            "a role is checked against `roles`, not `users`"
        );
        assert!(
            p.check(
                &quarantine(PrincipalKind::Role, "OrganizationAccountAccessRole"),
                &f
            )
            .is_some()
        );
        let console = |user: &str| {
            Action::DisableConsoleLogin(DisableConsoleLogin {
                user_name: UserName::new(user).unwrap(),
            })
        };
        assert_eq!(p.check(&console("admin"), &f).unwrap(), "user `admin`");
        assert!(p.check(&console("alice"), &f).is_none());
        let undo = Action::Undo(Undo {
            record: "r".into(),
            reversal: Reversal::EnableAccessKey {
                user_name: UserName::new("alice").unwrap(),
                access_key_id: AccessKeyId::new("AKIAPROTECTED0000000").unwrap(),
            },
        });
        assert_eq!(
            p.check(&undo, &f).unwrap(),
            "access key `AKIAPROTECTED0000000`"
        );
    }

    #[test]
    fn instances_and_their_tags_are_protected() {
        let p = protection();
        let mut f = context();
        assert!(p.check(&run("i-0000000000000000a"), &f).is_some());
        assert!(p.check(&run("i-0000000000000000b"), &f).is_none());
        f.instance_ids = vec!["i-0000000000000000b".into()];
        f.instance_tags = [("env".to_owned(), "production".to_owned())].into();
        assert_eq!(
            p.check(&run("i-0000000000000000b"), &f).unwrap(),
            "instance tag `env=prod*`"
        );
        f.instance_tags = [("env".to_owned(), "dev".to_owned())].into();
        assert!(p.check(&run("i-0000000000000000b"), &f).is_none());
    }

    #[test]
    fn a_protected_account_is_never_acted_in() {
        let mut f = context();
        f.account_id = "000000000012".into();
        let by = protection().check(&disable("alice", "AKIAOTHER00000000000"), &f);
        assert_eq!(by.as_deref(), Some("account `0000000000*`"));
        f.account_id = "123456789012".into();
        assert_eq!(
            protection().check(&disable("alice", "AKIAOTHER00000000000"), &f),
            None
        );
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
}

#[cfg(test)]
mod runbook_tests {
    use super::*;
    use crate::config::TagRule;
    use crate::finding::{FindingType, Severity};
    use crate::id::InstanceId;
    use crate::plan::{IsolateInstance, StartAutomation, StartExecution};

    #[test]
    fn isolation_and_runbook_parameters_meet_the_protection_rules() {
        let protection = Protection::new(&ProtectConfig {
            users: vec!["break-glass-*".into()],
            instances: vec!["i-0000000000000000a".into()],
            instance_tags: vec![TagRule {
                key: "remedy:protect".into(),
                value: None,
            }],
            ..ProtectConfig::default()
        })
        .unwrap();
        let mut f = FindingContext::new(
            "f",
            FindingType::new("UnauthorizedAccess:EC2/SSHBruteForce").unwrap(),
            Severity::new(5.0).unwrap(),
        );
        f.instance_ids = vec!["i-0000000000000000b".into()];
        let isolate = |id: &str| {
            Action::IsolateInstance(IsolateInstance {
                instance_id: InstanceId::new(id).unwrap(),
            })
        };
        assert!(
            protection
                .check(&isolate("i-0000000000000000a"), &f)
                .is_some()
        );
        assert_eq!(protection.check(&isolate("i-0000000000000000b"), &f), None);
        f.instance_tags
            .insert("remedy:protect".into(), "yes".into());
        assert!(
            protection
                .check(&isolate("i-0000000000000000b"), &f)
                .is_some()
        );

        let automation = |k: &str, v: &str| {
            Action::StartAutomation(StartAutomation {
                document: "Doc".into(),
                parameters: [(k.to_owned(), vec![v.to_owned()])].into(),
            })
        };
        let arn = "arn:aws:iam::123456789012:user/break-glass-1";
        assert!(
            protection
                .check(&automation("PrincipalArn", arn), &f)
                .is_some()
        );
        assert!(
            protection
                .check(&automation("Target", "i-0000000000000000a"), &f)
                .is_some()
        );
        assert_eq!(
            protection.check(&automation("Comment", "break-glass-1"), &f),
            None
        );
        let execution = Action::StartExecution(StartExecution {
            state_machine: "m".into(),
            input: serde_json::json!({"who": {"userName": "break-glass-2"}})
                .as_object()
                .cloned()
                .unwrap(),
        });
        assert!(protection.check(&execution, &f).is_some());
    }
}
