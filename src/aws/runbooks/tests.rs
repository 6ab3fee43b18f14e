//! The runbook executor against mocked SSM Automation responses (aws-smithy-mocks); Step
//! Functions runs against moto (`tests/moto/runbooks.rs`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_ssm::operation::get_automation_execution::GetAutomationExecutionOutput;
use aws_sdk_ssm::operation::start_automation_execution::StartAutomationExecutionOutput;
use aws_sdk_ssm::types::{AutomationExecution, AutomationExecutionStatus};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};

use super::RunbookExecutor;
use crate::action::{ActionRequest, ErrorKind, Executor, Outcome};
use crate::config::RunbooksConfig;
use crate::id::InstanceId;
use crate::plan::{
    Action, FindingContext, ISOLATION_DOCUMENT, IsolateInstance, Reversal, StartAutomation, Undo,
};
use crate::testing::context;

const DOC: &str = "AWSSupport-ContainIAMPrincipal";
const INSTANCE: &str = "i-0abc12345678def00";

fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
    rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, r| i.with_rule(r),
    )
}

fn creds() -> aws_sdk_ssm::config::Credentials {
    aws_sdk_ssm::config::Credentials::new("AKIDTEST", "secret", None, None, "test")
}

fn config() -> RunbooksConfig {
    RunbooksConfig {
        documents: vec!["AWSSupport-Contain*".into()],
        automation_role: Some("arn:aws:iam::{account}:role/remedy-automation".into()),
        isolation_parameters: [("BackupS3BucketName".to_owned(), "forensics".to_owned())].into(),
        ..RunbooksConfig::default()
    }
}

fn executor(rules: &[&Rule], wait: Duration, config: RunbooksConfig) -> RunbookExecutor {
    let ssm = aws_sdk_ssm::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(creds())
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .build();
    let sfn = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(creds())
        .http_client(create_mock_http_client())
        .build();
    RunbookExecutor::from_client(
        aws_sdk_ssm::Client::from_conf(ssm),
        aws_sdk_sfn::Client::from_conf(sfn),
        config,
        wait,
    )
}

fn finding() -> FindingContext {
    let mut f = context("finding-1", "UnauthorizedAccess:EC2/SSHBruteForce").unwrap();
    f.account_id = "123456789012".into();
    f.instance_ids = vec![INSTANCE.into()];
    f
}

fn automation() -> Action {
    Action::StartAutomation(StartAutomation {
        document: DOC.into(),
        parameters: [(
            "PrincipalArn".to_owned(),
            vec!["arn:aws:iam::123456789012:user/alice".to_owned()],
        )]
        .into(),
    })
}

fn started(id: &'static str) -> impl Fn() -> StartAutomationExecutionOutput + Send + Sync {
    move || {
        StartAutomationExecutionOutput::builder()
            .automation_execution_id(id)
            .build()
    }
}

fn status(s: AutomationExecutionStatus) -> GetAutomationExecutionOutput {
    GetAutomationExecutionOutput::builder()
        .automation_execution(
            AutomationExecution::builder()
                .automation_execution_status(s)
                .build(),
        )
        .build()
}

async fn run(executor: &RunbookExecutor, action: &Action, key: &str) -> Outcome {
    let f = finding();
    executor
        .execute(&ActionRequest::new(action, &f).with_key(key))
        .await
}

#[tokio::test]
async fn waits_through_in_progress_to_success() {
    let start = mock!(aws_sdk_ssm::Client::start_automation_execution)
        .match_requests(|r| {
            r.document_name() == Some(DOC)
                && r.parameters().is_some_and(|p| {
                    p.get("AutomationAssumeRole").map(Vec::as_slice)
                        == Some(
                            &["arn:aws:iam::123456789012:role/remedy-automation".to_owned()][..],
                        )
                })
        })
        .then_output(started("exec-1"));
    let get = mock!(aws_sdk_ssm::Client::get_automation_execution)
        .match_requests(|r| r.automation_execution_id() == Some("exec-1"))
        .sequence()
        .output(|| status(AutomationExecutionStatus::Inprogress))
        .output(|| status(AutomationExecutionStatus::Success))
        .build();
    let ex = executor(&[&start, &get], Duration::from_secs(5), config());
    let outcome = run(&ex, &automation(), "k").await;
    assert!(matches!(outcome, Outcome::Executed { .. }), "{outcome}");
    assert!(outcome.to_string().contains("exec-1"), "{outcome}");
    assert!(outcome.to_string().contains("succeeded"), "{outcome}");
    assert_eq!(get.num_calls(), 2);
}

#[tokio::test]
async fn timed_out_and_failed_runs_are_failures() {
    for (end, word) in [
        (AutomationExecutionStatus::Timedout, "TimedOut"),
        (AutomationExecutionStatus::Failed, "Failed"),
        (AutomationExecutionStatus::Cancelled, "Cancelled"),
    ] {
        let start =
            mock!(aws_sdk_ssm::Client::start_automation_execution).then_output(started("exec-2"));
        let get = mock!(aws_sdk_ssm::Client::get_automation_execution)
            .then_output(move || status(end.clone()));
        let ex = executor(&[&start, &get], Duration::from_secs(5), config());
        let outcome = run(&ex, &automation(), "k").await;
        assert_eq!(outcome.status(), crate::action::Status::Failed, "{outcome}");
        assert!(outcome.to_string().contains(word), "{outcome}");
        assert!(outcome.to_string().contains("exec-2"), "{outcome}");
    }
}

