//! Many workers, one memory, end to end against moto: `remedy run --execute` processes sharing
//! one DynamoDB table (`[state]`) disable every key once, share one rate budget and breaker, obey
//! `remedy state stop`, and fail closed when DynamoDB cannot be reached. Needs `AWS_ENDPOINT_URL`
//! (see `scripts/test.sh`); without it every test says it did not run and passes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use crate::common::{active, iam, moto, root, unique, users_with_keys};

const TEMPLATE: &str = "examples/findings/01-iam-malicious-ip-custom.json";
const USER: &str = "GuardDuty-Example-Compromised-Simulated";
const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const ID: &str = "b4c7e2a19f3d8e6a5b2c1d0e9f8a7b6c";

/// A JSON Lines file: one finding per (user, key), each written `repeats` times in round-robin
/// order (the same finding re-delivered).
fn findings(dir: &Path, pairs: &[(String, String)], repeats: usize) -> PathBuf {
    let template = std::fs::read_to_string(root().join(TEMPLATE)).unwrap();
    let lines: Vec<String> = pairs
        .iter()
        .map(|(user, key)| {
            let v: Value = serde_json::from_str(
                &template
                    .replace(USER, user)
                    .replace(KEY, key)
                    .replace(ID, &unique("f")),
            )
            .unwrap();
            serde_json::to_string(&v).unwrap()
        })
        .collect();
    let mut text = String::new();
    for _ in 0..repeats {
        for line in &lines {
            text.push_str(line);
            text.push('\n');
        }
    }
    let path = dir.join(format!("{}.jsonl", unique("findings")));
    std::fs::write(&path, text).unwrap();
    path
}

/// A configuration naming `table`, with its own audit file and `extra` lines.
fn config(dir: &Path, name: &str, table: &str, extra: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "{extra}\n[state]\ndynamodb_table = \"{table}\"\n[audit]\npath = \"{name}-audit.jsonl\"\n"
        ),
    )
    .unwrap();
    path
}

fn remedy(url: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_remedy"));
    c.current_dir(root())
        .args(args)
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1");
    c
}

