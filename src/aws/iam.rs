//! `disable_access_key` with IAM.

use async_trait::async_trait;
use aws_sdk_iam::Client;
use aws_sdk_iam::types::StatusType;

use super::AwsClients;
use super::accounts::Scoped;
use super::error::map_sdk_error;
use crate::action::{ActionError, ActionRequest, ErrorKind, Executor, Outcome, Verification};
use crate::plan::{DisableAccessKey, Reversal};

/// Sets one IAM access key of one user to inactive.
///
/// Always names the user; first confirms with `ListAccessKeys` that the key belongs to that user
/// (otherwise fails with "not found" and changes nothing); reports "already done" for a key that
/// is inactive; never touches the user's other keys; reads the status back after
/// `UpdateAccessKey` and fails if it is not inactive. (Temporary and root credentials never reach
/// it: the remediator's `credentials` guard skips them with what to do instead.) It acts in the
/// finding's account only (see [`crate::config::AccountsConfig`]).
#[derive(Debug, Clone)]
pub struct DisableAccessKeyExecutor {
    client: Scoped<Client>,
}

impl DisableAccessKeyExecutor {
    /// An executor with a client made from `settings` and the AWS environment.
    pub async fn new(settings: &super::AwsSettings) -> Self {
        Self::from_clients(&settings.load().await)
    }

    pub(crate) fn from_clients(clients: &AwsClients) -> Self {
        Self {
            client: Scoped::PerAccount(clients.accounts.clone()),
        }
    }

    #[cfg(test)]
    pub(crate) fn from_client(client: Client) -> Self {
        Self {
            client: Scoped::Fixed(client),
        }
    }

    /// The IAM client for `request`'s finding (IAM is global: the finding's region only signs).
    async fn client(&self, request: &ActionRequest<'_>) -> Result<Client, Outcome> {
        self.client.client(request.finding, None, Client::new).await
    }
}

/// The status of `key` of `user`: `None` when the user has no such key.
pub(super) async fn key_status(
    client: &Client,
    user: &str,
    key: &str,
) -> Result<Option<StatusType>, ActionError> {
    let mut marker = None;
    loop {
        let page = client
            .list_access_keys()
            .user_name(user)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| map_sdk_error("ListAccessKeys", &e))?;
        if let Some(meta) = page
            .access_key_metadata()
            .iter()
            .find(|m| m.access_key_id() == Some(key))
        {
            return Ok(Some(meta.status().cloned().unwrap_or(StatusType::Active)));
        }
        match (page.is_truncated(), page.marker()) {
            (true, Some(next)) => marker = Some(next.to_owned()),
            _ => return Ok(None),
        }
    }
}

#[async_trait]
impl Executor for DisableAccessKeyExecutor {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let d = match request.payload::<DisableAccessKey>("the IAM executor") {
            Ok(d) => d,
            Err(unsupported) => return unsupported,
        };
        let (user, key) = (d.user_name.as_str(), d.access_key_id.as_str());
        let client = match self.client(request).await {
            Ok(client) => client,
            Err(refused) => return refused,
        };
        match key_status(&client, user, key).await {
            Err(e) => return Outcome::Failed(e),
            Ok(None) => {
                return Outcome::failed(
                    ErrorKind::NotFound,
                    format!("access key `{key}` does not belong to user `{user}`; nothing changed"),
                );
            }
            Ok(Some(StatusType::Inactive)) => {
                return Outcome::already_done(format!(
                    "access key `{key}` of user `{user}` is already inactive"
                ));
            }
            Ok(Some(_)) => {}
        }
        if let Err(e) = client
            .update_access_key()
            .user_name(user)
            .access_key_id(key)
            .status(StatusType::Inactive)
            .send()
            .await
        {
            return Outcome::Failed(map_sdk_error("UpdateAccessKey", &e));
        }
        match key_status(&client, user, key).await {
            Ok(Some(StatusType::Inactive)) => Outcome::reversible(
                format!(
                    "access key `{key}` of user `{user}` set to inactive (read back); the user's \
                     other keys untouched"
                ),
                Reversal::EnableAccessKey {
                    user_name: d.user_name.clone(),
                    access_key_id: d.access_key_id.clone(),
                },
            ),
            Ok(Some(status)) => Outcome::failed(
                ErrorKind::Conflict,
                format!(
                    "UpdateAccessKey succeeded but access key `{key}` of user `{user}` reads back \
                     as `{}`",
                    status.as_str()
                ),
            ),
            Ok(None) => Outcome::failed(
                ErrorKind::Conflict,
                format!("access key `{key}` of user `{user}` disappeared while being disabled"),
            ),
            Err(e) => Outcome::Failed(ActionError::new(
                e.kind(),
                format!(
                    "the key was updated but its status could not be read back: {}",
                    e.message()
                ),
            )),
        }
    }

    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        let Ok(d) = request.payload::<DisableAccessKey>("the IAM executor") else {
            return Verification::Unknown;
        };
        let (user, key) = (d.user_name.as_str(), d.access_key_id.as_str());
        let Ok(client) = self.client(request).await else {
            return Verification::Unknown;
        };
        match key_status(&client, user, key).await {
            Ok(Some(StatusType::Inactive)) => Verification::Done(format!(
                "access key `{key}` of user `{user}` is already inactive"
            )),
            Ok(Some(_)) => Verification::NotDone,
            Ok(None) | Err(_) => Verification::Unknown,
        }
    }
}
