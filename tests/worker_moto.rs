#![cfg(feature = "sqs")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
//! `remedy worker` against moto's SQS (`scripts/moto.sh start`, then the exports it prints;
//! skipped when `REMEDY_MOTO` is unset): handled messages are deleted, an unreadable one is left
//! for the dead-letter queue and ends there after `maxReceiveCount`.

use std::process::Command;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;

fn moto() -> bool {
    std::env::var_os("REMEDY_MOTO").is_some()
}

async fn client() -> Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    Client::new(&sdk)
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// A queue with a dead-letter queue after `max_receives`; returns (queue URL, DLQ URL).
async fn queues(sqs: &Client, max_receives: u32) -> (String, String) {
    let name = unique("remedy-worker");
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = sqs
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
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": max_receives.to_string(),
    })
    .to_string();
    let queue = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (queue, dlq)
}

fn event(id: &str) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/findings/02-recon-iamuser.json"
    );
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["detail"]["id"] = id.into();
    v.to_string()
}

fn worker(queue: &str, extra: &[&str]) -> std::process::Output {
    let policies = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["worker", "--queue", queue, policies, "--exit-when-empty"])
        .args(["--wait-seconds", "1", "--visibility-seconds", "2"])
        .args(extra)
        .output()
        .unwrap()
}

async fn count(sqs: &Client, queue: &str) -> (u64, u64) {
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

#[tokio::test]
async fn handled_messages_are_deleted_and_an_unreadable_one_reaches_the_dead_letter_queue() {
    if !moto() {
        eprintln!("skipped: REMEDY_MOTO is not set (scripts/moto.sh start)");
        return;
    }
    let sqs = client().await;
    let (queue, dlq) = queues(&sqs, 2).await;
    for i in 0..12 {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(event(&format!("worker-finding-{i}")))
            .send()
            .await
            .unwrap();
    }
    sqs.send_message()
        .queue_url(&queue)
        .message_body("{\"not\": \"a finding\"")
        .send()
        .await
        .unwrap();

    let out = worker(&queue, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches(", deleted").count(), 12, "{stderr}");
    assert!(
        stderr.contains("cannot be read and is left for the dead-letter queue (receive 1)"),
        "{stderr}"
    );
    // The unreadable message is still there (in flight until its visibility timeout ends).
    assert_eq!(count(&sqs, &queue).await.0 + count(&sqs, &queue).await.1, 1);
    // Received again after its timeout: left again; then SQS moves it to the DLQ.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = worker(&queue, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("(receive 2)"), "{stderr}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = worker(&queue, &[]);
    assert!(out.status.success());
    assert_eq!(
        count(&sqs, &queue).await,
        (0, 0),
        "nothing left in the queue"
    );
    let moved = sqs
        .receive_message()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].body(), Some("{\"not\": \"a finding\""));
}

#[tokio::test]
async fn sigterm_stops_a_waiting_worker_cleanly() {
    if !moto() {
        eprintln!("skipped: REMEDY_MOTO is not set (scripts/moto.sh start)");
        return;
    }
    let sqs = client().await;
    let (queue, _) = queues(&sqs, 3).await;
    let policies = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let child = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args([
            "worker",
            "--queue",
            &queue,
            policies,
            "--wait-seconds",
            "20",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = std::time::Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped without waiting for the long poll"
    );
}
