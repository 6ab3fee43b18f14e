//! Faults and edge cases of the AWS executors, with mocked SDK responses (aws-smithy-mocks).

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_iam::types::{AccessKeyMetadata, StatusType};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};

use super::{DisableAccessKeyExecutor, RunCommandExecutor, SnsNotifier};
use crate::action::{ActionRequest, ErrorKind, Executor, Outcome, SkipReason, Status};
use crate::id::{AccessKeyId, InstanceId, UserName};
use crate::plan::{
    Action, ActionKind, DisableAccessKey, FindingContext, Notify, Principal, RunCommand,
};
use crate::remediate::Remediator;
use crate::store::audit::MemoryAudit;
use crate::testing::{context, plan_of};

mod containment;

const USER: &str = "alice";
const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const OTHER: &str = "AKIAOTHERKEY00000000";

fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
    rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, r| i.with_rule(r),
    )
}

fn retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
}

fn creds() -> aws_sdk_iam::config::Credentials {
    aws_sdk_iam::config::Credentials::new("AKIDTEST", "secret", None, None, "test")
}

fn iam(rules: &[&Rule]) -> DisableAccessKeyExecutor {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(creds())
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .retry_config(retry())
        .build();
    DisableAccessKeyExecutor::from_client(aws_sdk_iam::Client::from_conf(conf))
}

fn ssm(rules: &[&Rule], wait: Duration) -> RunCommandExecutor {
    let conf = aws_sdk_ssm::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(creds())
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .retry_config(retry())
        .build();
    RunCommandExecutor::from_client(aws_sdk_ssm::Client::from_conf(conf), wait)
}

fn sns(rules: &[&Rule]) -> SnsNotifier {
    let conf = aws_sdk_sns::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(creds())
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .retry_config(retry())
        .build();
    SnsNotifier::from_client(
        aws_sdk_sns::Client::from_conf(conf),
        "arn:aws:sns:us-east-1:1:t",
    )
}

fn keys(status: StatusType) -> aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput {
    let meta = |id: &str, s: StatusType| {
        AccessKeyMetadata::builder()
            .user_name(USER)
            .access_key_id(id)
            .status(s)
            .build()
    };
    aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput::builder()
        .access_key_metadata(meta(OTHER, StatusType::Active))
        .access_key_metadata(meta(KEY, status))
        .build()
        .unwrap()
}

fn disable(key: &str) -> Action {
    Action::DisableAccessKey(DisableAccessKey {
        user_name: UserName::new(USER).unwrap(),
        access_key_id: AccessKeyId::new(key).unwrap(),
    })
}

fn finding() -> FindingContext {
    let mut f = context(
        "finding-123",
        "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
    )
    .unwrap();
    f.principal = Some(Principal {
        user_type: Some("IAMUser".into()),
        ..Principal::default()
    });
    f
}

async fn run(executor: &dyn Executor, action: &Action) -> Outcome {
    let f = finding();
    executor.execute(&ActionRequest::new(action, &f)).await
}

const IAM_THROTTLED: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
    <Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>";

#[tokio::test]
async fn disables_reads_back_and_names_the_user() {
    let list = mock!(aws_sdk_iam::Client::list_access_keys)
        .match_requests(|r| r.user_name() == Some(USER))
        .sequence()
        .output(|| keys(StatusType::Active))
        .output(|| keys(StatusType::Inactive))
        .build();
    let update = mock!(aws_sdk_iam::Client::update_access_key)
        .match_requests(|r| {
            r.user_name() == Some(USER)
                && r.access_key_id() == Some(KEY)
                && r.status() == Some(&StatusType::Inactive)
        })
        .then_output(|| {
            aws_sdk_iam::operation::update_access_key::UpdateAccessKeyOutput::builder().build()
        });
    let outcome = run(&iam(&[&list, &update]), &disable(KEY)).await;
    assert!(matches!(outcome, Outcome::Executed { .. }), "{outcome}");
    assert_eq!(update.num_calls(), 1);
    assert_eq!(list.num_calls(), 2);
}

