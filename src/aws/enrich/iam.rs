//! The IAM enricher: a user's or role's policies, groups, administrator rights, tags and key.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_iam::Client;

use super::admin::{grants_admin, is_administrator_access};
use super::{fail, to_time};
use crate::aws::accounts::{Place, Scoped};
use crate::aws::{AwsClients, AwsSettings};
use crate::enrich::{
    Context, ContextError, ContextErrorKind, Enricher, KeyDetails, Lookup, PrincipalDetails,
    PrincipalKind, principal_key, root,
};
use crate::finding::Finding;

const NAME: &str = "iam";

/// Reads what IAM says about a finding's principal: for a user, the attached managed policies,
/// the inline policy names, the groups and their policies, the tags, and the finding's access key
/// (created, last used); for an assumed role, the role's policies and tags; the root user is an
/// administrator without a call. Whether any policy grants administrator rights is decided from
/// the documents (`GetPolicy` + `GetPolicyVersion`, `GetUserPolicy`, ...): `AdministratorAccess`,
/// or an allowed statement with `"Action": "*"` or `iam:*` on `"Resource": "*"`.
///
/// Read-only calls only. When a call fails, the principal part is left out (a partial list of
/// policies could hide administrator rights) and the error is an entry of the context. Permissions
/// boundaries and service control policies are not weighed.
#[derive(Debug)]
pub struct IamEnricher {
    client: Scoped<Client>,
    /// Whether a managed policy (by ARN) grants administrator rights, for the run.
    managed: Mutex<HashMap<String, bool>>,
}

impl IamEnricher {
    /// An enricher with a client made from `settings` and the AWS environment.
    pub async fn new(settings: &AwsSettings) -> Self {
        Self::from_clients(&settings.load().await)
    }

