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
