//! Approvals end to end against moto, through the CLI: `run --execute` leaves the key active and
//! lists the request; `approve` disables it and the audit names the approver; `deny` leaves it;
//! `expire` applies `on_timeout` both ways; the kill switch holds over an approval; a second
//! decision is refused; of two concurrent approvers one wins (file store and DynamoDB); a channel
//! that cannot be told of a decision is said, and the decision stands. Needs
//! `AWS_ENDPOINT_URL` (see `scripts/test.sh`); without it every test says it did not run.

use std::path::{Path, PathBuf};

use crate::common::{
    active, iam, json_lines, key_finding, moto, ran, remedy, unique, user_with_key,
};
use serde_json::Value;

/// Where requests are kept.
#[derive(Clone, Copy, Debug)]
enum Store {
    Files,
    Table,
}

/// A configuration in `dir`: approval for `disable_access_key`, with `timeout_secs` and
/// `on_timeout`, requests in `store`.
fn config(url: &str, dir: &Path, store: Store, timeout_secs: u64, on_timeout: &str) -> PathBuf {
    let state = match store {
        Store::Files => "[ledger]\npath = \"ledger\"\n".to_owned(),
        Store::Table => format!("[state]\ndynamodb_table = \"{}\"\n", unique("approvals-")),
    };
    let text = format!(
        "{state}\
         [audit]\npath = \"audit.jsonl\"\n\
         [notify]\ndefault = \"log\"\n\
         [enforcement]\nkill_switch_file = \"STOP\"\n\
         [approval]\nkinds = [\"disable_access_key\"]\ntimeout_secs = {timeout_secs}\n\
         on_timeout = \"{on_timeout}\"\nnotify = \"security\"\npath = \"approvals\"\n"
    );
    let path = dir.join("remedy.toml");
    std::fs::write(&path, text).unwrap();
    if let Store::Table = store {
        let init = remedy(url, &["state", "init", "--config", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            init.status.success(),
            "{}",
            String::from_utf8_lossy(&init.stderr)
        );
    }
    path
}

/// `remedy run policies FINDING --execute --config CONFIG`: the request's id.
fn run_until_pending(url: &str, config: &Path, finding: &Path) -> String {
    let out = remedy(
        url,
        &[
            "run",
            "policies",
            finding.to_str().unwrap(),
            "--execute",
            "--config",
            config.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    let r = ran(&out);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let record = r
        .lines
        .iter()
        .find(|l| l["kind"] == "disable_access_key")
        .unwrap_or_else(|| panic!("{:#?}\n{}", r.lines, r.stderr));
    assert_eq!(
        record["outcome"]["status"], "pending_approval",
        "{record:#}"
    );
    assert!(r.stderr.contains("remedy approve apr-"), "{}", r.stderr);
    record["outcome"]["approval_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The ids `remedy pending` lists.
fn pending(url: &str, config: &Path) -> Vec<String> {
    let out = remedy(url, &["pending", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let r = ran(&out);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    r.lines
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `remedy approve|deny ID --by BY --config CONFIG`.
fn decide(url: &str, config: &Path, verb: &str, id: &str, by: &str) -> crate::common::Ran {
    let out = remedy(
        url,
        &[
            verb,
            id,
            "--by",
            by,
            "--note",
            "checked with the key's owner",
            "--config",
            config.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    ran(&out)
}

/// The audit trail's records of `kind` for `event`/`status`.
fn audit(dir: &Path) -> Vec<Value> {
    json_lines(&dir.join("audit.jsonl"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_disables_the_key_and_the_audit_names_the_approver() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    for store in [Store::Files, Store::Table] {
        let dir = tempfile::tempdir().unwrap();
        let (user, key) = user_with_key(&client, "approve-").await;
        let config = config(&url, dir.path(), store, 3600, "deny");
        let finding = key_finding(dir.path(), &user, &key);
        let id = run_until_pending(&url, &config, &finding);
        assert!(
            active(&client, &user, &key).await,
            "{store:?}: still active"
        );
        assert_eq!(
            pending(&url, &config),
            std::slice::from_ref(&id),
            "{store:?}"
        );

        let r = decide(&url, &config, "approve", &id, "bob");
        assert_eq!(r.code, Some(0), "{store:?}: {}", r.stderr);
        assert!(!active(&client, &user, &key).await, "{store:?}: disabled");
        assert!(pending(&url, &config).is_empty(), "{store:?}");

        let trail = audit(dir.path());
        let approved = trail
            .iter()
            .find(|r| r["record"] == "approval" && r["event"] == "approved")
            .unwrap_or_else(|| panic!("{store:?}: {trail:#?}"));
        assert_eq!(approved["by"], "bob");
        assert_eq!(approved["note"], "checked with the key's owner");
        assert_eq!(approved["approval_id"], id.as_str());
        let executed = trail
            .iter()
            .find(|r| {
                r["record"] == "action"
                    && r["kind"] == "disable_access_key"
                    && r["outcome"]["status"] == "executed"
            })
            .unwrap_or_else(|| panic!("{store:?}: {trail:#?}"));
        let guard = executed["guards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["guard"] == "approval")
            .unwrap();
        assert!(
            guard["detail"]
                .as_str()
                .unwrap()
                .contains("approved by bob")
        );
        assert!(
            trail
                .iter()
                .any(|r| r["record"] == "approval" && r["event"] == "requested"),
            "{store:?}: the request is audited too"
        );

        // A second decision is refused and changes nothing.
        let again = decide(&url, &config, "approve", &id, "carol");
        assert_eq!(again.code, Some(1), "{store:?}");
        assert!(again.stderr.contains("already decided"), "{}", again.stderr);
        let deny = decide(&url, &config, "deny", &id, "carol");
        assert_eq!(deny.code, Some(1), "{store:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_leaves_the_key_active() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let (user, key) = user_with_key(&client, "deny-").await;
    let config = config(&url, dir.path(), Store::Files, 3600, "approve");
    let finding = key_finding(dir.path(), &user, &key);
    let id = run_until_pending(&url, &config, &finding);
    let r = decide(&url, &config, "deny", &id, "bob");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.lines[0]["outcome"]["reason"]["kind"], "denied");
    assert!(active(&client, &user, &key).await);
    assert!(pending(&url, &config).is_empty());
    // `expire` has nothing left to do, and the finding delivered again stays denied.
    let expire = remedy(&url, &["expire", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(expire.status.success());
    assert!(active(&client, &user, &key).await);
    let bad = decide(&url, &config, "approve", "apr-../../../etc/passwd", "bob");
    assert_eq!(bad.code, Some(1));
    assert!(
        bad.stderr.contains("not a valid approval id"),
        "{}",
        bad.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expire_applies_on_timeout_both_ways() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    for (on_timeout, stays_active) in [("deny", true), ("approve", false)] {
        let dir = tempfile::tempdir().unwrap();
        let (user, key) = user_with_key(&client, "expire-").await;
        let config = config(&url, dir.path(), Store::Files, 1, on_timeout);
        let finding = key_finding(dir.path(), &user, &key);
        let id = run_until_pending(&url, &config, &finding);
        std::thread::sleep(std::time::Duration::from_millis(2100));
        let late = decide(&url, &config, "approve", &id, "bob");
        assert_eq!(late.code, Some(1), "an expired request cannot be approved");
        assert!(late.stderr.contains("expired"), "{}", late.stderr);
        let out = remedy(&url, &["expire", "--config", config.to_str().unwrap()])
            .output()
            .unwrap();
        let r = ran(&out);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        // The action's record, then the message telling the asked channel what the timeout
        // decided.
        assert_eq!(r.lines.len(), 2, "{:#?}", r.lines);
        assert_eq!(r.lines[1]["kind"], "notify", "{:#?}", r.lines);
        assert_eq!(
            r.lines[1]["outcome"]["status"], "executed",
            "{:#?}",
            r.lines
        );
        assert_eq!(
            active(&client, &user, &key).await,
            stays_active,
            "on_timeout = {on_timeout}: {:#?}",
            r.lines
        );
        assert!(pending(&url, &config).is_empty());
        let decided = audit(dir.path())
            .into_iter()
            .find(|r| r["record"] == "approval" && r["by"] == "timeout")
            .unwrap();
        assert_eq!(
            decided["event"],
            if stays_active { "denied" } else { "approved" }
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_holds_over_an_approval() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let (user, key) = user_with_key(&client, "killed-").await;
    let config = config(&url, dir.path(), Store::Files, 3600, "deny");
    let finding = key_finding(dir.path(), &user, &key);
    let id = run_until_pending(&url, &config, &finding);
    std::fs::write(dir.path().join("STOP"), "incident review").unwrap();
    let r = decide(&url, &config, "approve", &id, "bob");
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert_eq!(r.lines[0]["outcome"]["reason"]["kind"], "kill_switch");
    assert!(r.stderr.contains("not carried out"), "{}", r.stderr);
    assert!(active(&client, &user, &key).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_approvers_one_wins() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    for store in [Store::Files, Store::Table] {
        let dir = tempfile::tempdir().unwrap();
        let (user, key) = user_with_key(&client, "race-").await;
        let config = config(&url, dir.path(), store, 3600, "deny");
        let finding = key_finding(dir.path(), &user, &key);
        let id = run_until_pending(&url, &config, &finding);
        let spawn = |verb: &str, by: &str| {
            remedy(
                &url,
                &[verb, &id, "--by", by, "--config", config.to_str().unwrap()],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        };
        let (one, two) = (spawn("approve", "bob"), spawn("approve", "carol"));
        let outs = [
            one.wait_with_output().unwrap(),
            two.wait_with_output().unwrap(),
        ];
        let codes: Vec<Option<i32>> = outs.iter().map(|o| o.status.code()).collect();
        assert!(
            codes.contains(&Some(0)) && codes.contains(&Some(1)),
            "{store:?}: {codes:?} {:?}",
            outs.iter()
                .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                .collect::<Vec<_>>()
        );
        let loser = outs.iter().find(|o| o.status.code() == Some(1)).unwrap();
        assert!(String::from_utf8_lossy(&loser.stderr).contains("already decided"));
        assert!(!active(&client, &user, &key).await);
        let executed = audit(dir.path())
            .iter()
            .filter(|r| {
                r["record"] == "action"
                    && r["kind"] == "disable_access_key"
                    && r["outcome"]["status"] == "executed"
            })
            .count();
        assert_eq!(executed, 1, "{store:?}: disabled once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_that_cannot_be_told_is_said_and_the_decision_stands() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let (user, key) = user_with_key(&client, "untold-").await;
    let config = config(&url, dir.path(), Store::Files, 3600, "deny");
    let finding = key_finding(dir.path(), &user, &key);
    let id = run_until_pending(&url, &config, &finding);
    // The approval channel loses its notifier before the decision.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("default = \"log\"", "channels = { other = \"log\" }"),
    )
    .unwrap();
    let r = decide(&url, &config, "approve", &id, "bob");
    assert_eq!(r.code, Some(0), "the decision stands: {}", r.stderr);
    assert!(!active(&client, &user, &key).await, "disabled");
    assert!(
        r.stderr
            .contains("the channel that was asked was not told: failed"),
        "{}",
        r.stderr
    );
    assert_eq!(r.lines.len(), 2, "{:#?}", r.lines);
    assert_eq!(r.lines[1]["outcome"]["status"], "failed", "{:#?}", r.lines);
}