#[tokio::test]
async fn a_key_of_another_user_is_not_found_and_nothing_changes() {
    let list =
        mock!(aws_sdk_iam::Client::list_access_keys).then_output(|| keys(StatusType::Active));
    let update = mock!(aws_sdk_iam::Client::update_access_key).then_output(|| {
        aws_sdk_iam::operation::update_access_key::UpdateAccessKeyOutput::builder().build()
    });
    let outcome = run(&iam(&[&list, &update]), &disable("AKIANOTALICESKEY0000")).await;
    assert_eq!(outcome.error().unwrap().kind(), ErrorKind::NotFound);
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn inactive_is_already_done_and_a_bad_read_back_fails() {
    let list =
        mock!(aws_sdk_iam::Client::list_access_keys).then_output(|| keys(StatusType::Inactive));
    let outcome = run(&iam(&[&list]), &disable(KEY)).await;
    assert!(matches!(outcome, Outcome::AlreadyDone { .. }), "{outcome}");

    let list = mock!(aws_sdk_iam::Client::list_access_keys)
        .sequence()
        .output(|| keys(StatusType::Active))
        .repeatedly()
        .build();
    let update = mock!(aws_sdk_iam::Client::update_access_key).then_output(|| {
        aws_sdk_iam::operation::update_access_key::UpdateAccessKeyOutput::builder().build()
    });
    let outcome = run(&iam(&[&list, &update]), &disable(KEY)).await;
    assert_eq!(
        outcome.error().unwrap().kind(),
        ErrorKind::Conflict,
        "{outcome}"
    );
}

#[tokio::test]
async fn temporary_credentials_are_skipped_without_calling_aws() {
    let list =
        mock!(aws_sdk_iam::Client::list_access_keys).then_output(|| keys(StatusType::Active));
    let remediator = Remediator::builder(Arc::new(iam(&[&list])))
        .enforce(true)
        .build();
    let plan = plan_of(finding(), [disable("ASIAIOSFODNN7EXAMPLE")], "p");
    let report = remediator.run(&plan).await;
    assert!(matches!(
        report.actions[0].outcome,
        Outcome::Skipped(SkipReason::TemporaryCredentials { .. })
    ));
    assert_eq!(list.num_calls(), 0);
}

#[tokio::test]
async fn throttling_and_server_errors_are_failed_outcomes_in_the_audit() {
    let throttled = mock!(aws_sdk_iam::Client::list_access_keys)
        .sequence()
        .http_status(400, Some(IAM_THROTTLED.into()))
        .repeatedly()
        .build();
    let outcome = run(&iam(&[&throttled]), &disable(KEY)).await;
    let e = outcome.error().unwrap();
    assert_eq!(e.kind(), ErrorKind::Throttled, "{e}");
    assert!(e.retryable());
    // Idempotent: the SDK retried it.
    assert_eq!(throttled.num_calls(), 3);

    let broken = mock!(aws_sdk_iam::Client::list_access_keys)
        .sequence()
        .http_status(503, None)
        .repeatedly()
        .build();
    let audit = MemoryAudit::new();
    let remediator = Remediator::builder(Arc::new(iam(&[&broken])))
        .with_audit(Arc::new(audit.clone()))
        .enforce(true)
        .build();
    let plan = plan_of(finding(), [disable(KEY)], "p");
    let report = remediator.run(&plan).await;
    assert_eq!(report.count(Status::Failed), 1);
    let records = audit.actions();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].outcome.error().unwrap().kind(),
        ErrorKind::Unavailable
    );
}

fn run_command(n: usize) -> Action {
    Action::RunCommand(RunCommand {
        document: "AWS-RunShellScript".into(),
        instance_ids: (0..n)
            .map(|i| InstanceId::new(format!("i-{i:017x}")).unwrap())
            .collect(),
        parameters: [("commands".to_owned(), vec!["uptime".to_owned()])].into(),
    })
}

fn sent(id: &str) -> aws_sdk_ssm::operation::send_command::SendCommandOutput {
    aws_sdk_ssm::operation::send_command::SendCommandOutput::builder()
        .command(
            aws_sdk_ssm::types::Command::builder()
                .command_id(id)
                .build(),
        )
        .build()
}

