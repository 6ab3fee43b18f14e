//! `start_automation` and `isolate_instance` with SSM Automation, `start_execution` with Step
//! Functions, and the release that undoes an isolation.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ssm::types::AutomationExecutionStatus;

use super::AwsClients;
use super::accounts::Scoped;
use super::error::map_sdk_error;
use crate::action::{ActionRequest, ErrorKind, Executor, Outcome, Verification};
use crate::config::RunbooksConfig;
use crate::plan::{Action, ISOLATION_DOCUMENT, IsolateInstance, Reversal, StartAutomation};

mod sfn;

/// Starts SSM Automation runbooks and Step Functions state machines in the finding's account and
/// region, once per action however often it is delivered.
///
/// - `start_automation` calls `StartAutomationExecution` with a `ClientToken` made from the
///   action's ledger key ([`ActionRequest::idempotency_token`]): a redelivery, a retry or a
///   second worker gets the execution already started, never a second one.
/// - `start_execution` calls `StartExecution` with an execution name made from the same key; the
///   input is `{"finding": <the plan's finding context>, "params": <the policy's map>}`. When the
///   name is taken (`ExecutionAlreadyExists`), the execution of that name is described and its
///   state reported.
/// - `isolate_instance` starts `AWSSupport-ContainEC2Instance` with `Action=Contain` for the
///   instance (and `[runbooks] isolation_parameters`); its outcome says how to reverse it: the
///   same runbook with `Action=Release` (`remedy undo`).
///
/// With a wait (`[aws] wait_for_runbook_secs`), the executor polls `GetAutomationExecution` or
/// `DescribeExecution` until the run ends: success is executed, `Failed`, `TimedOut` and
/// `Cancelled` (or `Aborted`) are failures; a run still going when the wait ends is reported as
/// started. Without a wait, it reports the run started, with its id.
///
/// Documents and state machines outside `[runbooks]` are refused here too (a plan read from a
/// file may name anything); `[runbooks] automation_role` is passed as `AutomationAssumeRole`
/// unless the action gives one.
#[derive(Debug, Clone)]
pub struct RunbookExecutor {
    ssm: Scoped<aws_sdk_ssm::Client>,
    sfn: Scoped<aws_sdk_sfn::Client>,
    config: RunbooksConfig,
    wait: Duration,
    poll: Duration,
}

/// How a run ended, or that it had not when the wait was over.
enum RunState {
    /// It succeeded.
    Succeeded,
    /// It ended otherwise: the status.
    Ended(String),
    /// Still running (or not visible yet) when the wait ended.
    Running,
}

impl RunbookExecutor {
    /// An executor with clients made from `settings` and the AWS environment, starting what
    /// `config` allows.
    pub async fn new(settings: &super::AwsSettings, config: RunbooksConfig) -> Self {
        Self::from_clients(&settings.load().await, config)
    }

    pub(crate) fn from_clients(clients: &AwsClients, config: RunbooksConfig) -> Self {
        Self {
            ssm: Scoped::PerAccount(clients.accounts.clone()),
            sfn: Scoped::PerAccount(clients.accounts.clone()),
            config,
            wait: clients.wait_for_runbook,
            poll: Duration::from_secs(2),
        }
    }

    #[cfg(test)]
    pub(crate) fn from_client(
        ssm: aws_sdk_ssm::Client,
        sfn: aws_sdk_sfn::Client,
        config: RunbooksConfig,
        wait: Duration,
    ) -> Self {
        Self {
            ssm: Scoped::Fixed(ssm),
            sfn: Scoped::Fixed(sfn),
            config,
            wait,
            poll: Duration::from_millis(5),
        }
    }

    /// The parameters of an Automation run: the action's, and the configured automation role
    /// unless the action names one.
    fn with_role(
        &self,
        parameters: &BTreeMap<String, Vec<String>>,
        account: &str,
    ) -> HashMap<String, Vec<String>> {
        let mut all: HashMap<String, Vec<String>> = parameters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(role) = self.config.automation_role_in(account) {
            all.entry("AutomationAssumeRole".to_owned())
                .or_insert_with(|| vec![role]);
        }
        all
    }

    /// The parameters of `AWSSupport-ContainEC2Instance` for `instance` and `action` (`Contain`
    /// or `Release`).
    fn isolation(&self, instance: &str, action: &str) -> BTreeMap<String, Vec<String>> {
        let mut parameters: BTreeMap<String, Vec<String>> = self
            .config
            .isolation_parameters
            .iter()
            .map(|(k, v)| (k.clone(), vec![v.clone()]))
            .collect();
        parameters.insert("InstanceId".into(), vec![instance.to_owned()]);
        parameters.insert("Action".into(), vec![action.to_owned()]);
        parameters.insert(
            "DryRun".into(),
            vec![self.config.isolation_dry_run.to_string()],
        );
        parameters
    }

