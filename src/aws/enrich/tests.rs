//! The AWS enrichers with mocked SDK responses (aws-smithy-mocks), shaped as AWS documents them:
//! CloudTrail `LookupEvents` paging (`NextToken`), throttling retried within the timeout, access
//! denied (a context error, and the decision is still made); an IAM call denied mid-way.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput;
use aws_sdk_cloudtrail::types::{Event, LookupAttributeKey};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_types::DateTime;

use super::{CloudTrailEnricher, IamEnricher};
use crate::enrich::{ContextErrorKind, Enricher, Enrichers};
use crate::finding::Finding;
use crate::plan::ActionKind;

const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const USER: &str = "GuardDuty-Example-Compromised-Simulated";
const FINDING: &str = include_str!("../../../examples/findings/01-iam-malicious-ip-custom.json");

const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
const DENIED: &str = r#"{"__type":"AccessDeniedException","message":"User: arn:aws:iam::123456789012:user/remedy is not authorized to perform: cloudtrail:LookupEvents"}"#;

fn finding() -> Finding {
    Finding::from_json_str(FINDING).unwrap()
}

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

fn cloudtrail(rules: &[&Rule], max_events: u32) -> CloudTrailEnricher {
    let conf = aws_sdk_cloudtrail::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudtrail::config::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ))
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .retry_config(retry())
        .build();
    CloudTrailEnricher::from_client(aws_sdk_cloudtrail::Client::from_conf(conf), 24, max_events)
}

fn iam(rules: &[&Rule]) -> IamEnricher {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        ))
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .retry_config(retry())
        .build();
    IamEnricher::from_client(aws_sdk_iam::Client::from_conf(conf))
}

/// An event as `LookupEvents` returns it: the record itself is a JSON string.
fn event(name: &str, minute: i64, ip: &str) -> Event {
    let secs = 1_795_000_000 + minute * 60;
    Event::builder()
        .event_id(format!("e-{name}-{minute}"))
        .event_name(name)
        .event_time(DateTime::from_secs(secs))
        .access_key_id(KEY)
        .username(USER)
        .read_only(if crate::enrich::is_write(name) { "false" } else { "true" })
        .cloud_trail_event(format!(
            r#"{{"eventVersion":"1.08","eventName":"{name}","sourceIPAddress":"{ip}","userAgent":"aws-cli/2"}}"#
        ))
        .build()
}

fn page(events: impl IntoIterator<Item = Event>, next: Option<&str>) -> LookupEventsOutput {
    LookupEventsOutput::builder()
        .set_events(Some(events.into_iter().collect()))
        .set_next_token(next.map(str::to_owned))
        .build()
}

fn by_key(r: &aws_sdk_cloudtrail::operation::lookup_events::LookupEventsInput) -> bool {
    r.lookup_attributes().iter().any(|a| {
        a.attribute_key() == &LookupAttributeKey::AccessKeyId && a.attribute_value() == KEY
    }) && r.start_time().is_some()
        && r.end_time().is_some()
}

#[tokio::test(start_paused = true)]
async fn lookup_events_is_paged_summarized_and_paced() {
    let first = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| by_key(r) && r.next_token().is_none() && r.max_results() == Some(50))
        .then_output(|| {
            page(
                (0..50).map(|i| {
                    if i % 2 == 0 {
                        event("ListUsers", i, "198.51.100.23")
                    } else {
                        event("GetCallerIdentity", i, "198.51.100.23")
                    }
                }),
                Some("t1"),
            )
        });
    let second = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| by_key(r) && r.next_token() == Some("t1"))
        .then_output(|| {
            page(
                (50..53).map(|i| event("CreateAccessKey", i, "203.0.113.9")),
                Some("t2"),
            )
        });
    let third = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| by_key(r) && r.next_token() == Some("t2"))
        .then_output(|| page([event("PutUserPolicy", 60, "203.0.113.9")], None));
    let enricher = cloudtrail(&[&first, &second, &third], 200);
    let start = tokio::time::Instant::now();
    let context = enricher.enrich(&finding()).await;
    assert!(context.errors.is_empty(), "{:?}", context.errors);
    let a = context.activity.unwrap();
    assert_eq!(
        (first.num_calls(), second.num_calls(), third.num_calls()),
        (1, 1, 1)
    );
    assert_eq!(a.events, 54);
    assert!(!a.truncated);
    assert_eq!(a.by_name["ListUsers"], 25);
    assert_eq!(a.by_name["CreateAccessKey"], 3);
    assert_eq!(a.source_ips, ["198.51.100.23", "203.0.113.9"]);
    assert_eq!(a.writes, ["CreateAccessKey", "PutUserPolicy"]);
    assert_eq!(a.first_seen.unwrap().unix_timestamp(), 1_795_000_000);
    assert_eq!(a.last_seen.unwrap().unix_timestamp(), 1_795_000_000 + 3600);
    // Three calls, spaced by CloudTrail's 2 per second.
    assert!(
        start.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn at_most_max_events_are_read() {
    let first = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.next_token().is_none() && r.max_results() == Some(50))
        .then_output(|| {
            page(
                (0..50).map(|i| event("ListUsers", i, "198.51.100.23")),
                Some("t1"),
            )
        });
    let second = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.next_token() == Some("t1") && r.max_results() == Some(10))
        .then_output(|| {
            page(
                (50..60).map(|i| event("ListUsers", i, "198.51.100.23")),
                Some("t2"),
            )
        });
    let context = cloudtrail(&[&first, &second], 60).enrich(&finding()).await;
    let a = context.activity.unwrap();
    assert_eq!(a.events, 60);
    assert!(a.truncated, "a next token was left: there are more events");
    assert_eq!(second.num_calls(), 1);
    assert!(
        a.summary().starts_with("60 or more calls in the last 24 h"),
        "{}",
        a.summary()
    );
}

