//! Step Functions on moto: a state machine with a Pass state, started through remedy's runbook
//! executor. A redelivered finding (two remediators with ledgers of their own: two workers that
//! share no state) starts one execution, named from the action's ledger key; the input holds
//! the finding and the policy's map; a state machine outside `[runbooks]` is refused; a run
//! longer than `wait_for_runbook_secs` is reported started. Needs
//! `AWS_ENDPOINT_URL` (see `scripts/test.sh`); without it every test says it did not run and
//! passes.

use std::sync::Arc;

use remedy::Remediator;
use remedy::action::{Outcome, Status};
use remedy::aws::{AwsSettings, RunbookExecutor};
use remedy::config::RunbooksConfig;
use remedy::plan::{Action, StartExecution};
use remedy::testing::{context, plan_of};
use serde_json::json;

use crate::common::{moto, sdk, unique};

const PASS: &str = r#"{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}"#;

fn settings(url: &str) -> AwsSettings {
    AwsSettings::default()
        .with_endpoint_url(url)
        .with_region("us-east-1")
        .with_static_credentials("testing", "testing")
}

/// A new state machine with one Pass state: its name and ARN.
async fn machine(client: &aws_sdk_sfn::Client) -> (String, String) {
    let name = unique("respond-");
    let created = client
        .create_state_machine()
        .name(&name)
        .definition(PASS)
        .role_arn("arn:aws:iam::123456789012:role/remedy-sfn")
        .send()
        .await
        .unwrap();
    (name, created.state_machine_arn().to_owned())
}

fn start(machine: &str) -> Action {
    Action::StartExecution(StartExecution {
        state_machine: machine.to_owned(),
        input: json!({"playbook": "ec2", "depth": 2})
            .as_object()
            .cloned()
            .unwrap(),
    })
}

fn finding() -> remedy::plan::FindingContext {
    let mut f = context(&unique("finding-"), "UnauthorizedAccess:EC2/SSHBruteForce").unwrap();
    f.account_id = "123456789012".into();
    f.region = "us-east-1".into();
    f
}

#[tokio::test]
async fn a_redelivered_finding_starts_one_execution() {
    let Some(url) = moto() else { return };
    let sfn = aws_sdk_sfn::Client::new(&sdk(&url).await);
    let (name, arn) = machine(&sfn).await;
    let config = RunbooksConfig {
        state_machines: vec!["respond-*".into()],
        ..RunbooksConfig::default()
    };
    let executor = Arc::new(RunbookExecutor::new(&settings(&url), config).await);
    let plan = plan_of(finding(), [start(&name)], "respond");
    let mut details = Vec::new();
    // Two workers sharing no ledger both get the finding.
    for _ in 0..2 {
        let remediator = Remediator::builder(executor.clone()).enforce(true).build();
        let report = remediator.run(&plan).await;
        let outcome = &report.actions[0].outcome;
        assert_eq!(outcome.status(), Status::Executed, "{outcome}");
        details.push(outcome.to_string());
    }
    assert!(details[0].contains("started"), "{}", details[0]);
    let executions = sfn
        .list_executions()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    let executions = executions.executions();
    assert_eq!(executions.len(), 1, "{executions:?}");
    let execution = &executions[0];
    assert!(
        execution.name().starts_with("remedy-"),
        "{}",
        execution.name()
    );
    // Both deliveries report the one execution.
    for d in &details {
        assert!(d.contains(execution.execution_arn()), "{d}");
    }
    let described = sfn
        .describe_execution()
        .execution_arn(execution.execution_arn())
        .send()
        .await
        .unwrap();
    let input: serde_json::Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(input["params"], json!({"playbook": "ec2", "depth": 2}));
    assert_eq!(
        input["finding"]["finding_id"],
        json!(plan.finding.id.as_ref())
    );
}

#[tokio::test]
async fn a_state_machine_outside_the_allowlist_is_refused() {
    let Some(url) = moto() else { return };
    let sfn = aws_sdk_sfn::Client::new(&sdk(&url).await);
    let (_, arn) = machine(&sfn).await;
    let config = RunbooksConfig {
        state_machines: vec!["arn:aws:states:*:123456789012:stateMachine:other-*".into()],
        ..RunbooksConfig::default()
    };
    let executor = Arc::new(RunbookExecutor::new(&settings(&url), config).await);
    let plan = plan_of(finding(), [start(&arn)], "respond");
    let report = Remediator::builder(executor)
        .enforce(true)
        .build()
        .run(&plan)
        .await;
    let outcome = &report.actions[0].outcome;
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome}");
    assert!(
        outcome.to_string().contains("[runbooks] state_machines"),
        "{outcome}"
    );
    let executions = sfn
        .list_executions()
        .state_machine_arn(&arn)
        .send()
        .await
        .unwrap();
    assert!(executions.executions().is_empty());
}

#[tokio::test]
async fn a_run_longer_than_the_wait_is_reported_started() {
    // moto keeps executions RUNNING: the wait ends first.
    let Some(url) = moto() else { return };
    let sfn = aws_sdk_sfn::Client::new(&sdk(&url).await);
    let (name, _) = machine(&sfn).await;
    let config = RunbooksConfig {
        state_machines: vec![name.clone()],
        ..RunbooksConfig::default()
    };
    let settings = settings(&url).with_wait_for_runbook(std::time::Duration::from_secs(1));
    let executor = Arc::new(RunbookExecutor::new(&settings, config).await);
    let plan = plan_of(finding(), [start(&name)], "respond");
    let start = std::time::Instant::now();
    let report = Remediator::builder(executor)
        .enforce(true)
        .build()
        .run(&plan)
        .await;
    let outcome = &report.actions[0].outcome;
    assert_eq!(outcome.status(), Status::Executed, "{outcome}");
    assert!(outcome.to_string().contains("still running"), "{outcome}");
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(1),
        "it waited"
    );
}