/// `remedy state SUBCOMMAND --config F ...`: its stdout JSON.
fn state(url: &str, cfg: &Path, subcommand: &str, extra: &[&str]) -> Value {
    let out = remedy(url, &["state", subcommand, "--config"])
        .arg(cfg)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "state {subcommand}: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn start_run(url: &str, cfg: &Path, input: &Path) -> Child {
    remedy(url, &["run", "policies"])
        .arg(input)
        // A policy past its 100 ms deadline on a loaded machine (a debug build, two workers) is
        // not what these tests are about: `finish` allows that failure and no other.
        .args(["--execute", "-q", "--allow-policy-errors", "--config"])
        .arg(cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Stdout records, stderr, exit code.
fn finish(child: Child) -> (Vec<Value>, String, Option<i32>) {
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    let records = String::from_utf8(stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        records,
        String::from_utf8_lossy(&stderr).into_owned(),
        status.code(),
    )
}

/// How many findings' policies ran past their deadline (the machine was busy); any other policy
/// failure fails the test.
fn timeouts(records: &[Value]) -> usize {
    let failures: Vec<&Value> = records
        .iter()
        .filter(|r| r["record"] == "policy_failure")
        .collect();
    assert!(
        failures.iter().all(|r| r["kind"] == "timeout"),
        "a policy failed: {failures:?}"
    );
    if !failures.is_empty() {
        eprintln!(
            "{} policy deadline(s) missed on a busy machine",
            failures.len()
        );
    }
    failures.len()
}

/// The disable records: status (and skip reason or error kind) per record.
fn disables(records: &[Value]) -> Vec<(String, String, String)> {
    records
        .iter()
        .filter(|r| r["kind"] == "disable_access_key")
        .map(|r| {
            let o = &r["outcome"];
            let why = o["reason"]["kind"]
                .as_str()
                .or_else(|| o["error"]["kind"].as_str())
                .unwrap_or_default();
            (
                r["params"]["access_key_id"].as_str().unwrap().to_owned(),
                o["status"].as_str().unwrap().to_owned(),
                why.to_owned(),
            )
        })
        .collect()
}

/// A fresh table, made with `remedy state init` (twice: the second finds it).
fn table(url: &str, dir: &Path) -> String {
    let table = unique("remedy-state-");
    let cfg = config(dir, "init", &table, "");
    assert_eq!(state(url, &cfg, "init", &[])["created"], true);
    assert_eq!(state(url, &cfg, "init", &[])["created"], false);
    table
}

#[tokio::test]
async fn two_workers_over_200_findings_disable_each_of_20_keys_once() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let pairs = users_with_keys(&client, "state-user-", 20).await;
    let dir = tempfile::tempdir().unwrap();
    let table = table(&url, dir.path());
    let input = findings(dir.path(), &pairs, 10);
    let a = start_run(&url, &config(dir.path(), "a", &table, ""), &input);
    let b = start_run(&url, &config(dir.path(), "b", &table, ""), &input);
    let (ra, ea, ca) = finish(a);
    let (rb, eb, cb) = finish(b);
    assert_eq!(ca, Some(0), "{ea}");
    assert_eq!(cb, Some(0), "{eb}");
    let timed_out = timeouts(&ra) + timeouts(&rb);
    let mut executed: BTreeMap<String, usize> = BTreeMap::new();
    let all: Vec<_> = disables(&ra).into_iter().chain(disables(&rb)).collect();
    assert_eq!(
        all.len(),
        400 - timed_out,
        "every finding of both runs whose policy decided has its record"
    );
    for (key, status, why) in &all {
        match status.as_str() {
            "executed" => *executed.entry(key.clone()).or_default() += 1,
            "already_done" | "in_progress" => {}
            other => panic!("{key}: {other} {why}"),
        }
    }
    assert_eq!(executed.values().sum::<usize>(), 20, "{executed:?}");
    for (user, key) in &pairs {
        assert_eq!(executed.get(key), Some(&1), "{key}");
        assert!(!active(&client, user, key).await, "{key} still active");
    }
}

/// Waits until the current hour has more than a minute left, so that a 3-per-hour window cannot
/// roll over mid-test.
async fn not_at_the_end_of_an_hour() {
    let now = remedy::store::ledger::now_secs();
    if now % 3600 > 3540 {
        tokio::time::sleep(std::time::Duration::from_secs(3600 - now % 3600 + 1)).await;
    }
}

#[tokio::test]
async fn a_rate_limit_of_three_is_shared_and_the_breaker_stops_both_workers() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let pairs = users_with_keys(&client, "state-user-", 10).await;
    let dir = tempfile::tempdir().unwrap();
    let table = table(&url, dir.path());
    let input = findings(dir.path(), &pairs, 1);
    let limits = "concurrency = 1\n[rate_limits]\ndisable_access_key = { max = 3, per_secs = 3600 }\n\
                  [breaker]\ncooldown_secs = 3600";
    not_at_the_end_of_an_hour().await;
    let (cfg_a, cfg_b) = (
        config(dir.path(), "a", &table, limits),
        config(dir.path(), "b", &table, limits),
    );
    let a = start_run(&url, &cfg_a, &input);
    let b = start_run(&url, &cfg_b, &input);
    let (ra, ea, ca) = finish(a);
    let (rb, eb, cb) = finish(b);
    assert_eq!((ca, cb), (Some(0), Some(0)), "{ea}\n{eb}");
    assert!(
        timeouts(&ra) + timeouts(&rb) < 7,
        "too few findings decided to reach the limit"
    );
    let (da, db) = (disables(&ra), disables(&rb));
    let executed = da
        .iter()
        .chain(&db)
        .filter(|(_, s, _)| s == "executed")
        .count();
    assert_eq!(executed, 3, "{da:?}\n{db:?}\n{ea}\n{eb}");
    let mut inactive = 0;
    for (user, key) in &pairs {
        if !active(&client, user, key).await {
            inactive += 1;
        }
    }
    assert_eq!(inactive, 3);
    // The breaker tripped once, and each worker skipped actions because of it.
    for (name, d) in [("a", &da), ("b", &db)] {
        assert!(
            d.iter().any(|(_, _, why)| why == "circuit_open"),
            "worker {name} never saw the breaker: {d:?}"
        );
    }
    let trips = ra
        .iter()
        .chain(&rb)
        .filter(|r| r["policy"] == "remedy" && r["kind"] == "notify")
        .count();
    assert_eq!(trips, 1, "one breaker notification");
    let status = state(&url, &cfg_a, "status", &[]);
    let cause = status["breaker"]["cause"].as_str().unwrap();
    assert!(cause.contains("disable_access_key"), "{status}");
    assert!(status["stop"].is_null(), "{status}");
}

