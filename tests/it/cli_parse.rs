//! `remedy parse`: exit codes and output keys.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const KEYS: &[&str] = &[
    "source",
    "product",
    "id",
    "type",
    "severity",
    "severity_label",
    "account_id",
    "region",
    "resource_type",
    "user_name",
    "user_type",
    "access_key_id",
    "instance_id",
    "remote_ip",
    "api",
    "sample",
    "count",
    "archived",
    "updated_at",
    "shape",
];

fn fixture(rel: &str) -> String {
    format!("{}/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"))
}

fn remedy(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<serde_json::Map<String, serde_json::Value>> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap()
                .as_object()
                .unwrap()
                .clone()
        })
        .collect()
}

#[test]
fn every_shape_of_the_iam_scenario_prints_the_same_line() {
    let files = [
        "iam/malicious-ip-custom.raw.json",
        "iam/malicious-ip-custom.eventbridge.json",
        "iam/malicious-ip-custom.cli.json",
        "iam/malicious-ip-custom.asff.json",
    ];
    let paths: Vec<String> = files.iter().map(|f| fixture(f)).collect();
    let args: Vec<&str> = std::iter::once("parse")
        .chain(paths.iter().map(String::as_str))
        .collect();
    let out = remedy(&args, None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = lines(&out);
    assert_eq!(lines.len(), 4);
    for line in &lines {
        let keys: Vec<&str> = line.keys().map(String::as_str).collect();
        let mut want = KEYS.to_vec();
        want.sort_unstable();
        let mut have = keys.clone();
        have.sort_unstable();
        assert_eq!(have, want);
    }
    let shapes: Vec<&str> = lines.iter().map(|l| l["shape"].as_str().unwrap()).collect();
    assert_eq!(shapes, ["raw", "eventbridge", "cli", "asff"]);
    for line in &lines {
        let mut l = line.clone();
        l.remove("shape");
        let mut first = lines[0].clone();
        first.remove("shape");
        assert_eq!(l, first);
    }
    let l = &lines[0];
    assert_eq!(l["id"], "b4c7e2a19f3d8e6a5b2c1d0e9f8a7b6c");
    assert_eq!(
        l["type"],
        "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom"
    );
    assert_eq!(l["severity"], 5.0);
    assert_eq!(l["severity_label"], "Medium");
    assert_eq!(l["user_name"], "GuardDuty-Example-Compromised-Simulated");
    assert_eq!(l["access_key_id"], "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(l["remote_ip"], "198.51.100.23");
    assert_eq!(l["api"], "GetParameters");
    assert_eq!(l["instance_id"], serde_json::Value::Null);
    assert_eq!(l["sample"], false);
    assert_eq!(l["count"], 3);
    assert_eq!(l["updated_at"], "2024-06-11T09:36:51.208Z");
}

#[test]
fn stdin_is_read_with_a_dash_or_no_file() {
    let doc = std::fs::read(fixture("families/ssh-bruteforce-target.json")).unwrap();
    for args in [&["parse"][..], &["parse", "-"][..]] {
        let out = remedy(args, Some(&doc));
        assert_eq!(out.status.code(), Some(0));
        let lines = lines(&out);
        assert_eq!(lines[0]["instance_id"], "i-0abcdef1234567890");
        assert_eq!(lines[0]["user_name"], serde_json::Value::Null);
    }
}

#[test]
fn failures_exit_1_and_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, content: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    };
    let cases = [
        write("malformed.json", b"{\"id\": "),
        write("empty.json", b""),
        write("event.json", br#"{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}"#),
        write("deep.json", "[".repeat(200_000).as_bytes()),
        dir.path().join("missing.json").display().to_string(),
    ];
    for path in &cases {
        let out = remedy(&["parse", path], None);
        assert_eq!(out.status.code(), Some(1), "{path}");
        let err = String::from_utf8(out.stderr).unwrap();
        let name = std::path::Path::new(path)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        assert!(err.contains(name), "{path}: {err}");
        assert!(out.stdout.is_empty());
    }
    // One bad file among good ones: the good ones are still printed, the status is 1.
    let good = fixture("iam/malicious-ip-custom.raw.json");
    let out = remedy(&["parse", &good, &cases[0], &good], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lines(&out).len(), 2);
}

#[test]
fn a_50_mb_document_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.json");
    let mut content = b"{\"padding\": \"".to_vec();
    content.resize(content.len() + 50 * 1024 * 1024, b'x');
    content.extend_from_slice(b"\"}");
    std::fs::write(&p, content).unwrap();
    let out = remedy(&["parse", p.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("larger than the limit")
    );
}

#[test]
fn json_lines_stream_names_the_line() {
    let out = remedy(&["parse", &fixture("stream.jsonl")], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lines(&out).len(), 3);
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("stream.jsonl` line 3")
    );
}
