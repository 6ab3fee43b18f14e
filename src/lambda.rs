//! The AWS Lambda entry point's logic (feature `lambda`): an SQS batch or an EventBridge event
//! in, what Lambda should do with it out. The `remedy-lambda` binary wraps [`handle_event`] in
//! `lambda_runtime`; tests call it directly.
//!
//! - **An SQS batch** (`Records` from `aws:sqs`): each record's body is handled with
//!   [`Pipeline::handle_message`]; the records that are not done are returned in
//!   `batchItemFailures`, so that SQS redelivers only them (the event source mapping must have
//!   `ReportBatchItemFailures`), and a record that cannot be read reaches the dead-letter queue
//!   after the queue's maximum receive count.
//! - **An EventBridge event** (a GuardDuty finding sent to the function directly): handled the
//!   same way; anything but done is an error, so that Lambda's retry and its on-failure
//!   destination apply.
//! - **A function URL request** (`POST /slack/interactions`, the Slack app's buttons):
//!   [`handle_function_url`] verifies it and decides before answering (a function may not run
//!   after it answers), with [`crate::serve::SlackInteractions`].

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde_json::Value;

use crate::pipeline::{Disposition, Pipeline};

/// What Lambda gets back.
#[derive(Debug)]
#[non_exhaustive]
pub enum Response {
    /// The answer to an SQS batch: the records to redeliver (none when all were done).
    Batch(SqsBatchResponse),
    /// A direct event that was carried out.
    Done,
}

/// A direct event that was not done (Lambda retries it, then sends it to the function's
/// on-failure destination).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LambdaError {
    /// The event holds no finding remedy can read.
    #[error("the event cannot be read: {0}")]
    Unreadable(String),
    /// Something may succeed on a retry.
    #[error("the event is not done: {0}")]
    Retry(String),
}

/// Handles one invocation's payload (see the [module docs](self)).
pub async fn handle_event(pipeline: &Pipeline, event: Value) -> Result<Response, LambdaError> {
    if is_sqs_batch(&event) {
        let batch: SqsEvent = serde_json::from_value(event).map_err(|e| {
            LambdaError::Unreadable(format!("an SQS batch that does not parse: {e}"))
        })?;
        return Ok(Response::Batch(handle_batch(pipeline, batch).await));
    }
    let body = serde_json::to_vec(&event).map_err(|e| LambdaError::Unreadable(e.to_string()))?;
    let name = event.get("id").and_then(Value::as_str).unwrap_or("event");
    let delivery = pipeline.handle_message(&body, name).await;
    match delivery.disposition {
        Disposition::Done => Ok(Response::Done),
        Disposition::Unreadable(reason) => Err(LambdaError::Unreadable(reason)),
        Disposition::Retry(reason) => Err(LambdaError::Retry(reason)),
    }
}

/// Handles every record of an SQS batch; the ones not done are the batch's item failures.
pub async fn handle_batch(pipeline: &Pipeline, batch: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in batch.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or_default().as_bytes();
        let delivery = pipeline.handle_message(body, &id).await;
        match &delivery.disposition {
            Disposition::Done => {
                tracing::info!(message = %crate::finding::inert(&id), findings = delivery.reports.len(), "message done");
            }
            Disposition::Retry(reason) => {
                tracing::warn!(message = %crate::finding::inert(&id), "message left for redelivery: {}", crate::finding::inert(reason));
            }
            Disposition::Unreadable(reason) => {
                tracing::error!(message = %crate::finding::inert(&id), "message cannot be read, left for the dead-letter queue: {}", crate::finding::inert(reason));
            }
        }
        if !delivery.disposition.is_done() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Whether `event` is an SQS batch: `Records` whose first record comes from `aws:sqs`.
fn is_sqs_batch(event: &Value) -> bool {
    event
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .and_then(|r| r.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs")
}

/// Whether `event` is a Lambda function URL request (payload format 2.0 with `requestContext.http`).
pub fn is_function_url(event: &Value) -> bool {
    event
        .get("requestContext")
        .and_then(|c| c.get("http"))
        .is_some()
        && event.get("rawPath").is_some()
}

/// Answers a function URL request: `POST /slack/interactions` goes to `interactions` (absent:
/// 404), carried out before answering; the answer is the function URL's response object.
pub async fn handle_function_url(
    interactions: Option<&crate::serve::SlackInteractions>,
    event: &Value,
) -> Value {
    let method = event
        .pointer("/requestContext/http/method")
        .and_then(Value::as_str)
        .unwrap_or("");
    let path = event.get("rawPath").and_then(Value::as_str).unwrap_or("");
    let answer = |status: u16, body: &str| {
        serde_json::json!({
            "statusCode": status,
            "headers": {"content-type": "text/plain"},
            "body": body,
        })
    };
    let (Some(interactions), "POST", "/slack/interactions") = (interactions, method, path) else {
        return answer(404, "not found");
    };
    let text = event.get("body").and_then(Value::as_str).unwrap_or("");
    let body = if event
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        match aws_smithy_types::base64::decode(text) {
            Ok(bytes) => bytes,
            Err(_) => return answer(401, "bad body"),
        }
    } else {
        text.as_bytes().to_vec()
    };
    let headers = event.get("headers");
    let header = |name: &str| headers.and_then(|h| h.get(name)).and_then(Value::as_str);
    let reply = interactions
        .handle(header, &body, crate::clock::now_secs())
        .await;
    answer(reply.status, &reply.body)
}

/// Whether `event` is a decision sent by a direct invocation (`{"decision": "approve" | "deny",
/// "request": "apr-…", "by": "…"}`: an Amazon Q Developer in chat applications custom action).
pub fn is_decision(event: &Value) -> bool {
    event.get("decision").is_some() && event.get("request").is_some()
}

/// Carries out a decision sent by a direct invocation with `remediator`, as `chatbot:<by>`: the
/// same `approve`/`deny` as `remedy approve` (decided once, every guard again). Who may invoke
/// the function is IAM's to say (the custom action runs with the channel's role). The answer
/// says what came of it.
pub async fn handle_decision(remediator: &crate::remediate::Remediator, event: &Value) -> Value {
    let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::trim);
    let answer = |ok: bool, said: String| serde_json::json!({"ok": ok, "said": said});
    let (Some(decision), Some(request), Some(by)) = (text("decision"), text("request"), text("by"))
    else {
        return answer(
            false,
            "a decision needs `decision`, `request` and `by`".into(),
        );
    };
    let Ok(id) = crate::id::ApprovalId::new(request) else {
        return answer(false, "`request` is not an approval request id".into());
    };
    if by.is_empty() || by.len() > 128 || by.chars().any(char::is_control) {
        return answer(
            false,
            "`by`: 1 to 128 characters, no control characters".into(),
        );
    }
    let by = format!("chatbot:{by}");
    let note = Some("via a direct invocation (chat custom action)");
    let decided = match decision {
        "approve" => remediator.approve(&id, &by, note).await,
        "deny" => remediator.deny(&id, &by, note).await,
        _ => return answer(false, "`decision` is `approve` or `deny`".into()),
    };
    match decided {
        Ok(report) => {
            let outcome = report
                .actions
                .first()
                .map_or_else(|| "no action record".to_owned(), |r| r.outcome.to_string());
            let done = if decision == "approve" {
                "approved"
            } else {
                "denied"
            };
            answer(true, format!("request {id} {done} by {by}: {outcome}"))
        }
        Err(e) => answer(false, format!("nothing changed: {e}")),
    }
}