    /// Starts `document` with `parameters` (token: the action's), waits as configured, and
    /// reports; `then` makes the executed outcome (a reversal, for isolation).
    async fn automation(
        &self,
        request: &ActionRequest<'_>,
        document: &str,
        parameters: &BTreeMap<String, Vec<String>>,
        then: impl FnOnce(String) -> Outcome,
    ) -> Outcome {
        let client = match self
            .ssm
            .client(request.finding, None, aws_sdk_ssm::Client::new)
            .await
        {
            Ok(client) => client,
            Err(refused) => return refused,
        };
        let token = request.idempotency_token();
        let parameters = self.with_role(parameters, &request.finding.account_id);
        // Retried safely: SSM starts one execution per client token.
        let started = client
            .start_automation_execution()
            .document_name(document)
            .set_parameters((!parameters.is_empty()).then_some(parameters))
            .client_token(&token)
            .send()
            .await;
        let id = match started {
            Ok(out) => out
                .automation_execution_id()
                .unwrap_or("unknown")
                .to_owned(),
            Err(e) => return Outcome::Failed(map_sdk_error("StartAutomationExecution", &e)),
        };
        let started =
            format!("started runbook `{document}`: execution {id} (client token {token})");
        match self.wait_for_automation(&client, &id).await {
            RunState::Running if self.wait.is_zero() => then(started),
            RunState::Running => then(format!("{started}; still running when the wait ended")),
            RunState::Succeeded => then(format!("{started}; it succeeded")),
            RunState::Ended(status) => {
                Outcome::failed(ErrorKind::Other, format!("{started}; it ended `{status}`"))
            }
        }
    }

    /// Polls `GetAutomationExecution` until the run ends or the wait is over.
    async fn wait_for_automation(&self, client: &aws_sdk_ssm::Client, id: &str) -> RunState {
        let deadline = tokio::time::Instant::now() + self.wait;
        while tokio::time::Instant::now() < deadline {
            let status = client
                .get_automation_execution()
                .automation_execution_id(id)
                .send()
                .await
                .ok()
                .and_then(|o| o.automation_execution)
                .and_then(|e| e.automation_execution_status);
            match status {
                Some(AutomationExecutionStatus::Success)
                | Some(AutomationExecutionStatus::CompletedWithSuccess) => {
                    return RunState::Succeeded;
                }
                Some(
                    s @ (AutomationExecutionStatus::Failed
                    | AutomationExecutionStatus::Timedout
                    | AutomationExecutionStatus::Cancelled
                    | AutomationExecutionStatus::Rejected
                    | AutomationExecutionStatus::CompletedWithFailure
                    | AutomationExecutionStatus::Exited),
                ) => return RunState::Ended(s.as_str().to_owned()),
                // Pending, in progress, waiting, cancelling, or not visible yet.
                _ => tokio::time::sleep(self.poll).await,
            }
        }
        RunState::Running
    }

    async fn start_automation(&self, request: &ActionRequest<'_>, a: &StartAutomation) -> Outcome {
        if !self.config.allows_document(&a.document) {
            return not_allowed("document", &a.document, "documents");
        }
        self.automation(request, &a.document, &a.parameters, Outcome::executed)
            .await
    }

    async fn isolate(&self, request: &ActionRequest<'_>, i: &IsolateInstance) -> Outcome {
        let parameters = self.isolation(i.instance_id.as_str(), "Contain");
        let rehearsal = self.config.isolation_dry_run;
        let reversal = Reversal::ReleaseInstance {
            instance_id: i.instance_id.clone(),
        };
        self.automation(request, ISOLATION_DOCUMENT, &parameters, |details| {
            if rehearsal {
                Outcome::executed(format!(
                    "{details} (DryRun: rehearsed, nothing isolated, `[runbooks] isolation_dry_run`)"
                ))
            } else {
                Outcome::reversible(details, reversal)
            }
        })
        .await
    }

    async fn release(&self, request: &ActionRequest<'_>, instance: &str) -> Outcome {
        let parameters = self.isolation(instance, "Release");
        self.automation(request, ISOLATION_DOCUMENT, &parameters, Outcome::executed)
            .await
    }
}

/// The refusal of a target outside its allowlist (`list`: `documents` or `state_machines`).
fn not_allowed(what: &str, target: &str, list: &str) -> Outcome {
    Outcome::failed(
        ErrorKind::InvalidInput,
        format!(
            "{what} `{target}` is not allowed (the configuration's `[runbooks] {list}` lists what \
             may start)"
        ),
    )
}

#[async_trait]
impl Executor for RunbookExecutor {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        match request.action {
            Action::StartAutomation(a) => self.start_automation(request, a).await,
            Action::IsolateInstance(i) => self.isolate(request, i).await,
            Action::StartExecution(e) => self.start_execution(request, e).await,
            Action::Undo(u) => match &u.reversal {
                Reversal::ReleaseInstance { instance_id } => {
                    self.release(request, instance_id.as_str()).await
                }
                _ => request.unsupported("the runbook executor"),
            },
            _ => request.unsupported("the runbook executor"),
        }
    }

    /// A state machine's execution is done when one of the action's name exists; Automation
    /// cannot be looked up by client token, and starting it again with the token is safe.
    async fn verify(&self, request: &ActionRequest<'_>) -> Verification {
        match request.action {
            Action::StartExecution(e) => self.verify_execution(request, e).await,
            _ => Verification::Unknown,
        }
    }
}

#[cfg(test)]
mod tests;
