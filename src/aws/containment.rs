//! `revoke_role_sessions`, `quarantine_principal`, `disable_console_login` and `undo` with IAM.

use async_trait::async_trait;
use aws_sdk_iam::Client;
use aws_sdk_iam::types::StatusType;

use super::AwsClients;
use super::accounts::Scoped;
use super::error::map_sdk_error;
use super::iam::key_status;
use crate::action::containment::{
    console_irreversible, deny_all_document, quarantine_arn, revocation_time, revoke_document,
    revoke_time, say,
};
use crate::action::{ActionError, ActionRequest, ErrorKind, Executor, Outcome, Verification};
use crate::plan::{
    Action, DEFAULT_QUARANTINE_POLICY, DisableConsoleLogin, IamPrincipal, QUARANTINE_INLINE_POLICY,
    QuarantinePrincipal, Reversal, RevokeRoleSessions, Undo,
};

mod principal;

/// Contains IAM principals, and undoes what remedy did to them.
///
/// Every action first checks that its user or role exists (otherwise "not found", nothing
/// changed), then reads the state, changes it only when needed, and reads it back:
///
/// - `revoke_role_sessions` puts the inline policy `remedy-revoke-sessions-<finding>` denying
///   everything to sessions issued before now (`aws:TokenIssueTime`); a policy of that name that
///   is there already keeps its first time ("already done"); one that is not remedy's is a
///   conflict and is left alone.
/// - `quarantine_principal` attaches the managed quarantine policy (default
///   `AWSCompromisedKeyQuarantineV3`), or, when IAM says it does not exist, puts the inline
///   deny-all policy `remedy-quarantine`; already attached (or the inline one there) is "already
///   done".
/// - `disable_console_login` deletes the login profile; a user without one is "already done".
/// - `undo` sets a key active again, deletes an inline policy or detaches a managed one, exactly
///   as the undone record says; already reversed is "already done".
///
/// Executed outcomes say how to reverse them ([`Outcome::undo`]).
#[derive(Debug, Clone)]
pub struct ContainmentExecutor {
    client: Scoped<Client>,
    quarantine_policy: String,
}

impl ContainmentExecutor {
    /// An executor with a client made from `settings` and the AWS environment, quarantining with
    /// `AWSCompromisedKeyQuarantineV3`.
    pub async fn new(settings: &super::AwsSettings) -> Self {
        Self::from_clients(&settings.load().await)
    }

    /// Quarantines with the managed policy `policy` instead: an AWS managed policy's name (in the
    /// finding's partition) or a policy ARN (`[containment] quarantine_policy`).
    pub fn with_quarantine_policy(mut self, policy: impl Into<String>) -> Self {
        self.quarantine_policy = policy.into();
        self
    }

    pub(crate) fn from_clients(clients: &AwsClients) -> Self {
        Self {
            client: Scoped::PerAccount(clients.accounts.clone()),
            quarantine_policy: DEFAULT_QUARANTINE_POLICY.to_owned(),
        }
    }

    #[cfg(test)]
    pub(crate) fn from_client(client: Client) -> Self {
        Self {
            client: Scoped::Fixed(client),
            quarantine_policy: DEFAULT_QUARANTINE_POLICY.to_owned(),
        }
    }

    /// The executor with the IAM client of `request`'s finding account (IAM is global), or the
    /// account's refusal.
    async fn bind(&self, request: &ActionRequest<'_>) -> Result<Bound, Outcome> {
        Ok(Bound {
            client: self
                .client
                .client(request.finding, None, Client::new)
                .await?,
            quarantine_policy: self.quarantine_policy.clone(),
        })
    }
}

/// A [`ContainmentExecutor`] bound to one finding's account.
struct Bound {
    client: Client,
    quarantine_policy: String,
}

