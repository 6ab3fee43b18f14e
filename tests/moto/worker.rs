//! `remedy worker` against moto's SQS (`scripts/moto.sh start`, then the exports it prints;
//! skipped when `AWS_ENDPOINT_URL` is unset): handled messages are deleted, an unreadable one is left
//! for the dead-letter queue and ends there after `maxReceiveCount`.

use std::time::Duration;

use crate::common::sqs::{count, queues, sqs};
use crate::common::{moto, remedy};

fn event(id: &str) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/findings/02-recon-iamuser.json"
    );
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["detail"]["id"] = id.into();
    v.to_string()
}

fn worker(url: &str, queue: &str, extra: &[&str]) -> std::process::Output {
    remedy(
        url,
        &["worker", "--queue", queue, "policies", "--exit-when-empty"],
    )
    .args(["--wait-seconds", "1", "--visibility-seconds", "2"])
    .args(extra)
    .output()
    .unwrap()
}

#[tokio::test]
async fn handled_messages_are_deleted_and_an_unreadable_one_reaches_the_dead_letter_queue() {
    let Some(url) = moto() else { return };
    let sqs = sqs(&url).await;
    let (queue, dlq) = queues(&sqs, "remedy-worker", 2).await;
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

    let out = worker(&url, &queue, &[]);
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
    let out = worker(&url, &queue, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("(receive 2)"), "{stderr}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = worker(&url, &queue, &[]);
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
    let Some(url) = moto() else { return };
    let sqs = sqs(&url).await;
    let (queue, _) = queues(&sqs, "remedy-worker", 3).await;
    let child = remedy(
        &url,
        &[
            "worker",
            "--queue",
            &queue,
            "policies",
            "--wait-seconds",
            "20",
        ],
    )
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = std::time::Instant::now();
    std::process::Command::new("kill")
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
