//! The Lambda function URL form of Slack's buttons, in process: a recorded function URL event
//! (payload format 2.0, the body base64-encoded as Lambda sends form bodies) with a signed
//! approve from an approver disables the key; a forged one, a stranger's and other paths change
//! nothing.

use std::sync::Arc;

use remedy::config::{ApprovalConfig, Secret};
use remedy::id::{AccessKeyId, UserName};
use remedy::lambda::{handle_function_url, is_function_url};
use remedy::notify::Slack;
use remedy::plan::{DisableAccessKey, FindingContext, Principal, Source};
use remedy::serve::{SlackInteractions, sign};
use remedy::store::approval::MemoryApprovals;
use remedy::testing::InMemory;
use remedy::{Action, FindingType, Outcome, Plan, Severity};
use serde_json::{Value, json};

use crate::chat_double::ChatDouble;

const SIGNING: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fn plan() -> Plan {
    let mut f = FindingContext::new(
        "f-url",
        FindingType::new("UnauthorizedAccess:IAMUser/MaliciousIPCaller").unwrap(),
        Severity::new(8.0).unwrap(),
    );
    f.principal = Some(Principal {
        user_name: Some("alice".into()),
        user_type: Some("IAMUser".into()),
        access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
        principal_id: None,
    });
    let mut plan = Plan::new(f, "v");
    plan.push(
        Action::DisableAccessKey(DisableAccessKey {
            user_name: UserName::new("alice").unwrap(),
            access_key_id: AccessKeyId::new("AKIAIOSFODNN7EXAMPLE").unwrap(),
        }),
        Source {
            policy: "disable-key".into(),
            version: "v1".into(),
            reason: None,
            line: None,
        },
    );
    plan
}

/// A function URL event as Lambda delivers it (recorded shape), for `body` signed at `at`.
fn event(body: &str, at: u64, signature: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/slack/interactions",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": at.to_string(),
            "x-slack-signature": signature,
            "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "host": "abcdefg.lambda-url.us-east-1.on.aws"
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefg",
            "domainName": "abcdefg.lambda-url.us-east-1.on.aws",
            "http": {"method": "POST", "path": "/slack/interactions", "protocol": "HTTP/1.1",
                     "sourceIp": "3.3.3.3", "userAgent": "Slackbot 1.0"},
            "requestId": "c9b6a4a5-0d40-4b35-9d2a-4f1c3f0b1e77",
            "routeKey": "$default",
            "stage": "$default",
            "time": "07/Dec/2026:22:40:00 +0000",
            "timeEpoch": 1_796_683_200_000u64
        },
        "body": aws_smithy_types::base64::encode(body),
        "isBase64Encoded": true
    })
}

fn click(action: &str, id: &str, user: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": "alice"},
        "container": {"type": "message", "message_ts": "1700000001.000001", "channel_id": "C0123456789"},
        "actions": [{"action_id": action, "value": id, "type": "button"}],
    });
    let encoded: String = percent_encoding::utf8_percent_encode(
        &payload.to_string(),
        percent_encoding::NON_ALPHANUMERIC,
    )
    .collect();
    format!("payload={encoded}")
}

#[tokio::test]
async fn a_signed_approval_through_the_function_url_disables_the_key() {
    let double = ChatDouble::start().await;
    let world = InMemory::new().with_key("alice", "AKIAIOSFODNN7EXAMPLE");
    let remediator = world
        .remediator()
        .with_approval(ApprovalConfig {
            kinds: vec!["disable_access_key".into()],
            ..ApprovalConfig::default()
        })
        .with_approval_store(Arc::new(MemoryApprovals::new()))
        .enforce(true)
        .build();
    let report = remediator.run(&plan()).await;
    let Outcome::PendingApproval { approval_id, .. } = &report.actions[0].outcome else {
        panic!("{report:#?}")
    };
    let id = approval_id.to_string();
    let slack = Slack::new("C0123456789", Secret::new("xoxb-t")).with_api_url(&double.url);
    let handler = SlackInteractions::new(Secret::new(SIGNING), Arc::new(remediator), slack)
        .with_approvers(["U0APPROVER"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let secret = Secret::new(SIGNING);

    let stranger = click("remedy_approve", &id, "U0STRANGER");
    let forged = event(&stranger, now, &format!("v0={}", "1".repeat(64)));
    assert!(is_function_url(&forged));
    assert_eq!(
        handle_function_url(Some(&handler), &forged).await["statusCode"],
        401
    );
    let signed = event(&stranger, now, &sign(&secret, now, stranger.as_bytes()));
    assert_eq!(
        handle_function_url(Some(&handler), &signed).await["statusCode"],
        200
    );
    assert_eq!(
        world.iam.is_active("alice", "AKIAIOSFODNN7EXAMPLE"),
        Some(true)
    );

    let mut elsewhere = signed.clone();
    elsewhere["rawPath"] = "/admin".into();
    assert_eq!(
        handle_function_url(Some(&handler), &elsewhere).await["statusCode"],
        404
    );
    assert_eq!(handle_function_url(None, &signed).await["statusCode"], 404);

    let approve = click("remedy_approve", &id, "U0APPROVER");
    let signed = event(&approve, now, &sign(&secret, now, approve.as_bytes()));
    let answer = handle_function_url(Some(&handler), &signed).await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(
        world.iam.is_active("alice", "AKIAIOSFODNN7EXAMPLE"),
        Some(false),
        "decided before answering: the key is disabled"
    );
    assert!(
        double
            .received()
            .iter()
            .any(|m| m.path == "/chat.update" && m.raw.contains("approved by slack:U0APPROVER")),
        "{:#?}",
        double.received()
    );
}

#[tokio::test]
async fn a_direct_invocation_decides_once_as_chatbot() {
    let world = InMemory::new().with_key("alice", "AKIAIOSFODNN7EXAMPLE");
    let remediator = world
        .remediator()
        .with_approval(ApprovalConfig {
            kinds: vec!["disable_access_key".into()],
            ..ApprovalConfig::default()
        })
        .with_approval_store(Arc::new(MemoryApprovals::new()))
        .enforce(true)
        .build();
    let report = remediator.run(&plan()).await;
    let Outcome::PendingApproval { approval_id, .. } = &report.actions[0].outcome else {
        panic!("{report:#?}")
    };
    let event = json!({"decision": "deny", "request": approval_id.as_str(), "by": "bob"});
    assert!(remedy::lambda::is_decision(&event));
    let answer = remedy::lambda::handle_decision(&remediator, &event).await;
    assert_eq!(answer["ok"], true, "{answer}");
    assert!(
        answer["said"].as_str().unwrap().contains("chatbot:bob"),
        "{answer}"
    );
    let again = json!({"decision": "approve", "request": approval_id.as_str(), "by": "eve"});
    let answer = remedy::lambda::handle_decision(&remediator, &again).await;
    assert_eq!(answer["ok"], false, "{answer}");
    assert_eq!(
        world.iam.is_active("alice", "AKIAIOSFODNN7EXAMPLE"),
        Some(true)
    );
}
