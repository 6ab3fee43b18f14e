//! [`MemoryIam`]: users with access keys, console passwords and policies, and roles with
//! policies; the twin of the AWS IAM executors.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::lock;
use crate::action::containment::{
    console_irreversible, deny_all_document, quarantine_arn, revocation_time, revoke_document,
    revoke_time, say,
};
use crate::action::{ActionRequest, ErrorKind, Executor, Outcome, Verification};
use crate::plan::{
    Action, DEFAULT_QUARANTINE_POLICY, DisableAccessKey, DisableConsoleLogin, IamPrincipal,
    QUARANTINE_INLINE_POLICY, QuarantinePrincipal, Reversal, RevokeRoleSessions, Undo,
};

/// The policies of a user or a role.
#[derive(Debug, Default)]
struct Policies {
    /// Inline policies: name to document.
    inline: BTreeMap<String, String>,
    /// Attached managed policies (ARNs).
    attached: BTreeSet<String>,
}

#[derive(Debug, Default)]
struct User {
    /// Access keys with whether each is active.
    keys: Vec<(String, bool)>,
    login_profile: bool,
    policies: Policies,
}

#[derive(Debug)]
struct Store {
    users: BTreeMap<String, User>,
    roles: BTreeMap<String, Policies>,
    /// The managed policies that exist (ARNs).
    managed: BTreeSet<String>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            users: BTreeMap::new(),
            roles: BTreeMap::new(),
            managed: [quarantine_arn(DEFAULT_QUARANTINE_POLICY, "")].into(),
        }
    }
}

impl Store {
    fn policies(&mut self, principal: &IamPrincipal) -> Option<&mut Policies> {
        match principal {
            IamPrincipal::User(u) => self.users.get_mut(u.as_str()).map(|u| &mut u.policies),
            IamPrincipal::Role(r) => self.roles.get_mut(r.as_str()),
        }
    }
}

/// An in-memory IAM: users (access keys, a console password, policies) and roles (policies).
/// Carries out what the AWS IAM executors carry out, the same way: `disable_access_key`
/// (ownership check, already inactive), `revoke_role_sessions`, `quarantine_principal`,
/// `disable_console_login` and `undo`. The managed policy
/// `arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3` exists unless removed.
///
/// Clones share the same store.
#[derive(Debug, Clone)]
pub struct MemoryIam {
    store: Arc<Mutex<Store>>,
    quarantine_policy: String,
}

impl Default for MemoryIam {
    fn default() -> Self {
        Self {
            store: Arc::default(),
            quarantine_policy: DEFAULT_QUARANTINE_POLICY.to_owned(),
        }
    }
}

