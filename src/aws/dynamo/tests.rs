//! Faults of the DynamoDB backends, with mocked SDK responses (aws-smithy-mocks): throttling,
//! server errors and access denied fail destructive actions closed; a condition failure reports
//! the holder with or without the old item.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};

use super::{StateTable, ledger::pk};
use crate::action::{ErrorKind, MemoryIam, MemoryNotifier, Router};
use crate::id::{AccessKeyId, UserName};
use crate::plan::{Action, ActionKind, DisableAccessKey, FindingContext, Notify, Principal};
use crate::remediate::Remediator;
use crate::store::ledger::{Claim, ClaimRequest, Ledger, LedgerKey, Owner, now_secs};
use crate::store::state::{StateErrorKind, StateStore};
use crate::testing::{context, plan_of};

const USER: &str = "alice";
const KEY: &str = "AKIAIOSFODNN7EXAMPLE";

fn table(rules: &[&Rule]) -> StateTable {
    let interceptor = rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, r| i.with_rule(r),
    );
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .build();
    StateTable::from_client(
        aws_sdk_dynamodb::Client::from_conf(conf),
        "remedy-state",
        90,
    )
}

fn finding() -> FindingContext {
    let mut f = context(
        "finding-123",
        "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
    )
    .unwrap();
    f.account_id = "123456789012".into();
    f.principal = Some(Principal {
        user_type: Some("IAMUser".into()),
        ..Principal::default()
    });
    f
}

fn disable() -> Action {
    Action::DisableAccessKey(DisableAccessKey {
        user_name: UserName::new(USER).unwrap(),
        access_key_id: AccessKeyId::new(KEY).unwrap(),
    })
}

fn notify() -> Action {
    Action::Notify(Notify {
        channel: "security".into(),
        message: "key used from a bad place".into(),
    })
}

/// Every call of the backends answers `status` with `body`, however often it is retried.
macro_rules! failing {
    ($status:expr, $body:expr) => {{
        let body: &'static str = $body;
        [
            mock!(aws_sdk_dynamodb::Client::get_item)
                .sequence()
                .http_status($status, Some(body.into()))
                .repeatedly()
                .build(),
            mock!(aws_sdk_dynamodb::Client::put_item)
                .sequence()
                .http_status($status, Some(body.into()))
                .repeatedly()
                .build(),
            mock!(aws_sdk_dynamodb::Client::update_item)
                .sequence()
                .http_status($status, Some(body.into()))
                .repeatedly()
                .build(),
            mock!(aws_sdk_dynamodb::Client::delete_item)
                .sequence()
                .http_status($status, Some(body.into()))
                .repeatedly()
                .build(),
        ]
    }};
}

const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#;
const BROKEN: &str =
    r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"boom"}"#;
const DENIED: &str =
    r#"{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"not allowed"}"#;

#[tokio::test]
async fn throttled_broken_or_denied_state_fails_destructive_actions_closed() {
    for (status, body, kind, attempts) in [
        (400, THROTTLED, StateErrorKind::Throttled, 3),
        (500, BROKEN, StateErrorKind::Unavailable, 3),
        (400, DENIED, StateErrorKind::Denied, 1),
    ] {
        let rules = failing!(status, body);
        let [get, ..] = &rules;
        let table = table(&rules.iter().collect::<Vec<_>>());
        // The store says what went wrong, after bounded retries (none for access denied).
        let e = table.state().stop().await.unwrap_err();
        assert_eq!(e.kind(), kind, "{e}");
        assert!(e.to_string().contains("remedy-state"), "{e}");
        assert_eq!(get.num_calls(), attempts, "{e}");

        let iam = MemoryIam::new();
        iam.add_key(USER, KEY);
        let notifier = MemoryNotifier::new();
        let router = Router::new()
            .with(ActionKind::DISABLE_ACCESS_KEY, Arc::new(iam.clone()))
            .with(ActionKind::NOTIFY, Arc::new(notifier.clone()));
        let remediator = Remediator::builder(Arc::new(router))
            .with_ledger(Arc::new(table.ledger()))
            .with_state(Arc::new(table.state()))
            .enforce(true)
            .build();
        let report = remediator
            .run(&plan_of(finding(), [disable(), notify()], "p"))
            .await;
        let error = report.actions[0].outcome.error().unwrap();
        assert_eq!(error.kind(), ErrorKind::StateUnavailable, "{error}");
        assert!(error.retryable());
        assert_eq!(iam.is_active(USER, KEY), Some(true), "{kind:?}");
        // The notification still goes out, and says the key was not disabled.
        assert!(report.actions[1].outcome.is_success());
        let messages = notifier.messages();
        assert_eq!(messages.len(), 1);
        assert!(
            messages[0].body.contains("state unavailable"),
            "{}",
            messages[0].body
        );
    }
}

