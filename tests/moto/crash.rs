//! Crash safety end to end against moto: `kill -9` and SIGTERM mid-run, an audit trail that
//! cannot be written, two processes on one finding, an updated finding. Needs `AWS_ENDPOINT_URL`
//! (see `scripts/test.sh`); without it every test says it did not run and passes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use aws_sdk_iam::types::StatusType;
use serde_json::Value;

use crate::common::{active, iam, moto, root, unique, users_with_keys};

const TEMPLATE: &str = "examples/findings/01-iam-malicious-ip-custom.json";
const USER: &str = "GuardDuty-Example-Compromised-Simulated";
const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const ID: &str = "b4c7e2a19f3d8e6a5b2c1d0e9f8a7b6c";

/// A JSON Lines file with one finding per (user, key); `updated` sets each finding's `updatedAt`.
fn findings(dir: &Path, pairs: &[(String, String)], updated: &str) -> PathBuf {
    let template = std::fs::read_to_string(root().join(TEMPLATE)).unwrap();
    let mut lines = String::new();
    for (user, key) in pairs {
        let mut v: Value = serde_json::from_str(
            &template
                .replace(USER, user)
                .replace(KEY, key)
                .replace(ID, &unique("f")),
        )
        .unwrap();
        v["detail"]["updatedAt"] = updated.into();
        lines.push_str(&serde_json::to_string(&v).unwrap());
        lines.push('\n');
    }
    let path = dir.join(format!("{}.jsonl", unique("findings")));
    std::fs::write(&path, lines).unwrap();
    path
}

fn config(dir: &Path, audit: &str) -> PathBuf {
    let path = dir.join("remedy.toml");
    std::fs::write(
        &path,
        format!("concurrency = 4\n[ledger]\npath = \"ledger\"\n[audit]\npath = \"{audit}\"\n"),
    )
    .unwrap();
    path
}

fn command(url: &str, config: &Path, findings: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_remedy"));
    c.current_dir(root())
        .arg("run")
        .arg("policies")
        .arg(findings)
        .arg("--execute")
        .arg("--config")
        .arg(config)
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1");
    c
}

/// Runs to the end: (stdout records, stderr, exit code).
fn run(url: &str, config: &Path, findings: &Path) -> (Vec<Value>, String, Option<i32>) {
    let out = command(url, config, findings).output().unwrap();
    let records = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        records,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

/// Starts a run and returns it once `n` keys were disabled (as its stdout says).
fn start_until_executed(url: &str, config: &Path, findings: &Path, n: usize) -> Child {
    let mut child = command(url, config, findings)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut executed = 0;
    for line in BufReader::new(stdout).lines() {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["kind"] == "disable_access_key" && v["outcome"]["status"] == "executed" {
            executed += 1;
            if executed == n {
                break;
            }
        }
    }
    child
}

/// Every line of the audit trail, each a JSON object.
fn audit(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("invalid line {l:?}: {e}")))
        .collect()
}

/// Per key: how many `executed` outcomes, and the statuses of its records.
fn by_key(records: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records {
        if r["record"] == "action" && r["kind"] == "disable_access_key" {
            out.entry(r["params"]["access_key_id"].as_str().unwrap().to_owned())
                .or_default()
                .push(r["outcome"]["status"].as_str().unwrap().to_owned());
        }
    }
    out
}

