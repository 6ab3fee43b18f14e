//! `run_command` with SSM Run Command.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::CommandInvocationStatus;

use super::AwsClients;
use super::accounts::Scoped;
use super::error::map_sdk_error;
use crate::action::{
    ActionError, ActionRequest, ErrorKind, Executor, MAX_INSTANCES_PER_CALL, Outcome, Verification,
    ssm_comment,
};
use crate::plan::RunCommand;

/// Runs an SSM document on instances with `SendCommand`.
///
/// Instances are sent in calls of at most 50; each command's comment carries the finding id.
/// `SendCommand` is not idempotent, so the SDK is told to try it once (never retried blindly);
/// the configured timeouts still apply. When a wait is configured, the executor polls
/// `GetCommandInvocation` until every invocation ends or the wait is over.
///
/// Commands go to the finding's account and region (see [`crate::config::AccountsConfig`]).
#[derive(Debug, Clone)]
pub struct RunCommandExecutor {
    client: Scoped<Client>,
    wait: Duration,
    poll: Duration,
}

impl RunCommandExecutor {
    /// An executor with a client made from `settings` and the AWS environment.
    pub async fn new(settings: &super::AwsSettings) -> Self {
        Self::from_clients(&settings.load().await)
    }

    pub(crate) fn from_clients(clients: &AwsClients) -> Self {
        Self {
            client: Scoped::PerAccount(clients.accounts.clone()),
            wait: clients.wait_for_command,
            poll: Duration::from_secs(2),
        }
    }

    #[cfg(test)]
    pub(crate) fn from_client(client: Client, wait: Duration) -> Self {
        Self {
            client: Scoped::Fixed(client),
            wait,
            poll: Duration::from_millis(10),
        }
    }

    /// Polls the invocations of `command_id` until they end or the deadline passes; returns the
    /// ones that did not succeed, and whether some were still running.
    async fn wait_for(
        &self,
        client: &Client,
        command_id: &str,
        instances: &[String],
    ) -> (Vec<String>, bool) {
        let deadline = tokio::time::Instant::now() + self.wait;
        let mut pending: Vec<String> = instances.to_vec();
        let mut bad = Vec::new();
        while !pending.is_empty() && tokio::time::Instant::now() < deadline {
            let mut still = Vec::new();
            for instance in pending {
                let status = client
                    .get_command_invocation()
                    .command_id(command_id)
                    .instance_id(&instance)
                    .send()
                    .await
                    .ok()
                    .and_then(|o| o.status().cloned());
                match status {
                    Some(CommandInvocationStatus::Success) => {}
                    Some(
                        s @ (CommandInvocationStatus::Failed
                        | CommandInvocationStatus::Cancelled
                        | CommandInvocationStatus::TimedOut),
                    ) => bad.push(format!("{instance} ({})", s.as_str())),
                    // Pending, in progress, delayed, or not visible yet.
                    _ => still.push(instance),
                }
            }
            pending = still;
            if !pending.is_empty() {
                tokio::time::sleep(self.poll).await;
            }
        }
        let running = !pending.is_empty();
        (bad, running)
    }
}

impl RunCommandExecutor {
    /// The SSM client for `request`'s finding: its account, its region.
    async fn client(&self, request: &ActionRequest<'_>) -> Result<Client, Outcome> {
        self.client.client(request.finding, None, Client::new).await
    }
}

#[async_trait]
impl Executor for RunCommandExecutor {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let r = match request.payload::<RunCommand>("the SSM executor") {
            Ok(r) => r,
            Err(unsupported) => return unsupported,
        };
        if r.instance_ids.is_empty() {
            return Outcome::failed(ErrorKind::InvalidInput, "run_command names no instance");
        }
        let parameters: HashMap<String, Vec<String>> = r
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let comment = ssm_comment(request.finding_id());
        let client = match self.client(request).await {
            Ok(client) => client,
            Err(refused) => return refused,
        };
        let mut sent: Vec<(String, Vec<String>)> = Vec::new();
        for batch in r.instance_ids.chunks(MAX_INSTANCES_PER_CALL) {
            let ids: Vec<String> = batch.iter().map(|i| i.as_str().to_owned()).collect();
            let result = client
                .send_command()
                .document_name(&r.document)
                .set_instance_ids(Some(ids.clone()))
                .set_parameters((!parameters.is_empty()).then(|| parameters.clone()))
                .comment(&comment)
                .customize()
                .config_override(
                    aws_sdk_ssm::config::Builder::default().retry_config(RetryConfig::disabled()),
                )
                .send()
                .await;
            match result {
                Ok(out) => {
                    let id = out
                        .command()
                        .and_then(|c| c.command_id())
                        .unwrap_or("unknown")
                        .to_owned();
                    sent.push((id, ids));
                }
                Err(e) => {
                    let err = map_sdk_error("SendCommand", &e);
                    let done: Vec<&str> = sent.iter().map(|(id, _)| id.as_str()).collect();
                    let message = if done.is_empty() {
                        err.message().to_owned()
                    } else {
                        format!(
                            "{} (commands already sent for earlier instances: {})",
                            err.message(),
                            done.join(", ")
                        )
                    };
                    // Not retryable as a whole: a retry would re-run the commands already sent.
                    return Outcome::Failed(
                        ActionError::new(err.kind(), message)
                            .with_retryable(done.is_empty() && err.retryable()),
                    );
                }
            }
        }
        let ids: Vec<&str> = sent.iter().map(|(id, _)| id.as_str()).collect();
        let mut details = format!(
            "sent `{}` to {} instance(s): command {}",
            r.document,
            r.instance_ids.len(),
            ids.join(", ")
        );
        if !self.wait.is_zero() {
            let mut bad = Vec::new();
            let mut running = false;
            for (id, instances) in &sent {
                let (b, still) = self.wait_for(&client, id, instances).await;
                bad.extend(b);
                running |= still;
            }
            if !bad.is_empty() {
                return Outcome::failed(
                    ErrorKind::Other,
                    format!(
                        "{details}; the command did not succeed on {}",
                        bad.join(", ")
                    ),
                );
            }
            details.push_str(if running {
                "; still running when the wait ended"
            } else {
                "; finished successfully"
            });
        }
        Outcome::executed(details)
    }

    /// A command is done when SSM lists one with this finding's comment and the same document
    /// for the first of the action's instances.
    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        let Ok(r) = request.payload::<RunCommand>("the SSM executor") else {
            return Verification::Unknown;
        };
        let Some(instance) = r.instance_ids.first() else {
            return Verification::Unknown;
        };
        let comment = ssm_comment(request.finding_id());
        let Ok(client) = self.client(request).await else {
            return Verification::Unknown;
        };
        let listed = client
            .list_commands()
            .instance_id(instance.as_str())
            .send()
            .await;
        match listed {
            Ok(out) => match out.commands().iter().find(|c| {
                c.comment() == Some(comment.as_str()) && c.document_name() == Some(&r.document)
            }) {
                Some(c) => Verification::Done(format!(
                    "command {} with `{}` was already sent for this finding",
                    c.command_id().unwrap_or("?"),
                    r.document
                )),
                None => Verification::NotDone,
            },
            Err(_) => Verification::Unknown,
        }
    }
}
