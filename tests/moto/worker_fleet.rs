//! Several `remedy worker` processes on one queue and one state table, against moto's SQS, IAM
//! and DynamoDB: 300 messages (100 findings delivered 3 times, about 20 keys) drained by two
//! workers at once disable every key exactly once and leave nothing in the queue; a worker killed
//! with `kill -9` mid-batch leaves its messages to come back, and the other worker finishes them
//! without doing anything twice. Needs `AWS_ENDPOINT_URL` (see `scripts/test.sh`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::sqs::{count, queues, sqs};
use crate::common::{active, iam, moto, remedy, root, unique, user_with_key};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde_json::Value;

/// The EventBridge event of the bundled key finding, about `user`'s `key`, with finding id `id`.
fn event(user: &str, key: &str, id: &str) -> String {
    let template = std::fs::read_to_string(root().join(crate::common::TEMPLATE)).unwrap();
    let mut v: Value = serde_json::from_str(
        &template
            .replace("GuardDuty-Example-Compromised-Simulated", user)
            .replace("AKIAIOSFODNN7EXAMPLE", key),
    )
    .unwrap();
    v["detail"]["id"] = id.into();
    v.to_string()
}

/// Sends `bodies`, ten a call, shuffled so deliveries of one finding are apart.
async fn send(sqs: &aws_sdk_sqs::Client, queue: &str, bodies: &[String]) {
    for (n, chunk) in bodies.chunks(10).enumerate() {
        let mut batch = sqs.send_message_batch().queue_url(queue);
        for (i, body) in chunk.iter().enumerate() {
            batch = batch.entries(
                SendMessageBatchRequestEntry::builder()
                    .id(format!("m{n}-{i}"))
                    .message_body(body)
                    .build()
                    .unwrap(),
            );
        }
        let out = batch.send().await.unwrap();
        assert!(out.failed.is_empty(), "{:?}", out.failed);
    }
}