/// The keys with an intent record.
fn intended(records: &[Value]) -> BTreeSet<String> {
    records
        .iter()
        .filter(|r| r["record"] == "intent")
        .map(|r| {
            r["action"]["params"]["access_key_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn kill_9_mid_run_then_a_rerun_disables_every_key_once() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let pairs = users_with_keys(&client, "crash-user-", 20).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "audit.jsonl");
    let input = findings(dir.path(), &pairs, "2026-11-27T10:05:00.000Z");

    let mut child = start_until_executed(&url, &cfg, &input, 3);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let first = audit(&dir.path().join("audit.jsonl"));
    let first_keys = by_key(&first);
    let first_intents = intended(&first);

    let (_, stderr, code) = run(&url, &cfg, &input);
    assert_eq!(code, Some(0), "{stderr}");
    for (user, key) in &pairs {
        assert!(
            !active(&client, user, key).await,
            "{key} still active: {stderr}"
        );
    }
    let all = audit(&dir.path().join("audit.jsonl"));
    for (key, statuses) in by_key(&all) {
        let executed = statuses.iter().filter(|s| *s == "executed").count();
        assert!(executed <= 1, "{key} disabled twice: {statuses:?}");
        let done = statuses.iter().filter(|s| *s == "already_done").count();
        if done > 0 {
            // Reported done only when the first run did it (recorded, or intended and verified).
            assert!(
                first_keys
                    .get(&key)
                    .is_some_and(|s| s.contains(&"executed".to_owned()))
                    || first_intents.contains(&key),
                "{key}: {statuses:?}"
            );
        }
        assert!(
            statuses.iter().all(|s| s != "failed"),
            "{key}: {statuses:?}"
        );
    }
}

#[tokio::test]
async fn sigterm_records_what_is_in_flight_and_exits_143_then_a_rerun_finishes() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let pairs = users_with_keys(&client, "crash-user-", 20).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "audit.jsonl");
    let input = findings(dir.path(), &pairs, "2026-11-27T10:05:00.000Z");

    let mut child = start_until_executed(&url, &cfg, &input, 3);
    let term = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    // Every intent has its outcome: nothing in flight went unrecorded.
    let (unfinished, torn) =
        remedy::store::audit::JsonLinesAudit::unfinished(dir.path().join("audit.jsonl")).unwrap();
    assert_eq!(torn, 0);
    assert!(unfinished.is_empty(), "{unfinished:?}");

    let (_, stderr, code) = run(&url, &cfg, &input);
    assert_eq!(code, Some(0), "{stderr}");
    for (user, key) in &pairs {
        assert!(!active(&client, user, key).await, "{key} still active");
    }
}

#[tokio::test]
async fn an_audit_trail_that_cannot_be_written_stops_every_destructive_action() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    for path in ["/dev/full", "/proc/remedy-cannot-create-this.jsonl"] {
        let pairs = users_with_keys(&client, "crash-user-", 3).await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), path);
        let input = findings(dir.path(), &pairs, "2026-11-27T10:05:00.000Z");
        let (records, stderr, code) = run(&url, &cfg, &input);
        assert_eq!(code, Some(1), "{path}: {stderr}");
        for (user, key) in &pairs {
            assert!(
                active(&client, user, key).await,
                "{path}: {key} was disabled"
            );
        }
        let disables: Vec<&Value> = records
            .iter()
            .filter(|r| r["kind"] == "disable_access_key")
            .collect();
        assert_eq!(disables.len(), 3);
        for r in disables {
            assert_eq!(r["outcome"]["status"], "failed", "{r}");
            assert_eq!(r["outcome"]["error"]["kind"], "audit_unavailable", "{r}");
        }
    }
}

#[tokio::test]
async fn two_processes_on_one_failing_finding_never_report_it_done() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let (user, _) = users_with_keys(&client, "crash-user-", 1).await.remove(0);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "audit.jsonl");
    // A key the user does not have: every attempt fails.
    let input = findings(
        dir.path(),
        &[(user, "AKIANOTTHEUSERSKEY00".to_owned())],
        "2026-11-27T10:05:00.000Z",
    );
    let a = command(&url, &cfg, &input).output().unwrap();
    let b_child = command(&url, &cfg, &input).output().unwrap();
    for out in [a, b_child] {
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if v["kind"] == "disable_access_key" {
                let status = v["outcome"]["status"].as_str().unwrap();
                assert!(
                    status == "failed" || status == "in_progress",
                    "a failed action reported as {status}"
                );
            }
        }
    }
}

#[tokio::test]
async fn an_updated_finding_disables_a_key_that_was_enabled_again() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let pairs = users_with_keys(&client, "crash-user-", 1).await;
    let (user, key) = &pairs[0];
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "audit.jsonl");
    let template = std::fs::read_to_string(root().join(TEMPLATE)).unwrap();
    let write = |updated: &str, name: &str| {
        let mut v: Value =
            serde_json::from_str(&template.replace(USER, user).replace(KEY, key)).unwrap();
        v["detail"]["updatedAt"] = updated.into();
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
        path
    };
    let v1 = write("2026-11-27T10:05:00.000Z", "v1.json");
    let (_, stderr, code) = run(&url, &cfg, &v1);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!active(&client, user, key).await);

    client
        .update_access_key()
        .user_name(user)
        .access_key_id(key)
        .status(StatusType::Active)
        .send()
        .await
        .unwrap();
    // The same version again is a repeat: already done, the key stays as it is.
    let (records, _, _) = run(&url, &cfg, &v1);
    assert_eq!(records[0]["outcome"]["status"], "already_done");
    // GuardDuty updates the finding (same id, later updatedAt): a new occurrence.
    let v2 = write("2026-11-27T11:05:00.000Z", "v2.json");
    let (records, stderr, code) = run(&url, &cfg, &v2);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(records[0]["outcome"]["status"], "executed", "{stderr}");
    assert!(!active(&client, user, key).await);
}