#[tokio::test]
async fn without_a_wait_the_run_is_reported_started() {
    let start =
        mock!(aws_sdk_ssm::Client::start_automation_execution).then_output(started("exec-3"));
    let get = mock!(aws_sdk_ssm::Client::get_automation_execution)
        .then_output(|| status(AutomationExecutionStatus::Success));
    let ex = executor(&[&start, &get], Duration::ZERO, config());
    let outcome = run(&ex, &automation(), "k").await;
    assert!(matches!(outcome, Outcome::Executed { .. }), "{outcome}");
    assert!(outcome.to_string().contains("started runbook"), "{outcome}");
    assert!(outcome.to_string().contains("exec-3"), "{outcome}");
    assert_eq!(get.num_calls(), 0);
}

#[tokio::test]
async fn a_redelivery_sends_the_same_client_token() {
    let tokens = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&tokens);
    let start = mock!(aws_sdk_ssm::Client::start_automation_execution)
        .match_requests(move |r| {
            seen.lock()
                .unwrap()
                .push(r.client_token().unwrap_or_default().to_owned());
            true
        })
        .then_output(started("exec-4"));
    let ex = executor(&[&start], Duration::ZERO, config());
    run(
        &ex,
        &automation(),
        "finding-1\u{1f}\u{1f}start_automation\u{1f}t\u{1f}",
    )
    .await;
    run(
        &ex,
        &automation(),
        "finding-1\u{1f}\u{1f}start_automation\u{1f}t\u{1f}",
    )
    .await;
    run(&ex, &automation(), "another key").await;
    let tokens = tokens.lock().unwrap().clone();
    assert_eq!(tokens.len(), 3);
    assert_eq!(
        tokens[0], tokens[1],
        "a redelivery must send the same token"
    );
    assert_ne!(tokens[0], tokens[2]);
    assert_eq!(tokens[0].len(), 36, "UUID-shaped: {}", tokens[0]);
}

#[tokio::test]
async fn documents_outside_the_allowlist_are_refused_without_a_call() {
    let start = mock!(aws_sdk_ssm::Client::start_automation_execution).then_output(started("x"));
    let ex = executor(&[&start], Duration::ZERO, RunbooksConfig::default());
    let outcome = run(&ex, &automation(), "k").await;
    assert_eq!(outcome.error().unwrap().kind(), ErrorKind::InvalidInput);
    assert!(
        outcome.to_string().contains("[runbooks] documents"),
        "{outcome}"
    );
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn isolation_contains_the_instance_and_its_undo_releases_it() {
    let param =
        |r: &aws_sdk_ssm::operation::start_automation_execution::StartAutomationExecutionInput,
         name: &str| {
            r.parameters()
                .and_then(|p| p.get(name))
                .and_then(|v| v.first())
                .cloned()
        };
    let contain = mock!(aws_sdk_ssm::Client::start_automation_execution)
        .match_requests(move |r| {
            r.document_name() == Some(ISOLATION_DOCUMENT)
                && param(r, "Action").as_deref() == Some("Contain")
                && param(r, "InstanceId").as_deref() == Some(INSTANCE)
                && param(r, "DryRun").as_deref() == Some("false")
                && param(r, "BackupS3BucketName").as_deref() == Some("forensics")
        })
        .then_output(started("exec-contain"));
    let release = mock!(aws_sdk_ssm::Client::start_automation_execution)
        .match_requests(move |r| {
            param(r, "Action").as_deref() == Some("Release")
                && param(r, "InstanceId").as_deref() == Some(INSTANCE)
        })
        .then_output(started("exec-release"));
    // Documents need not list the preset's runbook.
    let config = RunbooksConfig {
        documents: Vec::new(),
        ..config()
    };
    let ex = executor(&[&contain, &release], Duration::ZERO, config);
    let isolate = Action::IsolateInstance(IsolateInstance {
        instance_id: InstanceId::new(INSTANCE).unwrap(),
    });
    let outcome = run(&ex, &isolate, "k1").await;
    assert!(outcome.to_string().contains("exec-contain"), "{outcome}");
    let reversal = outcome.undo().cloned().expect("isolation is reversible");
    assert_eq!(
        reversal,
        Reversal::ReleaseInstance {
            instance_id: InstanceId::new(INSTANCE).unwrap()
        }
    );
    let undo = Action::Undo(Undo {
        record: "r-1".into(),
        reversal,
    });
    let outcome = run(&ex, &undo, "k2").await;
    assert!(outcome.to_string().contains("exec-release"), "{outcome}");
    assert_eq!((contain.num_calls(), release.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_rehearsal_passes_dry_run_and_records_no_undo() {
    let start = mock!(aws_sdk_ssm::Client::start_automation_execution)
        .match_requests(|r| {
            r.parameters()
                .and_then(|p| p.get("DryRun"))
                .is_some_and(|v| v == &["true".to_owned()])
        })
        .then_output(started("exec-dry"));
    let config = RunbooksConfig {
        isolation_dry_run: true,
        ..config()
    };
    let ex = executor(&[&start], Duration::ZERO, config);
    let isolate = Action::IsolateInstance(IsolateInstance {
        instance_id: InstanceId::new(INSTANCE).unwrap(),
    });
    let outcome = run(&ex, &isolate, "k").await;
    assert!(outcome.to_string().contains("rehearsed"), "{outcome}");
    assert!(outcome.undo().is_none());
    assert_eq!(start.num_calls(), 1);
}
