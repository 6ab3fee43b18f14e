//! `start_execution` with Step Functions: the state machine's ARN, the execution's name and
//! input, and its state.

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};

use super::{RunState, RunbookExecutor, not_allowed};
use crate::action::{ActionRequest, ErrorKind, Outcome, Verification};
use crate::aws::error::map_sdk_error;
use crate::plan::StartExecution;

/// The partition of `region` (`aws`, `aws-cn`, `aws-us-gov`).
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The state machine's ARN: as written, or made from its name in the finding's account and
/// `region`.
fn machine_arn(machine: &str, account: &str, region: &str) -> Result<String, Outcome> {
    if machine.starts_with("arn:") {
        return Ok(machine.to_owned());
    }
    if account.is_empty() || region.is_empty() {
        return Err(Outcome::failed(
            ErrorKind::InvalidInput,
            format!(
                "state machine `{machine}` is named without an ARN and the finding names no \
                 account or region to find it in"
            ),
        ));
    }
    Ok(format!(
        "arn:{}:states:{region}:{account}:stateMachine:{machine}",
        partition(region)
    ))
}

/// The ARN of the execution `name` of the state machine `machine_arn`.
fn execution_arn(machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

impl RunbookExecutor {
    /// The client, the state machine's ARN and the execution's name for `request`.
    async fn execution_of(
        &self,
        request: &ActionRequest<'_>,
        e: &StartExecution,
    ) -> Result<(aws_sdk_sfn::Client, String, String), Outcome> {
        let client = self
            .sfn
            .client(request.finding, None, aws_sdk_sfn::Client::new)
            .await?;
        let region = client
            .config()
            .region()
            .map(ToString::to_string)
            .unwrap_or_else(|| request.finding.region.to_string());
        let arn = machine_arn(&e.state_machine, &request.finding.account_id, &region)?;
        // Execution names: at most 80 of `[A-Za-z0-9_-]`.
        let name = format!("remedy-{}", request.idempotency_token());
        Ok((client, arn, name))
    }

    pub(super) async fn start_execution(
        &self,
        request: &ActionRequest<'_>,
        e: &StartExecution,
    ) -> Outcome {
        if !self.config.allows_state_machine(&e.state_machine) {
            return not_allowed("state machine", &e.state_machine, "state_machines");
        }
        let (client, machine, name) = match self.execution_of(request, e).await {
            Ok(parts) => parts,
            Err(outcome) => return outcome,
        };
        let input = json!({ "finding": request.finding, "params": Value::Object(e.input.clone()) });
        let started = client
            .start_execution()
            .state_machine_arn(&machine)
            .name(&name)
            .input(input.to_string())
            .send()
            .await;
        let (arn, note) = match started {
            Ok(out) => (out.execution_arn().to_owned(), "started"),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|s| s.is_execution_already_exists()) =>
            {
                (
                    execution_arn(&machine, &name),
                    "already started (same name)",
                )
            }
            Err(err) => return Outcome::Failed(map_sdk_error("StartExecution", &err)),
        };
        let started = format!(
            "{note}: state machine `{}`, execution {arn}",
            e.state_machine
        );
        let wait = if note == "started" {
            self.wait_for_execution(&client, &arn).await
        } else {
            // Report the named execution's state now, waiting as for a new one.
            self.wait_for_execution_or_now(&client, &arn).await
        };
        match wait {
            Ok(RunState::Running) if self.wait.is_zero() => Outcome::executed(started),
            Ok(RunState::Running) => Outcome::executed(format!("{started}; still running")),
            Ok(RunState::Succeeded) => Outcome::executed(format!("{started}; it succeeded")),
            Ok(RunState::Ended(status)) => {
                Outcome::failed(ErrorKind::Other, format!("{started}; it ended `{status}`"))
            }
            Err(outcome) => outcome,
        }
    }

    /// The execution's state now: `Err` when it cannot be described.
    async fn execution_state(client: &aws_sdk_sfn::Client, arn: &str) -> Result<RunState, Outcome> {
        let out = client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| Outcome::Failed(map_sdk_error("DescribeExecution", &e)))?;
        Ok(match out.status() {
            ExecutionStatus::Succeeded => RunState::Succeeded,
            ExecutionStatus::Running | ExecutionStatus::PendingRedrive => RunState::Running,
            other => RunState::Ended(other.as_str().to_owned()),
        })
    }

    /// Polls `DescribeExecution` until the execution ends or the wait is over.
    async fn wait_for_execution(
        &self,
        client: &aws_sdk_sfn::Client,
        arn: &str,
    ) -> Result<RunState, Outcome> {
        let deadline = tokio::time::Instant::now() + self.wait;
        while tokio::time::Instant::now() < deadline {
            match Self::execution_state(client, arn).await {
                Ok(RunState::Running) | Err(_) => tokio::time::sleep(self.poll).await,
                ended => return ended,
            }
        }
        Ok(RunState::Running)
    }

    /// The state of an execution that was there already: described at once (an error is the
    /// outcome), then waited for like a new one while it runs.
    async fn wait_for_execution_or_now(
        &self,
        client: &aws_sdk_sfn::Client,
        arn: &str,
    ) -> Result<RunState, Outcome> {
        match Self::execution_state(client, arn).await? {
            RunState::Running => self.wait_for_execution(client, arn).await,
            ended => Ok(ended),
        }
    }

    pub(super) async fn verify_execution(
        &self,
        request: &ActionRequest<'_>,
        e: &StartExecution,
    ) -> Verification {
        let Ok((client, machine, name)) = self.execution_of(request, e).await else {
            return Verification::Unknown;
        };
        let arn = execution_arn(&machine, &name);
        match client.describe_execution().execution_arn(&arn).send().await {
            Ok(out) => Verification::Done(format!(
                "execution {arn} of state machine `{}` exists ({})",
                e.state_machine,
                out.status().as_str()
            )),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|s| s.is_execution_does_not_exist()) =>
            {
                Verification::NotDone
            }
            Err(_) => Verification::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_of_machines_and_executions() {
        assert_eq!(
            machine_arn("respond", "123456789012", "eu-west-1").unwrap(),
            "arn:aws:states:eu-west-1:123456789012:stateMachine:respond"
        );
        assert_eq!(
            machine_arn("respond", "123456789012", "cn-north-1").unwrap(),
            "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:respond"
        );
        assert!(machine_arn("respond", "", "eu-west-1").is_err());
        let given = "arn:aws:states:us-east-1:1:stateMachine:x";
        assert_eq!(machine_arn(given, "", "").unwrap(), given);
        assert_eq!(
            execution_arn(given, "remedy-1"),
            "arn:aws:states:us-east-1:1:execution:x:remedy-1"
        );
    }
}