#[test]
fn a_huge_cooldown_is_a_configuration_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("remedy.toml");
    std::fs::write(&cfg, "[breaker]\ncooldown_secs = 18446744073709551615\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .current_dir(root())
        .args(["run", "policies", TEMPLATE, "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("breaker.cooldown_secs"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn reconcile_lists_and_finishes_what_an_interrupted_run_left() {
    use remedy::plan::{DisableAccessKey, FindingContext, PlannedAction, Principal, Source};
    use remedy::store::audit::{AuditRecord, AuditSink, IntentRecord, JsonLinesAudit};
    use remedy::store::ledger::{ClaimRequest, FileLedger, Ledger, LedgerKey, Owner};
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let pairs = users_with_keys(&client, "crash-user-", 2).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "audit.jsonl");
    let planned = |user: &str, key: &str| -> (FindingContext, PlannedAction) {
        let mut f =
            remedy::testing::context(&unique("f"), "UnauthorizedAccess:IAMUser/MaliciousIPCaller")
                .unwrap();
        // moto's account: the executors act in the finding's account only.
        f.account_id = "123456789012".into();
        f.principal = Some(Principal {
            user_name: Some(user.into()),
            user_type: Some("IAMUser".into()),
            ..Principal::default()
        });
        let mut plan = remedy::Plan::new(f.clone(), "v");
        plan.push(
            remedy::Action::DisableAccessKey(DisableAccessKey {
                user_name: user.parse().unwrap(),
                access_key_id: key.parse().unwrap(),
            }),
            Source {
                policy: "p".into(),
                version: "v".into(),
                reason: None,
                line: None,
            },
        );
        (f, plan.actions.remove(0))
    };
    // A claim of a run whose process is gone, and an intent with no outcome.
    let mut dead = Owner::with_run("dead-run");
    dead.pid = u32::MAX - 3;
    let ledger = FileLedger::open(dir.path().join("ledger")).unwrap();
    let (f1, a1) = planned(&pairs[0].0, &pairs[0].1);
    let key1 = LedgerKey::new(&f1, &a1);
    ledger
        .claim(&ClaimRequest {
            key: &key1,
            owner: &dead,
            lease: std::time::Duration::from_secs(900),
            finding: &f1,
            action: &a1,
        })
        .await
        .unwrap();
    let (f2, a2) = planned(&pairs[1].0, &pairs[1].1);
    let audit = JsonLinesAudit::open(dir.path().join("audit.jsonl")).unwrap();
    audit
        .record(&AuditRecord::Intent(Box::new(IntentRecord {
            time: "2026-11-30T00:00:00Z".into(),
            intent: "dead-run-7".into(),
            owner: dead.clone(),
            key: LedgerKey::new(&f2, &a2),
            finding: f2,
            action: a2,
        })))
        .await
        .unwrap();

    let reconcile = |execute: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_remedy"));
        c.current_dir(root())
            .args(["ledger", "reconcile", "--config"])
            .arg(&cfg)
            .env("AWS_ENDPOINT_URL", &url)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1");
        if execute {
            c.arg("--execute");
        }
        c.output().unwrap()
    };
    let listed = reconcile(false);
    assert!(listed.status.success());
    let lines: Vec<Value> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        active(&client, &pairs[0].0, &pairs[0].1).await,
        "listing changes nothing"
    );

    let finished = reconcile(true);
    let stderr = String::from_utf8_lossy(&finished.stderr);
    assert!(finished.status.success(), "{stderr}");
    for (user, key) in &pairs {
        assert!(!active(&client, user, key).await, "{key}: {stderr}");
    }
    let again = reconcile(false);
    assert!(String::from_utf8(again.stdout).unwrap().trim().is_empty());
}