    pub(crate) fn from_clients(clients: &AwsClients) -> Self {
        Self::with(Scoped::PerAccount(clients.accounts.clone()))
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn from_client(client: Client) -> Self {
        Self::with(Scoped::Fixed(client))
    }

    fn with(client: Scoped<Client>) -> Self {
        Self {
            client,
            managed: Mutex::new(HashMap::new()),
        }
    }

    /// The client for `finding`'s account, as the executors get theirs (`[accounts]`: the role
    /// assumed there; without it, remedy's own account only). IAM is global.
    async fn client_for(&self, finding: &Finding) -> Result<Client, ContextError> {
        self.client
            .client_in(&Place::of(finding), None, Client::new)
            .await
            .map_err(|refused| super::refused(NAME, &refused))
    }

    async fn user(
        &self,
        client: &Client,
        name: &str,
        key: Option<&str>,
    ) -> Result<(PrincipalDetails, Vec<ContextError>), ContextError> {
        let got = client
            .get_user()
            .user_name(name)
            .send()
            .await
            .map_err(|e| fail(NAME, "GetUser", &e))?;
        let mut p = PrincipalDetails {
            kind: PrincipalKind::User,
            name: name.to_owned(),
            ..PrincipalDetails::default()
        };
        if let Some(user) = got.user() {
            p.arn = Some(user.arn().to_owned());
            p.created = to_time(user.create_date());
        }
        let attached = client
            .list_attached_user_policies()
            .user_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| fail(NAME, "ListAttachedUserPolicies", &e))?;
        for policy in &attached {
            let (Some(policy_name), Some(arn)) = (policy.policy_name(), policy.policy_arn()) else {
                continue;
            };
            p.policies.push(policy_name.to_owned());
            if self.managed_is_admin(client, arn).await? {
                p.admin_via.push(policy_name.to_owned());
            }
        }
        let inline = client
            .list_user_policies()
            .user_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| fail(NAME, "ListUserPolicies", &e))?;
        for policy in inline {
            let got = client
                .get_user_policy()
                .user_name(name)
                .policy_name(&policy)
                .send()
                .await
                .map_err(|e| fail(NAME, "GetUserPolicy", &e))?;
            if document_is_admin(&policy, got.policy_document())? {
                p.admin_via.push(policy.clone());
            }
            p.inline_policies.push(policy);
        }
        let groups = client
            .list_groups_for_user()
            .user_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| fail(NAME, "ListGroupsForUser", &e))?;
        for group in &groups {
            let group = group.group_name();
            let policies = self.group_policies(client, group, &mut p.admin_via).await?;
            p.groups.push(group.to_owned());
            p.group_policies.insert(group.to_owned(), policies);
        }
        let tags = client
            .list_user_tags()
            .user_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| fail(NAME, "ListUserTags", &e))?;
        p.tags = tags
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect();
        let mut notes = Vec::new();
        if let Some(key) = key {
            match self.key(client, name, key).await? {
                Some(details) => p.key = Some(details),
                None => notes.push(ContextError::new(
                    NAME,
                    ContextErrorKind::NotFound,
                    format!("access key `{key}` is not one of user `{name}`'s keys"),
                )),
            }
        }
        p.is_admin = !p.admin_via.is_empty();
        Ok((p, notes))
    }

    /// A group's policies (attached, then inline); those granting administrator rights are added
    /// to `admin_via` as `group NAME: POLICY`.
    async fn group_policies(
        &self,
        client: &Client,
        group: &str,
        admin_via: &mut Vec<String>,
    ) -> Result<Vec<String>, ContextError> {
        let mut names = Vec::new();
        let attached = client
            .list_attached_group_policies()
            .group_name(group)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| fail(NAME, "ListAttachedGroupPolicies", &e))?;
        for policy in &attached {
            let (Some(policy_name), Some(arn)) = (policy.policy_name(), policy.policy_arn()) else {
                continue;
            };
            names.push(policy_name.to_owned());
            if self.managed_is_admin(client, arn).await? {
                admin_via.push(format!("group {group}: {policy_name}"));
            }
        }
        let inline = client
            .list_group_policies()
            .group_name(group)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| fail(NAME, "ListGroupPolicies", &e))?;
        for policy in inline {
            let got = client
                .get_group_policy()
                .group_name(group)
                .policy_name(&policy)
                .send()
                .await
                .map_err(|e| fail(NAME, "GetGroupPolicy", &e))?;
            if document_is_admin(&policy, got.policy_document())? {
                admin_via.push(format!("group {group}: {policy}"));
            }
            names.push(policy);
        }
        Ok(names)
    }

    async fn role(&self, client: &Client, name: &str) -> Result<PrincipalDetails, ContextError> {
        let got = client
            .get_role()
            .role_name(name)
            .send()
            .await
            .map_err(|e| fail(NAME, "GetRole", &e))?;
        let mut p = PrincipalDetails {
            kind: PrincipalKind::Role,
            name: name.to_owned(),
            ..PrincipalDetails::default()
        };
        if let Some(role) = got.role() {
            p.arn = Some(role.arn().to_owned());
            p.created = to_time(role.create_date());
        }
        let attached = client
            .list_attached_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| fail(NAME, "ListAttachedRolePolicies", &e))?;
        for policy in &attached {
            let (Some(policy_name), Some(arn)) = (policy.policy_name(), policy.policy_arn()) else {
                continue;
            };
            p.policies.push(policy_name.to_owned());
            if self.managed_is_admin(client, arn).await? {
                p.admin_via.push(policy_name.to_owned());
            }
        }
        let inline = client
            .list_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| fail(NAME, "ListRolePolicies", &e))?;
        for policy in inline {
            let got = client
                .get_role_policy()
                .role_name(name)
                .policy_name(&policy)
                .send()
                .await
                .map_err(|e| fail(NAME, "GetRolePolicy", &e))?;
            if document_is_admin(&policy, got.policy_document())? {
                p.admin_via.push(policy.clone());
            }
            p.inline_policies.push(policy);
        }
        let tags = client
            .list_role_tags()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| fail(NAME, "ListRoleTags", &e))?;
        p.tags = tags
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect();
        p.is_admin = !p.admin_via.is_empty();
        Ok(p)
    }

    /// Whether the managed policy `arn` grants administrator rights: its default version's
    /// document, read once per run.
    async fn managed_is_admin(&self, client: &Client, arn: &str) -> Result<bool, ContextError> {
        if is_administrator_access(arn) {
            return Ok(true);
        }
        if let Some(known) = self.managed.lock().ok().and_then(|m| m.get(arn).copied()) {
            return Ok(known);
        }
        let policy = client
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| fail(NAME, "GetPolicy", &e))?;
        let version = policy
            .policy()
            .and_then(|p| p.default_version_id())
            .ok_or_else(|| {
                ContextError::new(
                    NAME,
                    ContextErrorKind::Failed,
                    format!("GetPolicy gave no default version for `{arn}`"),
                )
            })?;
        let got = client
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| fail(NAME, "GetPolicyVersion", &e))?;
        let document = got
            .policy_version()
            .and_then(|v| v.document())
            .unwrap_or_default();
        let admin = document_is_admin(arn, document)?;
        if let Ok(mut managed) = self.managed.lock() {
            managed.insert(arn.to_owned(), admin);
        }
        Ok(admin)
    }

    /// The user's access key `key` (`None`: not one of the user's keys), with when it was last
    /// used.
    async fn key(
        &self,
        client: &Client,
        user: &str,
        key: &str,
    ) -> Result<Option<KeyDetails>, ContextError> {
        let keys = client
            .list_access_keys()
            .user_name(user)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| fail(NAME, "ListAccessKeys", &e))?;
        let Some(meta) = keys.iter().find(|k| k.access_key_id() == Some(key)) else {
            return Ok(None);
        };
        let used = client
            .get_access_key_last_used()
            .access_key_id(key)
            .send()
            .await
            .map_err(|e| fail(NAME, "GetAccessKeyLastUsed", &e))?;
        let last = used.access_key_last_used();
        let known = |s: &str| (!s.is_empty() && s != "N/A").then(|| s.to_owned());
        Ok(Some(KeyDetails {
            id: key.to_owned(),
            status: meta.status().map(|s| s.as_str().to_owned()),
            created: meta.create_date().and_then(to_time),
            last_used: last.and_then(|l| l.last_used_date()).and_then(to_time),
            last_used_service: last.and_then(|l| known(l.service_name())),
            last_used_region: last.and_then(|l| known(l.region())),
        }))
    }
}