#[tokio::test]
async fn send_command_is_split_by_fifty_and_carries_the_finding_id() {
    let send = mock!(aws_sdk_ssm::Client::send_command)
        .match_requests(|r| {
            r.instance_ids().len() <= 50
                && r.comment()
                    .is_some_and(|c| c.contains("finding-123") && c.len() <= 100)
                && r.document_name() == Some("AWS-RunShellScript")
        })
        .sequence()
        .output(|| sent("c1"))
        .repeatedly()
        .build();
    let outcome = run(&ssm(&[&send], Duration::ZERO), &run_command(120)).await;
    assert!(matches!(outcome, Outcome::Executed { .. }), "{outcome}");
    assert_eq!(send.num_calls(), 3);
}

#[tokio::test]
async fn send_command_is_never_retried_by_the_sdk() {
    let send = mock!(aws_sdk_ssm::Client::send_command)
        .sequence()
        .http_status(
            500,
            Some(r#"{"__type":"InternalServerError","message":"boom"}"#.into()),
        )
        .repeatedly()
        .build();
    let outcome = run(&ssm(&[&send], Duration::ZERO), &run_command(1)).await;
    assert_eq!(
        outcome.error().unwrap().kind(),
        ErrorKind::Unavailable,
        "{outcome}"
    );
    assert_eq!(send.num_calls(), 1);
}

#[tokio::test]
async fn waits_for_the_invocation_until_it_ends() {
    use aws_sdk_ssm::operation::get_command_invocation::GetCommandInvocationOutput;
    use aws_sdk_ssm::types::CommandInvocationStatus;
    let send = mock!(aws_sdk_ssm::Client::send_command).then_output(|| sent("c1"));
    let get = mock!(aws_sdk_ssm::Client::get_command_invocation)
        .match_requests(|r| r.command_id() == Some("c1"))
        .sequence()
        .output(|| {
            GetCommandInvocationOutput::builder()
                .status(CommandInvocationStatus::InProgress)
                .build()
        })
        .output(|| {
            GetCommandInvocationOutput::builder()
                .status(CommandInvocationStatus::Failed)
                .build()
        })
        .build();
    let outcome = run(
        &ssm(&[&send, &get], Duration::from_secs(5)),
        &run_command(1),
    )
    .await;
    assert!(outcome.to_string().contains("did not succeed"), "{outcome}");
    assert_eq!(get.num_calls(), 2);
}

#[tokio::test]
async fn publish_failures_are_not_retried() {
    let publish = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(500, None)
        .repeatedly()
        .build();
    let action = Action::Notify(Notify {
        channel: "security".into(),
        message: "hello".into(),
    });
    let outcome = run(&sns(&[&publish]), &action).await;
    assert_eq!(
        outcome.error().unwrap().kind(),
        ErrorKind::Unavailable,
        "{outcome}"
    );
    assert_eq!(publish.num_calls(), 1);

    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            r.subject().is_some_and(|s| s.len() < 100)
                && r.message()
                    .is_some_and(|m| m.contains("finding id: finding-123"))
        })
        .then_output(|| {
            aws_sdk_sns::operation::publish::PublishOutput::builder()
                .message_id("m-1")
                .build()
        });
    let outcome = run(&sns(&[&publish]), &action).await;
    assert!(outcome.to_string().contains("m-1"), "{outcome}");
}

#[tokio::test]
async fn the_router_routes_exactly_its_kinds() {
    let settings = crate::aws::AwsSettings::from_config(&Default::default());
    let router = crate::aws::router(&crate::config::Config::default(), &settings).await;
    let mut routed: Vec<&str> = router.kinds().map(ActionKind::as_str).collect();
    let kinds = crate::aws::kinds();
    let mut listed: Vec<&str> = kinds.iter().map(ActionKind::as_str).collect();
    routed.sort_unstable();
    listed.sort_unstable();
    assert_eq!(routed, listed);
}
