//! The Lambda handler, called in process with real event payloads: an EventBridge event sent to
//! the function directly, and an SQS batch with one bad record (reported in
//! `batchItemFailures`, the others processed).

use remedy::lambda::{LambdaError, Response, handle_event};
use remedy::testing::InMemory;
use remedy::{Pipeline, PolicySet};
use serde_json::{Value, json};

fn engine() -> Pipeline {
    let policies = PolicySet::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies")).unwrap();
    Pipeline::new(policies, InMemory::new().remediator().build()).unwrap()
}

fn event(id: &str) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/findings/02-recon-iamuser.json"
    );
    let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["detail"]["id"] = id.into();
    v
}

/// A record as Lambda's SQS event source mapping delivers it.
fn record(message_id: &str, body: &str) -> Value {
    json!({
        "messageId": message_id,
        "receiptHandle": format!("AQEB{message_id}"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1733050000000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1733050000100"
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:remedy-findings",
        "awsRegion": "us-east-1"
    })
}

#[tokio::test]
async fn an_eventbridge_event_is_handled_directly() {
    let response = handle_event(&engine(), event("direct-1")).await.unwrap();
    assert!(matches!(response, Response::Done), "{response:?}");
}

#[tokio::test]
async fn an_unreadable_direct_event_is_an_error_for_lambda_to_retry() {
    let e = handle_event(
        &engine(),
        json!({"detail-type": "Something Else", "source": "x", "detail": {}}),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, LambdaError::Unreadable(_)), "{e}");
}

#[tokio::test]
async fn an_sqs_batch_reports_only_its_bad_record() {
    let batch = json!({
        "Records": [
            record("m-1", &event("batch-1").to_string()),
            record("m-2", "{\"cut\": "),
            record("m-3", &event("batch-3").to_string()),
        ]
    });
    let Response::Batch(response) = handle_event(&engine(), batch).await.unwrap() else {
        panic!("an SQS batch gets a batch response");
    };
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m-2"]);
    // What Lambda reads back.
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(
        wire,
        json!({"batchItemFailures": [{"itemIdentifier": "m-2"}]})
    );
}