/// Whether the policy document of `policy` grants administrator rights; an unreadable document
/// is an error (it could).
fn document_is_admin(policy: &str, document: &str) -> Result<bool, ContextError> {
    grants_admin(document).map_err(|message| {
        ContextError::new(
            NAME,
            ContextErrorKind::Failed,
            format!("policy `{policy}`: {message}"),
        )
    })
}

#[async_trait]
impl Enricher for IamEnricher {
    async fn enrich(&self, finding: &Finding) -> Context {
        let client = match self.client_for(finding).await {
            Ok(client) => client,
            Err(e) => return Context::failed(e),
        };
        let client = &client;
        let mut context = Context::default();
        match Lookup::of(finding) {
            Lookup::Nothing => {}
            Lookup::Root => context.principal = Some(root()),
            Lookup::Named(PrincipalKind::Role, name) => match self.role(client, name).await {
                Ok(p) => context.principal = Some(p),
                Err(e) => context.errors.push(e),
            },
            Lookup::Named(_, name) => {
                match self.user(client, name, finding.access_key_id()).await {
                    Ok((p, notes)) => {
                        context.principal = Some(p);
                        context.errors.extend(notes);
                    }
                    Err(e) => context.errors.push(e),
                }
            }
            Lookup::Unsupported(why) => {
                context
                    .errors
                    .push(ContextError::new(NAME, ContextErrorKind::Unsupported, why));
            }
        }
        context
    }

    fn name(&self) -> &str {
        NAME
    }

    /// IAM is global: the principal without the region.
    fn cache_key(&self, finding: &Finding) -> Option<String> {
        principal_key(finding, false)
    }
}