#[tokio::test]
async fn throttling_is_retried_within_the_timeout() {
    let lookup = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .output(|| page([event("ListUsers", 1, "198.51.100.23")], None))
        .build();
    let enrichers = Enrichers::new()
        .with(Arc::new(cloudtrail(&[&lookup], 200)))
        .with_timeout(Duration::from_secs(5));
    let context = enrichers.context(&finding()).await;
    assert!(context.errors.is_empty(), "{:?}", context.errors);
    assert_eq!(context.activity.unwrap().events, 1);
    assert_eq!(lookup.num_calls(), 2, "throttled once, then answered");

    // Throttled past the retries: an error entry, no activity.
    let throttled = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .sequence()
        .http_status(400, Some(THROTTLED.into()))
        .repeatedly()
        .build();
    let context = cloudtrail(&[&throttled], 200).enrich(&finding()).await;
    assert_eq!(context.activity, None);
    assert_eq!(context.errors[0].kind, ContextErrorKind::Throttled);
    assert_eq!(throttled.num_calls(), 3);
}

#[tokio::test]
async fn access_denied_is_a_context_error_and_the_decision_is_still_made() {
    let denied = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .sequence()
        .http_status(400, Some(DENIED.into()))
        .repeatedly()
        .build();
    let enrichers = Enrichers::new().with(Arc::new(cloudtrail(&[&denied], 200)));
    let enriched = enrichers.enrich(&finding()).await;
    let context = enriched.context().unwrap();
    assert_eq!(context.activity, None);
    let error = &context.errors[0];
    assert_eq!(
        (error.enricher.as_str(), error.kind),
        ("cloudtrail", ContextErrorKind::PermissionDenied)
    );
    assert!(error.message.contains("LookupEvents"), "{}", error.message);
    assert_eq!(denied.num_calls(), 1, "access denied is not retried");

    let set = crate::policy::PolicySet::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"))
        .unwrap();
    let plan = set.evaluate(&enriched);
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    let kinds: Vec<ActionKind> = plan.actions.iter().map(|a| a.action.kind()).collect();
    assert_eq!(
        kinds,
        [
            ActionKind::DISABLE_ACCESS_KEY,
            ActionKind::UPDATE_FINDING,
            ActionKind::ARCHIVE_FINDING,
            ActionKind::NOTIFY
        ]
    );
    let recorded = plan.finding.enrichment.as_deref().unwrap();
    assert_eq!(
        recorded, context,
        "the plan records the context the decision used"
    );
}

#[tokio::test(start_paused = true)]
async fn a_later_page_failing_keeps_what_was_read() {
    let first = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| page([event("ListUsers", 1, "198.51.100.23")], Some("t1")));
    let second = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| r.next_token() == Some("t1"))
        .sequence()
        .http_status(
            500,
            Some(r#"{"__type":"InternalFailure","message":"boom"}"#.into()),
        )
        .repeatedly()
        .build();
    let context = cloudtrail(&[&first, &second], 200).enrich(&finding()).await;
    let a = context.activity.unwrap();
    assert_eq!((a.events, a.truncated), (1, true));
    assert_eq!(context.errors[0].kind, ContextErrorKind::Unavailable);
}

#[tokio::test]
async fn an_iam_call_denied_leaves_the_principal_out() {
    use aws_sdk_iam::operation::get_user::GetUserOutput;
    use aws_sdk_iam::operation::list_attached_user_policies::ListAttachedUserPoliciesOutput;
    use aws_sdk_iam::operation::list_user_policies::ListUserPoliciesOutput;
    let user = mock!(aws_sdk_iam::Client::get_user).then_output(|| {
        GetUserOutput::builder()
            .user(
                aws_sdk_iam::types::User::builder()
                    .path("/")
                    .user_name(USER)
                    .user_id("AIDAEXAMPLE")
                    .arn(format!("arn:aws:iam::123456789012:user/{USER}"))
                    .create_date(DateTime::from_secs(1_700_000_000))
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let attached = mock!(aws_sdk_iam::Client::list_attached_user_policies)
        .then_output(|| ListAttachedUserPoliciesOutput::builder().build());
    let inline = mock!(aws_sdk_iam::Client::list_user_policies).then_output(|| {
        ListUserPoliciesOutput::builder()
            .policy_names("ops")
            .build()
            .unwrap()
    });
    let denied = mock!(aws_sdk_iam::Client::get_user_policy)
        .sequence()
        .http_status(
            403,
            Some(
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
                 <Message>not authorized to perform: iam:GetUserPolicy</Message></Error>\
                 <RequestId>r</RequestId></ErrorResponse>"
                    .into(),
            ),
        )
        .repeatedly()
        .build();
    let context = iam(&[&user, &attached, &inline, &denied])
        .enrich(&finding())
        .await;
    assert_eq!(
        context.principal, None,
        "a partial list could hide admin rights"
    );
    assert_eq!(context.errors[0].kind, ContextErrorKind::PermissionDenied);
    assert!(context.errors[0].message.contains("GetUserPolicy"));
}