impl MemoryIam {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same store, quarantining with the managed policy `policy` (a name of an AWS managed
    /// policy, or an ARN), as `[containment] quarantine_policy` configures the AWS executor.
    pub fn with_quarantine_policy(mut self, policy: impl Into<String>) -> Self {
        self.quarantine_policy = policy.into();
        self
    }

    /// Adds a user with no keys (no-op when it exists).
    pub fn add_user(&self, user_name: &str) -> &Self {
        lock(&self.store)
            .users
            .entry(user_name.to_owned())
            .or_default();
        self
    }

    /// Adds an active access key to a user, creating the user when needed.
    pub fn add_key(&self, user_name: &str, access_key_id: &str) -> &Self {
        lock(&self.store)
            .users
            .entry(user_name.to_owned())
            .or_default()
            .keys
            .push((access_key_id.to_owned(), true));
        self
    }

    /// Gives a user a console password, creating the user when needed.
    pub fn add_login_profile(&self, user_name: &str) -> &Self {
        lock(&self.store)
            .users
            .entry(user_name.to_owned())
            .or_default()
            .login_profile = true;
        self
    }

    /// Adds a role with no policies (no-op when it exists).
    pub fn add_role(&self, role_name: &str) -> &Self {
        lock(&self.store)
            .roles
            .entry(role_name.to_owned())
            .or_default();
        self
    }

    /// Puts an inline policy on a role (someone else's, or one remedy wrote), creating the role.
    pub fn put_role_policy(&self, role_name: &str, policy_name: &str, document: &str) -> &Self {
        lock(&self.store)
            .roles
            .entry(role_name.to_owned())
            .or_default()
            .inline
            .insert(policy_name.to_owned(), document.to_owned());
        self
    }

    /// Makes a managed policy exist.
    pub fn add_managed_policy(&self, arn: &str) -> &Self {
        lock(&self.store).managed.insert(arn.to_owned());
        self
    }

    /// Makes a managed policy not exist (attaching it fails as IAM's `NoSuchEntity` does).
    pub fn remove_managed_policy(&self, arn: &str) -> &Self {
        lock(&self.store).managed.remove(arn);
        self
    }

    /// Whether the user's key is active; `None` when the user has no such key.
    pub fn is_active(&self, user_name: &str, access_key_id: &str) -> Option<bool> {
        lock(&self.store)
            .users
            .get(user_name)?
            .keys
            .iter()
            .find(|(k, _)| k == access_key_id)
            .map(|(_, active)| *active)
    }

    /// Sets a key active or inactive (someone changed it outside remedy); whether the user has it.
    pub fn set_active(&self, user_name: &str, access_key_id: &str, active: bool) -> bool {
        let mut store = lock(&self.store);
        match store
            .users
            .get_mut(user_name)
            .and_then(|u| u.keys.iter_mut().find(|(k, _)| k == access_key_id))
        {
            Some((_, state)) => {
                *state = active;
                true
            }
            None => false,
        }
    }

    /// The user's keys with whether each is active.
    pub fn keys(&self, user_name: &str) -> Vec<(String, bool)> {
        lock(&self.store)
            .users
            .get(user_name)
            .map(|u| u.keys.clone())
            .unwrap_or_default()
    }

    /// Whether the user has a console password; `None` when there is no such user.
    pub fn has_login_profile(&self, user_name: &str) -> Option<bool> {
        lock(&self.store)
            .users
            .get(user_name)
            .map(|u| u.login_profile)
    }

    /// The inline policies of a user or role: name to document (empty when it does not exist).
    pub fn inline_policies(&self, principal: &IamPrincipal) -> BTreeMap<String, String> {
        lock(&self.store)
            .policies(principal)
            .map(|p| p.inline.clone())
            .unwrap_or_default()
    }

    /// The managed policies attached to a user or role (ARNs; empty when it does not exist).
    pub fn attached_policies(&self, principal: &IamPrincipal) -> Vec<String> {
        lock(&self.store)
            .policies(principal)
            .map(|p| p.attached.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn disable_key(&self, d: &DisableAccessKey) -> Outcome {
        let (user, key) = (d.user_name.as_str(), d.access_key_id.as_str());
        let mut store = lock(&self.store);
        let Some(u) = store.users.get_mut(user) else {
            return Outcome::failed(ErrorKind::NotFound, format!("user `{user}` does not exist"));
        };
        let Some((_, active)) = u.keys.iter_mut().find(|(k, _)| k == key) else {
            return Outcome::failed(ErrorKind::NotFound, say::no_key(user, key));
        };
        if !*active {
            return Outcome::already_done(format!(
                "access key `{key}` of user `{user}` is already inactive"
            ));
        }
        *active = false;
        Outcome::reversible(
            format!(
                "access key `{key}` of user `{user}` set to inactive; the user's other keys \
                 untouched"
            ),
            Reversal::EnableAccessKey {
                user_name: d.user_name.clone(),
                access_key_id: d.access_key_id.clone(),
            },
        )
    }

    fn revoke(&self, r: &RevokeRoleSessions, finding_id: &str) -> Outcome {
        let role = r.role_name.as_str();
        let principal = IamPrincipal::Role(r.role_name.clone());
        let name = RevokeRoleSessions::policy_name(finding_id);
        let mut store = lock(&self.store);
        let Some(policies) = store.roles.get_mut(role) else {
            return Outcome::failed(ErrorKind::NotFound, say::no_such(&principal));
        };
        if let Some(existing) = policies.inline.get(&name) {
            return match revoke_time(existing) {
                Some(time) => Outcome::already_done(say::already_revoked(role, &time, &name)),
                None => Outcome::failed(ErrorKind::Conflict, say::not_ours(&principal, &name)),
            };
        }
        let time = revocation_time();
        policies.inline.insert(name.clone(), revoke_document(&time));
        Outcome::reversible(
            say::revoked(role, &time, &name),
            Reversal::DeleteInlinePolicy {
                principal,
                policy_name: name,
            },
        )
    }

    fn quarantine(&self, q: &QuarantinePrincipal, region: &str) -> Outcome {
        let principal = &q.principal;
        let arn = quarantine_arn(&self.quarantine_policy, region);
        let mut store = lock(&self.store);
        let available = store.managed.contains(&arn);
        let Some(policies) = store.policies(principal) else {
            return Outcome::failed(ErrorKind::NotFound, say::no_such(principal));
        };
        if policies.attached.contains(&arn) {
            return Outcome::already_done(say::already_quarantined(
                principal,
                &format!("`{arn}` attached"),
            ));
        }
        if policies.inline.contains_key(QUARANTINE_INLINE_POLICY) {
            return Outcome::already_done(say::already_quarantined(
                principal,
                &format!("inline policy `{QUARANTINE_INLINE_POLICY}`"),
            ));
        }
        if available {
            policies.attached.insert(arn.clone());
            return Outcome::reversible(
                say::attached(principal, &arn),
                Reversal::DetachPolicy {
                    principal: principal.clone(),
                    policy_arn: arn,
                },
            );
        }
        policies
            .inline
            .insert(QUARANTINE_INLINE_POLICY.to_owned(), deny_all_document());
        Outcome::reversible(
            say::quarantined_inline(principal, &arn, QUARANTINE_INLINE_POLICY),
            Reversal::DeleteInlinePolicy {
                principal: principal.clone(),
                policy_name: QUARANTINE_INLINE_POLICY.to_owned(),
            },
        )
    }

    fn console(&self, d: &DisableConsoleLogin) -> Outcome {
        let user = d.user_name.as_str();
        let mut store = lock(&self.store);
        let Some(u) = store.users.get_mut(user) else {
            return Outcome::failed(
                ErrorKind::NotFound,
                say::no_such(&IamPrincipal::User(d.user_name.clone())),
            );
        };
        if !u.login_profile {
            return Outcome::already_done(say::no_console(user));
        }
        u.login_profile = false;
        Outcome::reversible(say::console_deleted(user), console_irreversible(user))
    }

    fn undo(&self, u: &Undo) -> Outcome {
        let mut store = lock(&self.store);
        match &u.reversal {
            Reversal::EnableAccessKey {
                user_name,
                access_key_id,
            } => {
                let (user, key) = (user_name.as_str(), access_key_id.as_str());
                let Some(found) = store.users.get_mut(user) else {
                    return Outcome::failed(
                        ErrorKind::NotFound,
                        say::no_such(&IamPrincipal::User(user_name.clone())),
                    );
                };
                match found.keys.iter_mut().find(|(k, _)| k == key) {
                    None => Outcome::failed(ErrorKind::NotFound, say::no_key(user, key)),
                    Some((_, true)) => Outcome::already_done(say::key_already_active(user, key)),
                    Some((_, active)) => {
                        *active = true;
                        Outcome::executed(say::key_enabled(user, key))
                    }
                }
            }
            Reversal::DeleteInlinePolicy {
                principal,
                policy_name,
            } => {
                let Some(policies) = store.policies(principal) else {
                    return Outcome::failed(ErrorKind::NotFound, say::no_such(principal));
                };
                match policies.inline.remove(policy_name) {
                    Some(_) => Outcome::executed(say::inline_deleted(principal, policy_name)),
                    None => Outcome::already_done(say::no_inline(principal, policy_name)),
                }
            }
            Reversal::DetachPolicy {
                principal,
                policy_arn,
            } => {
                let Some(policies) = store.policies(principal) else {
                    return Outcome::failed(ErrorKind::NotFound, say::no_such(principal));
                };
                if policies.attached.remove(policy_arn) {
                    Outcome::executed(say::detached(principal, policy_arn))
                } else {
                    Outcome::already_done(say::not_attached(principal, policy_arn))
                }
            }
            Reversal::Irreversible { reason } => Outcome::failed(
                ErrorKind::InvalidInput,
                format!("cannot be undone: {reason}"),
            ),
            // Released by the runbook executor (a router sends it there).
            Reversal::ReleaseInstance { .. } => Outcome::failed(
                ErrorKind::Unsupported,
                "releasing an instance is the runbook executor's (`isolate_instance`'s route)",
            ),
            // Undone by the write-back executor (a router sends them there).
            Reversal::SetWorkflowStatus { .. } | Reversal::DeleteFilter { .. } => Outcome::failed(
                ErrorKind::Unsupported,
                "restoring a workflow status or deleting a filter is the write-back executor's",
            ),
        }
    }
}

#[async_trait]
impl Executor for MemoryIam {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        match request.action {
            Action::DisableAccessKey(d) => self.disable_key(d),
            Action::RevokeRoleSessions(r) => self.revoke(r, request.finding_id()),
            Action::QuarantinePrincipal(q) => self.quarantine(q, &request.finding.region),
            Action::DisableConsoleLogin(d) => self.console(d),
            Action::Undo(u) => self.undo(u),
            _ => request.unsupported("the in-memory IAM"),
        }
    }

    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        let mut store = lock(&self.store);
        match request.action {
            Action::DisableAccessKey(d) => {
                let state = store.users.get(d.user_name.as_str()).and_then(|u| {
                    u.keys
                        .iter()
                        .find(|(k, _)| k == d.access_key_id.as_str())
                        .map(|(_, active)| *active)
                });
                match state {
                    Some(false) => Verification::Done(format!(
                        "access key `{}` of user `{}` is already inactive",
                        d.access_key_id, d.user_name
                    )),
                    Some(true) => Verification::NotDone,
                    None => Verification::Unknown,
                }
            }
            Action::RevokeRoleSessions(r) => {
                let name = RevokeRoleSessions::policy_name(request.finding_id());
                let Some(policies) = store.roles.get(r.role_name.as_str()) else {
                    return Verification::Unknown;
                };
                match policies.inline.get(&name).and_then(|d| revoke_time(d)) {
                    Some(time) => {
                        Verification::Done(say::already_revoked(r.role_name.as_str(), &time, &name))
                    }
                    None => Verification::NotDone,
                }
            }
            Action::QuarantinePrincipal(q) => {
                let arn = quarantine_arn(&self.quarantine_policy, &request.finding.region);
                let Some(policies) = store.policies(&q.principal) else {
                    return Verification::Unknown;
                };
                if policies.attached.contains(&arn)
                    || policies.inline.contains_key(QUARANTINE_INLINE_POLICY)
                {
                    Verification::Done(say::already_quarantined(&q.principal, "verified"))
                } else {
                    Verification::NotDone
                }
            }
            Action::DisableConsoleLogin(d) => match store.users.get(d.user_name.as_str()) {
                Some(u) if !u.login_profile => {
                    Verification::Done(say::no_console(d.user_name.as_str()))
                }
                Some(_) => Verification::NotDone,
                None => Verification::Unknown,
            },
            _ => Verification::Unknown,
        }
    }
}