impl Bound {
    /// Fails with "not found" unless the principal exists.
    async fn must_exist(&self, principal: &IamPrincipal) -> Result<(), Outcome> {
        match principal::exists(&self.client, principal).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Outcome::failed(
                ErrorKind::NotFound,
                say::no_such(principal),
            )),
            Err(e) => Err(Outcome::Failed(e)),
        }
    }

    async fn revoke(&self, r: &RevokeRoleSessions, finding_id: &str) -> Outcome {
        let role = r.role_name.as_str();
        let principal = IamPrincipal::Role(r.role_name.clone());
        let name = RevokeRoleSessions::policy_name(finding_id);
        if let Err(outcome) = self.must_exist(&principal).await {
            return outcome;
        }
        match principal::inline_policy(&self.client, &principal, &name).await {
            Err(e) => return Outcome::Failed(e),
            Ok(Some(existing)) => {
                return match revoke_time(&existing) {
                    Some(time) => Outcome::already_done(say::already_revoked(role, &time, &name)),
                    None => Outcome::failed(ErrorKind::Conflict, say::not_ours(&principal, &name)),
                };
            }
            Ok(None) => {}
        }
        let time = revocation_time();
        let document = revoke_document(&time);
        if let Err(e) = principal::put_inline(&self.client, &principal, &name, &document).await {
            return Outcome::Failed(e);
        }
        match principal::inline_policy(&self.client, &principal, &name).await {
            Ok(Some(back)) if revoke_time(&back).as_deref() == Some(time.as_str()) => {
                Outcome::reversible(
                    say::revoked(role, &time, &name),
                    Reversal::DeleteInlinePolicy {
                        principal,
                        policy_name: name,
                    },
                )
            }
            Ok(_) => Outcome::failed(
                ErrorKind::Conflict,
                format!(
                    "PutRolePolicy succeeded but inline policy `{name}` of role `{role}` does not \
                     read back as written"
                ),
            ),
            Err(e) => read_back_failed(&e),
        }
    }

    async fn quarantine(&self, q: &QuarantinePrincipal, region: &str) -> Outcome {
        let principal = &q.principal;
        let arn = quarantine_arn(&self.quarantine_policy, region);
        if let Err(outcome) = self.must_exist(principal).await {
            return outcome;
        }
        match self.quarantined(principal, &arn).await {
            Err(e) => return Outcome::Failed(e),
            Ok(Some(by)) => return Outcome::already_done(say::already_quarantined(principal, &by)),
            Ok(None) => {}
        }
        match principal::attach(&self.client, principal, &arn).await {
            Err(e) => return Outcome::Failed(e),
            Ok(true) => {
                return match principal::attached(&self.client, principal).await {
                    Ok(arns) if arns.contains(&arn) => Outcome::reversible(
                        say::attached(principal, &arn),
                        Reversal::DetachPolicy {
                            principal: principal.clone(),
                            policy_arn: arn,
                        },
                    ),
                    Ok(_) => Outcome::failed(
                        ErrorKind::Conflict,
                        format!(
                            "attaching `{arn}` succeeded but it is not attached to {principal}"
                        ),
                    ),
                    Err(e) => read_back_failed(&e),
                };
            }
            // The policy does not exist (in this partition, or it was misnamed): deny-all inline.
            Ok(false) => {}
        }
        let name = QUARANTINE_INLINE_POLICY;
        let document = deny_all_document();
        if let Err(e) = principal::put_inline(&self.client, principal, name, &document).await {
            return Outcome::Failed(e);
        }
        match principal::inline_policy(&self.client, principal, name).await {
            Ok(Some(_)) => Outcome::reversible(
                say::quarantined_inline(principal, &arn, name),
                Reversal::DeleteInlinePolicy {
                    principal: principal.clone(),
                    policy_name: name.to_owned(),
                },
            ),
            Ok(None) => Outcome::failed(
                ErrorKind::Conflict,
                format!("inline policy `{name}` was put on {principal} but does not read back"),
            ),
            Err(e) => read_back_failed(&e),
        }
    }

    /// How the principal is quarantined already, if it is.
    async fn quarantined(
        &self,
        principal: &IamPrincipal,
        arn: &str,
    ) -> Result<Option<String>, ActionError> {
        if principal::attached(&self.client, principal)
            .await?
            .iter()
            .any(|a| a == arn)
        {
            return Ok(Some(format!("`{arn}` attached")));
        }
        let inline = principal::inline_policy(&self.client, principal, QUARANTINE_INLINE_POLICY)
            .await?
            .is_some();
        Ok(inline.then(|| format!("inline policy `{QUARANTINE_INLINE_POLICY}`")))
    }

    async fn console(&self, d: &DisableConsoleLogin) -> Outcome {
        let user = d.user_name.as_str();
        if let Err(outcome) = self
            .must_exist(&IamPrincipal::User(d.user_name.clone()))
            .await
        {
            return outcome;
        }
        match principal::delete_login_profile(&self.client, user).await {
            Err(e) => return Outcome::Failed(e),
            Ok(false) => return Outcome::already_done(say::no_console(user)),
            Ok(true) => {}
        }
        match principal::has_login_profile(&self.client, user).await {
            Ok(false) => {
                Outcome::reversible(say::console_deleted(user), console_irreversible(user))
            }
            Ok(true) => Outcome::failed(
                ErrorKind::Conflict,
                format!(
                    "DeleteLoginProfile succeeded but user `{user}` still has a console password"
                ),
            ),
            Err(e) => read_back_failed(&e),
        }
    }

    async fn undo(&self, u: &Undo) -> Outcome {
        match &u.reversal {
            Reversal::EnableAccessKey {
                user_name,
                access_key_id,
            } => {
                self.enable_key(user_name.as_str(), access_key_id.as_str())
                    .await
            }
            Reversal::DeleteInlinePolicy {
                principal,
                policy_name,
            } => {
                if let Err(outcome) = self.must_exist(principal).await {
                    return outcome;
                }
                match principal::delete_inline(&self.client, principal, policy_name).await {
                    Err(e) => return Outcome::Failed(e),
                    Ok(false) => {
                        return Outcome::already_done(say::no_inline(principal, policy_name));
                    }
                    Ok(true) => {}
                }
                match principal::inline_policy(&self.client, principal, policy_name).await {
                    Ok(None) => Outcome::executed(say::inline_deleted(principal, policy_name)),
                    Ok(Some(_)) => Outcome::failed(
                        ErrorKind::Conflict,
                        format!("inline policy `{policy_name}` of {principal} is still there"),
                    ),
                    Err(e) => read_back_failed(&e),
                }
            }
            Reversal::DetachPolicy {
                principal,
                policy_arn,
            } => {
                if let Err(outcome) = self.must_exist(principal).await {
                    return outcome;
                }
                match principal::detach(&self.client, principal, policy_arn).await {
                    Err(e) => return Outcome::Failed(e),
                    Ok(false) => {
                        return Outcome::already_done(say::not_attached(principal, policy_arn));
                    }
                    Ok(true) => {}
                }
                match principal::attached(&self.client, principal).await {
                    Ok(arns) if !arns.contains(policy_arn) => {
                        Outcome::executed(say::detached(principal, policy_arn))
                    }
                    Ok(_) => Outcome::failed(
                        ErrorKind::Conflict,
                        format!("policy `{policy_arn}` is still attached to {principal}"),
                    ),
                    Err(e) => read_back_failed(&e),
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

    async fn enable_key(&self, user: &str, key: &str) -> Outcome {
        match key_status(&self.client, user, key).await {
            Err(e) => return Outcome::Failed(e),
            Ok(None) => return Outcome::failed(ErrorKind::NotFound, say::no_key(user, key)),
            Ok(Some(StatusType::Active)) => {
                return Outcome::already_done(say::key_already_active(user, key));
            }
            Ok(Some(_)) => {}
        }
        if let Err(e) = self
            .client
            .update_access_key()
            .user_name(user)
            .access_key_id(key)
            .status(StatusType::Active)
            .send()
            .await
        {
            return Outcome::Failed(map_sdk_error("UpdateAccessKey", &e));
        }
        match key_status(&self.client, user, key).await {
            Ok(Some(StatusType::Active)) => Outcome::executed(say::key_enabled(user, key)),
            Ok(_) => Outcome::failed(
                ErrorKind::Conflict,
                format!("UpdateAccessKey succeeded but access key `{key}` is not active"),
            ),
            Err(e) => read_back_failed(&e),
        }
    }
}

/// The change was made but could not be read back.
fn read_back_failed(e: &ActionError) -> Outcome {
    Outcome::Failed(ActionError::new(
        e.kind(),
        format!(
            "the change was made but could not be read back: {}",
            e.message()
        ),
    ))
}

#[async_trait]
impl Executor for ContainmentExecutor {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        if !matches!(
            request.action,
            Action::RevokeRoleSessions(_)
                | Action::QuarantinePrincipal(_)
                | Action::DisableConsoleLogin(_)
                | Action::Undo(_)
        ) {
            return request.unsupported("the IAM containment executor");
        }
        let this = match self.bind(request).await {
            Ok(this) => this,
            Err(refused) => return refused,
        };
        match request.action {
            Action::RevokeRoleSessions(r) => this.revoke(r, request.finding_id()).await,
            Action::QuarantinePrincipal(q) => this.quarantine(q, &request.finding.region).await,
            Action::DisableConsoleLogin(d) => this.console(d).await,
            Action::Undo(u) => this.undo(u).await,
            _ => request.unsupported("the IAM containment executor"),
        }
    }

    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        let Ok(this) = self.bind(request).await else {
            return Verification::Unknown;
        };
        let client = &this.client;
        match request.action {
            Action::RevokeRoleSessions(r) => {
                let principal = IamPrincipal::Role(r.role_name.clone());
                let name = RevokeRoleSessions::policy_name(request.finding_id());
                match principal::exists(client, &principal).await {
                    Ok(true) => {}
                    _ => return Verification::Unknown,
                }
                match principal::inline_policy(client, &principal, &name).await {
                    Ok(Some(doc)) => match revoke_time(&doc) {
                        Some(time) => Verification::Done(say::already_revoked(
                            r.role_name.as_str(),
                            &time,
                            &name,
                        )),
                        None => Verification::Unknown,
                    },
                    Ok(None) => Verification::NotDone,
                    Err(_) => Verification::Unknown,
                }
            }
            Action::QuarantinePrincipal(q) => {
                let arn = quarantine_arn(&this.quarantine_policy, &request.finding.region);
                match principal::exists(client, &q.principal).await {
                    Ok(true) => {}
                    _ => return Verification::Unknown,
                }
                match this.quarantined(&q.principal, &arn).await {
                    Ok(Some(by)) => Verification::Done(say::already_quarantined(&q.principal, &by)),
                    Ok(None) => Verification::NotDone,
                    Err(_) => Verification::Unknown,
                }
            }
            Action::DisableConsoleLogin(d) => {
                let user = IamPrincipal::User(d.user_name.clone());
                match principal::exists(client, &user).await {
                    Ok(true) => {}
                    _ => return Verification::Unknown,
                }
                match principal::has_login_profile(client, d.user_name.as_str()).await {
                    Ok(false) => Verification::Done(say::no_console(d.user_name.as_str())),
                    Ok(true) => Verification::NotDone,
                    Err(_) => Verification::Unknown,
                }
            }
            _ => Verification::Unknown,
        }
    }
}
