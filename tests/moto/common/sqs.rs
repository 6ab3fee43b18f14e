//! What the SQS tests share: a client on moto, a queue with its dead-letter queue, and how many
//! messages a queue holds.
#![allow(dead_code, unreachable_pub)]

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;

use super::unique;

/// An SQS client on moto at `url`.
pub async fn sqs(url: &str) -> Client {
    Client::new(&super::sdk(url).await)
}

/// A new queue named after `prefix` whose messages move to its dead-letter queue after
/// `max_receives` receives: (queue URL, DLQ URL).
pub async fn queues(sqs: &Client, prefix: &str, max_receives: u32) -> (String, String) {
    let name = unique(prefix);
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let redrive = serde_json::json!({
        "deadLetterTargetArn": arn,
        "maxReceiveCount": max_receives.to_string(),
    });
    let queue = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (queue, dlq)
}

/// (visible, in flight) messages of `queue`.
pub async fn count(sqs: &Client, queue: &str) -> (u64, u64) {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let n = |k: &QueueAttributeName| attrs[k].parse::<u64>().unwrap();
    (
        n(&QueueAttributeName::ApproximateNumberOfMessages),
        n(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}