#[tokio::test]
async fn a_rate_window_that_cannot_be_counted_fails_closed_but_notifications_pass() {
    use crate::config::RateLimit;
    use crate::store::audit::Guard;
    use crate::store::ledger::MemoryLedger;
    // The kill switch and the breaker read fine (nothing set); counting a window is throttled.
    let get = mock!(aws_sdk_dynamodb::Client::get_item)
        .then_output(|| aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder().build());
    let update = mock!(aws_sdk_dynamodb::Client::update_item)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .repeatedly()
        .build();
    let table = table(&[&get, &update]);
    let iam = MemoryIam::new();
    iam.add_key(USER, KEY);
    let notifier = MemoryNotifier::new();
    let router = Router::new()
        .with(ActionKind::DISABLE_ACCESS_KEY, Arc::new(iam.clone()))
        .with(ActionKind::NOTIFY, Arc::new(notifier.clone()));
    let ledger = MemoryLedger::new();
    let limit = RateLimit::new(5, 3600);
    let remediator = Remediator::builder(Arc::new(router))
        .with_ledger(Arc::new(ledger.clone()))
        .with_state(Arc::new(table.state()))
        .with_rate_limit(ActionKind::DISABLE_ACCESS_KEY, limit)
        .with_rate_limit(ActionKind::NOTIFY, limit)
        .enforce(true)
        .build();
    let report = remediator
        .run(&plan_of(finding(), [disable(), notify()], "p"))
        .await;
    let disabled = &report.actions[0];
    let error = disabled.outcome.error().unwrap();
    assert_eq!(error.kind(), ErrorKind::StateUnavailable, "{error}");
    assert!(error.message().contains("rate limit"), "{error}");
    assert!(
        disabled
            .guards
            .iter()
            .any(|g| g.guard == Guard::RateLimit && !g.passed)
    );
    assert_eq!(iam.is_active(USER, KEY), Some(true));
    // The claim was given back, so a later delivery tries again.
    assert!(ledger.claims().await.unwrap().is_empty());
    // The notification was not counted but sent, and says why the key is still active.
    let sent = &report.actions[1];
    assert!(sent.outcome.is_success());
    assert!(
        sent.guards
            .iter()
            .any(|g| g.guard == Guard::RateLimit && g.passed)
    );
    assert!(
        notifier.messages()[0]
            .body
            .contains("rate limit cannot be counted")
    );
    // Throttling is retried, boundedly: 3 attempts per window counted.
    assert_eq!(update.num_calls(), 6);
}

fn claimed_by(run: &str, key: &LedgerKey) -> String {
    let owner = Owner::with_run(run);
    serde_json::json!({
        "pk": {"S": pk(key)},
        "sk": {"S": "entry"},
        "state": {"S": "claimed"},
        "owner_run": {"S": run},
        "claim_id": {"S": "0123456789abcdef"},
        "lease_expires": {"N": (now_secs() + 600).to_string()},
        "at": {"S": "2026-12-01T00:00:00Z"},
        "key": {"S": serde_json::to_string(key).unwrap()},
        "owner": {"S": serde_json::to_string(&owner).unwrap()},
    })
    .to_string()
}

#[tokio::test]
async fn a_lost_claim_names_the_holder_with_or_without_the_old_item() {
    let f = finding();
    let mut plan = plan_of(f.clone(), [disable()], "p");
    let action = plan.actions.remove(0);
    let key = LedgerKey::new(&f, &action);
    let me = Owner::with_run("me");
    let request = ClaimRequest {
        key: &key,
        owner: &me,
        lease: Duration::from_secs(600),
        finding: &f,
        action: &action,
    };
    let item = claimed_by("holder", &key);
    // With the old item in the condition failure (ReturnValuesOnConditionCheckFailure).
    let failed: &'static str = Box::leak(
        format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed","Item":{item}}}"#
        )
        .into_boxed_str(),
    );
    let put = mock!(aws_sdk_dynamodb::Client::put_item)
        .match_requests(|r| {
            r.condition_expression() == Some("attribute_not_exists(pk)")
                && r.return_values_on_condition_check_failure()
                    == Some(&aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld)
        })
        .sequence()
        .http_status(400, Some(failed.into()))
        .build();
    let get = mock!(aws_sdk_dynamodb::Client::get_item)
        .then_output(|| aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder().build());
    let ledger = table(&[&put, &get]).ledger();
    match ledger.claim(&request).await.unwrap() {
        Claim::InProgress(entry) => assert_eq!(entry.owner.unwrap().run, "holder"),
        other => panic!("{other:?}"),
    }
    assert_eq!(get.num_calls(), 0, "the old item came with the failure");

    // Without it (as moto answers): a consistent read tells who holds it.
    let bare = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#;
    let put = mock!(aws_sdk_dynamodb::Client::put_item)
        .sequence()
        .http_status(400, Some(bare.into()))
        .build();
    let parsed: std::collections::HashMap<String, serde_json::Value> =
        serde_json::from_str(&item).unwrap();
    let attributes: super::Item = parsed
        .into_iter()
        .map(|(k, v)| {
            let value = match (v.get("S"), v.get("N")) {
                (Some(s), _) => super::s(s.as_str().unwrap()),
                (_, Some(n)) => {
                    aws_sdk_dynamodb::types::AttributeValue::N(n.as_str().unwrap().to_owned())
                }
                _ => unreachable!(),
            };
            (k, value)
        })
        .collect();
    let get = mock!(aws_sdk_dynamodb::Client::get_item)
        .match_requests(|r| r.consistent_read() == Some(true))
        .then_output(move || {
            aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder()
                .set_item(Some(attributes.clone()))
                .build()
        });
    let ledger = table(&[&put, &get]).ledger();
    match ledger.claim(&request).await.unwrap() {
        Claim::InProgress(entry) => assert_eq!(entry.owner.unwrap().run, "holder"),
        other => panic!("{other:?}"),
    }
    assert_eq!(get.num_calls(), 1);
}
