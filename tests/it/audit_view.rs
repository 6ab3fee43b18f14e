//! `remedy audit show` and `summary` on the trail of a real dry run of the bundled policies and
//! examples, with records of an enforced run (an approval, a failure, a failed policy) and lines
//! that are not records added to it.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const EXFILTRATION: &str = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";

fn remedy(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// A dry run of the bundled policies over the examples into `audit.jsonl` of a new directory
/// (named by its `remedy.toml`).
fn dry_run() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("remedy.toml"),
        "[audit]\npath = \"audit.jsonl\"\n",
    )
    .unwrap();
    let mut findings: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("examples/findings"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    findings.sort();
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .arg("run")
        .arg(Path::new(ROOT).join("policies"))
        .args(&findings)
        .args(["--config", "remedy.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    dir
}

fn records(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("audit.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn summary_counts_what_the_trail_holds() {
    let dir = dry_run();
    let trail = records(dir.path());
    let findings: HashSet<&str> = trail
        .iter()
        .map(|r| r["finding_id"].as_str().unwrap())
        .collect();
    let mut per_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_reason: BTreeMap<String, u64> = BTreeMap::new();
    for r in trail.iter().filter(|r| r["record"] == "action") {
        assert_eq!(r["outcome"]["status"], "skipped", "a dry run");
        *per_kind
            .entry(r["kind"].as_str().unwrap().to_owned())
            .or_default() += 1;
        *per_reason
            .entry(r["outcome"]["reason"]["kind"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let actions: u64 = per_kind.values().sum();
    // The write-back of the bundled key policy is off without `[writeback] kinds`.
    assert_eq!(per_reason.get("not_enabled"), Some(&2), "{per_reason:?}");
    assert!(findings.len() >= 5 && per_kind.len() >= 3, "{per_kind:?}");

    // Without FILE: the configuration's `[audit] path`.
    let out = remedy(dir.path(), &["audit", "summary", "--config", "remedy.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "audit.jsonl: {} records about {} findings, ",
            trail.len(),
            findings.len()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "modes: dry_run ({} decisions, {actions} actions)",
            findings.len()
        )),
        "{text}"
    );
    for (kind, n) in &per_kind {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("{kind} ")))
            .unwrap();
        assert_eq!(
            row.split_whitespace().collect::<Vec<_>>(),
            [kind, &n.to_string()]
        );
    }
    for (reason, n) in &per_reason {
        assert!(
            text.contains(&format!("{n:>7}  skipped: {reason}")),
            "{text}"
        );
    }
    assert!(
        text.contains("approvals: none\npolicy failures: none"),
        "{text}"
    );

    let out = remedy(dir.path(), &["audit", "summary", "audit.jsonl", "--json"]);
    let summary: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["records"], trail.len());
    assert_eq!(summary["findings"], findings.len());
    for (kind, n) in &per_kind {
        assert_eq!(summary["actions"][kind]["skipped"], *n, "{summary}");
    }
    assert_eq!(summary["unreadable_lines"], json!([]));
}

#[test]
fn show_tells_one_finding_what_was_decided_and_what_came_of_it() {
    let dir = dry_run();
    let out = remedy(
        dir.path(),
        &[
            "audit",
            "show",
            "--config",
            "remedy.toml",
            "--finding",
            EXFILTRATION,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "{EXFILTRATION}  UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS  \
             account 123456789012  us-east-1"
        )),
        "{text}"
    );
    assert!(
        lines[1].contains("(dry_run): 2 actions by instance-credential-exfiltration"),
        "{text}"
    );
    assert_eq!(
        lines[2], "  revoke_role_sessions role:web-server-role",
        "{text}"
    );
    assert!(
        lines[3].starts_with("    skipped: dry run: would revoke the active sessions"),
        "{text}"
    );
    assert!(
        lines[4].starts_with(
            "    chosen by instance-credential-exfiltration: credentials of the instance role"
        ),
        "{text}"
    );
    assert_eq!(*lines.last().unwrap(), "audit.jsonl: 1 finding, 3 records");
    // Only that finding.
    assert_eq!(text.matches("  decided ").count(), 1, "{text}");

    let out = remedy(
        dir.path(),
        &[
            "audit",
            "show",
            "audit.jsonl",
            "--json",
            "--finding",
            EXFILTRATION,
        ],
    );
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    let finding: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(finding["finding_id"], EXFILTRATION);
    assert_eq!(
        finding["decisions"][0]["evaluated"],
        json!(["instance-credential-exfiltration"])
    );
    let actions = finding["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2);
    assert_eq!(actions[0]["kind"], "revoke_role_sessions");
    assert_eq!(actions[0]["status"], "skipped");
    assert_eq!(actions[0]["reason"]["kind"], "dry_run");
    assert_eq!(
        actions[0]["blocked_by"],
        json!([{"guard": "enforcement", "detail": "dry run"}])
    );

    // Every finding of the trail, one JSON object each.
    let out = remedy(dir.path(), &["audit", "show", "audit.jsonl", "--json"]);
    let ids: Vec<String> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["finding_id"].to_string())
        .collect();
    let decisions = records(dir.path())
        .iter()
        .filter(|r| r["record"] == "decision")
        .count();
    assert_eq!(ids.len(), decisions);
}

/// Records of an enforced run, in 2030: an action held for approval, approved and executed; a
/// failed action, a failed policy, and a finding type with an escape sequence.
fn enforced_records() -> Vec<Value> {
    let at = |s: u32| format!("2030-01-01T00:00:{s:02}Z");
    let action = |s, id: &str, status: Value, guards: Value| {
        json!({"record": "action", "time": at(s), "mode": "enforce", "finding_id": id,
            "finding_type": "Recon:IAMUser/MaliciousIPCaller", "account_id": "111122223333",
            "region": "eu-west-1", "kind": "disable_access_key", "target": "access_key:bob/AKIA1",
            "params": {}, "policy": "keys", "policy_version": "v1",
            "sources": [{"policy": "keys", "version": "v1", "reason": "bad ip"}],
            "guards": guards, "outcome": status, "duration_ms": 3})
    };
    let approval = |s, event: &str, by: Option<&str>| {
        let mut a = json!({"record": "approval", "time": at(s), "event": event,
            "approval_id": "apr-1", "finding_id": "f-approved", "account_id": "111122223333",
            "kind": "disable_access_key", "target": "access_key:bob/AKIA1", "policy": "keys",
            "channel": "security", "expires": "2030-01-01T01:00:00Z", "on_timeout": "deny"});
        if let Some(by) = by {
            a["by"] = json!(by);
            a["note"] = json!("looks right");
        }
        a
    };
    vec![
        action(
            1,
            "f-approved",
            json!({"status": "pending_approval", "details": "asked on `security`",
                "approval_id": "apr-1", "expires": "2030-01-01T01:00:00Z", "on_timeout": "deny"}),
            json!([{"guard": "approval", "passed": false, "detail": "a person must approve"}]),
        ),
        approval(1, "requested", None),
        approval(2, "approved", Some("alice")),
        action(
            3,
            "f-approved",
            json!({"status": "executed", "details": "disabled access key `AKIA1`"}),
            json!([{"guard": "approval", "passed": true}]),
        ),
        json!({"record": "policy_failure", "time": at(4), "mode": "enforce",
            "finding_id": "f-failed", "finding_type": "Evil\u{1b}[31mType",
            "account_id": "111122223333", "region": "eu-west-1", "policy": "broken",
            "file": "broken.rhai", "kind": "runtime", "message": "variable not found",
            "line": 3, "column": 7}),
        action(
            5,
            "f-failed",
            json!({"status": "failed", "details": "permission_denied: not authorized",
                "error": {"kind": "permission_denied", "message": "not authorized"}}),
            json!([{"guard": "ledger", "passed": true}]),
        ),
    ]
}

/// The dry run's trail with a line of garbage, the enforced run's records and a torn last line.
fn mixed_trail() -> tempfile::TempDir {
    let dir = dry_run();
    let mut text = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    text.push_str("garbage, not a record\n");
    for record in enforced_records() {
        text.push_str(&format!("{record}\n"));
    }
    text.push_str("{\"record\":\"action\",\"ti");
    std::fs::write(dir.path().join("audit.jsonl"), text).unwrap();
    dir
}

#[test]
fn approvals_failures_and_unreadable_lines_are_shown_and_counted() {
    let dir = mixed_trail();
    let dry = records(dir.path()).len() - enforced_records().len();
    let lines = dry + 1 + enforced_records().len() + 1;
    let out = remedy(dir.path(), &["audit", "summary", "audit.jsonl"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        stderr(&out).contains(&format!(
            "audit.jsonl: 2 lines skipped, not a record (lines {}, {lines})",
            dry + 1
        )),
        "{}",
        stderr(&out)
    );
    assert!(text.contains("enforce (0 decisions, 3 actions)"), "{text}");
    assert!(
        text.contains("approvals: 1 requested, 1 approved (by alice 1)"),
        "{text}"
    );
    assert!(
        text.contains("      1  failed: permission_denied: not authorized"),
        "{text}"
    );
    assert!(
        text.contains("policy failures:\n      1  broken (runtime)"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("disable_access_key "))
        .unwrap();
    let header = text.lines().find(|l| l.starts_with("action ")).unwrap();
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        columns,
        [
            "action",
            "executed",
            "pending_approval",
            "skipped",
            "failed"
        ]
    );
    // One executed, one pending, the dry run's skip, one failed.
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["disable_access_key", "1", "1", "1", "1"]
    );

    // --since keeps the records of 2030 only.
    let out = remedy(
        dir.path(),
        &[
            "audit",
            "summary",
            "audit.jsonl",
            "--since",
            "2030-01-01T01:00:02+01:00",
            "--json",
        ],
    );
    let summary: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(summary["records"], 4, "{summary}");
    assert_eq!(summary["findings"], 2);
    assert_eq!(summary["first"], "2030-01-01T00:00:02Z");
    assert_eq!(summary["approvals"], json!({"approved": 1}));
    assert_eq!(summary["unreadable_lines"].as_array().unwrap().len(), 2);

    let out = remedy(
        dir.path(),
        &[
            "audit",
            "show",
            "audit.jsonl",
            "--since",
            "2030-01-01T00:00:00Z",
        ],
    );
    let text = stdout(&out);
    let expected = [
        "f-approved  Recon:IAMUser/MaliciousIPCaller  account 111122223333  eu-west-1",
        "  disable_access_key access_key:bob/AKIA1",
        "    pending_approval: asked on `security`  [guard approval: a person must approve]",
        "    chosen by keys: bad ip",
        "  approval requested 2030-01-01 00:00:01Z for disable_access_key access_key:bob/AKIA1 \
         on channel `security` (apr-1), expires 2030-01-01 01:00:00Z (then deny)",
        "  approval approved 2030-01-01 00:00:02Z by alice for disable_access_key \
         access_key:bob/AKIA1: looks right",
        "  disable_access_key access_key:bob/AKIA1",
        "    executed: disabled access key `AKIA1`",
        "    chosen by keys: bad ip",
        "",
    ];
    assert_eq!(
        text.lines().take(expected.len()).collect::<Vec<_>>(),
        expected,
        "{text}"
    );
    assert!(
        text.contains("  policy `broken` failed (runtime) at broken.rhai:3:7: variable not found"),
        "{text}"
    );
    assert!(
        text.contains("    failed: permission_denied: not authorized\n"),
        "{text}"
    );
    // The escape sequence of the finding type is shown escaped, never sent to the terminal.
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(text.contains("f-failed  Evil"), "{text}");
}

#[test]
fn a_bad_time_or_a_missing_trail_is_an_error() {
    let dir = dry_run();
    let out = remedy(
        dir.path(),
        &["audit", "show", "audit.jsonl", "--since", "yesterday"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--since: `yesterday` is not an RFC 3339 time"),
        "{}",
        stderr(&out)
    );
    let out = remedy(dir.path(), &["audit", "summary", "absent.jsonl"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot read `absent.jsonl`"),
        "{}",
        stderr(&out)
    );
}