/// Two configurations on one new state table, each with its own audit trail: (configs, trails).
fn configs(url: &str, dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let table = unique("fleet-state-");
    let mut configs = Vec::new();
    let mut trails = Vec::new();
    for n in 0..2 {
        let trail = dir.join(format!("audit-{n}.jsonl"));
        let config = dir.join(format!("remedy-{n}.toml"));
        std::fs::write(
            &config,
            format!(
                "[state]\ndynamodb_table = \"{table}\"\n[audit]\npath = \"{}\"\n\
                 [notify]\ndefault = \"log\"\n",
                trail.display()
            ),
        )
        .unwrap();
        configs.push(config);
        trails.push(trail);
    }
    let init = remedy(
        url,
        &["state", "init", "--config", configs[0].to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    (configs, trails)
}

fn worker(url: &str, queue: &str, config: &Path, visibility: &str) -> Child {
    remedy(
        url,
        &[
            "worker",
            "--queue",
            queue,
            "policies",
            "--config",
            config.to_str().unwrap(),
            "--execute",
            "--exit-when-empty",
            "--wait-seconds",
            "1",
            "--visibility-seconds",
            visibility,
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

/// Waits for every child (at most `limit` in all), reading their pipes all the while (a worker
/// whose stdout nobody reads would block on it): each one's stdout, stderr and exit code.
fn finish(children: Vec<Child>, limit: Duration) -> Vec<(String, String, Option<i32>)> {
    let started = Instant::now();
    let waiters: Vec<(u32, std::thread::JoinHandle<std::process::Output>)> = children
        .into_iter()
        .map(|child| {
            (
                child.id(),
                std::thread::spawn(move || child.wait_with_output().unwrap()),
            )
        })
        .collect();
    while waiters.iter().any(|(_, w)| !w.is_finished()) {
        if started.elapsed() > limit {
            for (id, _) in &waiters {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &id.to_string()])
                    .status();
            }
            panic!("the workers did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    waiters
        .into_iter()
        .map(|(_, w)| {
            let out = w.join().unwrap();
            (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
                out.status.code(),
            )
        })
        .collect()
}

/// The `disable_access_key` action records of the trails, by access key: their statuses. A last
/// line torn by `kill -9` is skipped.
fn by_key(trails: &[PathBuf]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for trail in trails {
        let text = std::fs::read_to_string(trail).unwrap_or_default();
        for line in text.lines() {
            let Ok(r) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if r["record"] == "action" && r["kind"] == "disable_access_key" {
                out.entry(r["params"]["access_key_id"].as_str().unwrap().to_owned())
                    .or_default()
                    .push(r["outcome"]["status"].as_str().unwrap().to_owned());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_drain_300_messages_and_disable_each_key_once() {
    let Some(url) = moto() else { return };
    let (iam, sqs) = (iam(&url).await, sqs(&url).await);
    let dir = tempfile::tempdir().unwrap();
    let mut keys = Vec::new();
    for _ in 0..20 {
        keys.push(user_with_key(&iam, "fleet-").await);
    }
    // 100 findings, 5 about each key (next to each other in the queue, so they arrive in one
    // batch and race), each delivered 3 times.
    let findings: Vec<String> = (0..100)
        .map(|f| {
            let (user, key) = &keys[f / 5];
            event(user, key, &format!("fleet-{f}-{}", key.to_lowercase()))
        })
        .collect();
    let bodies: Vec<String> = (0..3).flat_map(|_| findings.iter().cloned()).collect();
    assert_eq!(bodies.len(), 300);
    let (queue, dlq) = queues(&sqs, "fleet-", 5).await;
    send(&sqs, &queue, &bodies).await;
    let (configs, trails) = configs(&url, dir.path());

    let one = worker(&url, &queue, &configs[0], "30");
    let two = worker(&url, &queue, &configs[1], "30");
    let mut done = finish(vec![one, two], Duration::from_secs(300)).into_iter();
    let (_, err_one, code_one) = done.next().unwrap();
    let (_, err_two, code_two) = done.next().unwrap();
    assert_eq!(code_one, Some(0), "{err_one}");
    assert_eq!(code_two, Some(0), "{err_two}");
    let deleted = err_one.matches(", deleted").count() + err_two.matches(", deleted").count();
    assert_eq!(
        deleted, 300,
        "every message deleted once:\n{err_one}\n{err_two}"
    );
    assert!(
        err_one.contains(", deleted") && err_two.contains(", deleted"),
        "both workers took messages"
    );
    assert_eq!(
        count(&sqs, &queue).await,
        (0, 0),
        "nothing left, nothing in flight"
    );
    assert_eq!(count(&sqs, &dlq).await, (0, 0));

    let records = by_key(&trails);
    for (user, key) in &keys {
        assert!(!active(&iam, user, key).await, "{key} disabled");
        let statuses = &records[key];
        let executed = statuses.iter().filter(|s| *s == "executed").count();
        assert_eq!(executed, 1, "{key} disabled exactly once: {statuses:?}");
        assert!(
            statuses
                .iter()
                .all(|s| s == "executed" || s == "already_done"),
            "{key}: {statuses:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_batch_leaves_its_messages_to_the_other() {
    let Some(url) = moto() else { return };
    let (iam, sqs) = (iam(&url).await, sqs(&url).await);
    let dir = tempfile::tempdir().unwrap();
    let mut keys = Vec::new();
    for _ in 0..20 {
        keys.push(user_with_key(&iam, "killed-").await);
    }
    let bodies: Vec<String> = (0..40)
        .map(|f| {
            let (user, key) = &keys[f % 20];
            event(user, key, &format!("killed-{f}-{}", key.to_lowercase()))
        })
        .collect();
    let (queue, dlq) = queues(&sqs, "fleet-", 5).await;
    send(&sqs, &queue, &bodies).await;
    let (configs, trails) = configs(&url, dir.path());

    // The first worker is killed once it has disabled a key, mid-batch.
    let mut first = worker(&url, &queue, &configs[0], "5");
    let stdout = first.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["kind"] == "disable_access_key" && v["outcome"]["status"] == "executed" {
            break;
        }
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let after_kill = count(&sqs, &queue).await;
    assert!(
        after_kill.0 + after_kill.1 > 0,
        "killed before the queue was drained"
    );

    // Its in-flight messages come back after their visibility timeout; the second finishes.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let second = worker(&url, &queue, &configs[1], "30");
    let (_, err, code) = finish(vec![second], Duration::from_secs(300))
        .pop()
        .unwrap();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(count(&sqs, &queue).await, (0, 0), "{err}");
    assert_eq!(count(&sqs, &dlq).await, (0, 0));
    let records = by_key(&trails);
    for (user, key) in &keys {
        assert!(!active(&iam, user, key).await, "{key} disabled");
        let statuses = records.get(key).cloned().unwrap_or_default();
        let executed = statuses.iter().filter(|s| *s == "executed").count();
        assert!(executed <= 1, "{key} disabled at most once: {statuses:?}");
    }
}