#[tokio::test]
async fn remedy_state_stop_stops_every_worker_and_resume_releases_them() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let pairs = users_with_keys(&client, "state-user-", 5).await;
    let dir = tempfile::tempdir().unwrap();
    let table = table(&url, dir.path());
    let input = findings(dir.path(), &pairs, 1);
    let (cfg_a, cfg_b) = (
        config(dir.path(), "a", &table, ""),
        config(dir.path(), "b", &table, ""),
    );
    let stopped = state(&url, &cfg_a, "stop", &["--reason", "incident 42"]);
    assert_eq!(stopped["stop"]["reason"], "incident 42");
    let status = state(&url, &cfg_b, "status", &[]);
    assert_eq!(status["stop"]["reason"], "incident 42", "{status}");
    assert!(status["breaker"].is_null(), "{status}");

    let a = start_run(&url, &cfg_a, &input);
    let b = start_run(&url, &cfg_b, &input);
    for (records, stderr, code) in [finish(a), finish(b)] {
        assert_eq!(code, Some(0), "{stderr}");
        let d = disables(&records);
        assert_eq!(d.len(), 5 - timeouts(&records));
        for (key, status, why) in &d {
            assert_eq!(
                (status.as_str(), why.as_str()),
                ("skipped", "kill_switch"),
                "{key}"
            );
        }
        let details = records
            .iter()
            .find(|r| r["kind"] == "disable_access_key")
            .and_then(|r| r["outcome"]["details"].as_str())
            .unwrap();
        assert!(details.contains("incident 42"), "{details}");
    }
    for (user, key) in &pairs {
        assert!(active(&client, user, key).await, "{key} was disabled");
    }

    assert!(state(&url, &cfg_a, "resume", &[])["stop"].is_null());
    assert!(state(&url, &cfg_b, "status", &[])["stop"].is_null());
    let (records, stderr, code) = finish(start_run(&url, &cfg_b, &input));
    assert_eq!(code, Some(0), "{stderr}");
    let d = disables(&records);
    assert_eq!(d.len(), 5 - timeouts(&records));
    assert!(d.iter().all(|(_, s, _)| s == "executed"), "{d:?}");
    for (user, key) in &pairs {
        let disabled = d.iter().any(|(k, _, _)| k == key);
        assert_eq!(!active(&client, user, key).await, disabled, "{key}");
    }
}

#[tokio::test]
async fn an_unreachable_table_fails_every_destructive_action_closed() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let pairs = users_with_keys(&client, "state-user-", 3).await;
    let dir = tempfile::tempdir().unwrap();
    let input = findings(dir.path(), &pairs, 1);
    let cfg = config(
        dir.path(),
        "a",
        "remedy-state-unreachable",
        "[aws]\noperation_timeout_secs = 5\nattempt_timeout_secs = 2",
    );
    // A loopback port nothing listens on: DynamoDB only; IAM stays on moto.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = remedy(&url, &["run", "policies"])
        .arg(&input)
        .args(["--execute", "--config"])
        .arg(&cfg)
        .env(
            "AWS_ENDPOINT_URL_DYNAMODB",
            format!("http://127.0.0.1:{port}"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (records, stderr, code) = finish(child);
    assert_eq!(code, Some(1), "{stderr}");
    for (user, key) in &pairs {
        assert!(active(&client, user, key).await, "{key} was disabled");
    }
    let d = disables(&records);
    assert_eq!(d.len(), 3);
    for (key, status, why) in &d {
        assert_eq!(
            (status.as_str(), why.as_str()),
            ("failed", "state_unavailable"),
            "{key}"
        );
    }
    let retryable = records
        .iter()
        .filter(|r| r["kind"] == "disable_access_key")
        .all(|r| r["outcome"]["error"]["retryable"] == true);
    assert!(retryable);
    // The notifications still went out, and say the key was not disabled.
    let notes: Vec<&Value> = records.iter().filter(|r| r["kind"] == "notify").collect();
    assert_eq!(notes.len(), 3);
    assert!(notes.iter().all(|r| r["outcome"]["status"] == "executed"));
    // The log channel writes each message on one line, its line breaks shown as `\n`.
    let said = stderr
        .lines()
        .filter(|l| {
            l.contains("channel=security")
                && l.contains("What remedy did\\n  disable_access_key ")
                && l.contains(": failed: state unavailable: not executed")
        })
        .count();
    assert_eq!(said, 3, "{stderr}");
}

#[tokio::test]
async fn the_trails_head_in_the_table_shows_lines_removed_from_its_end() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let (user, key) = crate::common::user_with_key(&client, "head-user-").await;
    let dir = tempfile::tempdir().unwrap();
    let table = table(&url, dir.path());
    let cfg = config(dir.path(), "head", &table, "");
    let input = crate::common::key_finding(dir.path(), &user, &key);
    let out = remedy(&url, &["run", "policies"])
        .arg(&input)
        .args(["--execute", "-q", "--allow-policy-errors", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verify = || {
        remedy(&url, &["audit", "verify", "--config"])
            .arg(&cfg)
            .output()
            .unwrap()
    };
    let ok = verify();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    // The last line removed: the chain still holds, the table's head does not.
    let trail = dir.path().join("head-audit.jsonl");
    let text = std::fs::read_to_string(&trail).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "{text}");
    lines.pop();
    std::fs::write(&trail, lines.join("\n") + "\n").unwrap();
    let cut = verify();
    let said = String::from_utf8_lossy(&cut.stdout);
    assert!(!cut.status.success(), "{said}");
    assert!(said.contains("removed from its end"), "{said}");
}
