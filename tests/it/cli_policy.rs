//! `remedy check` and `remedy eval`.

use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_remedy");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn remedy(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap()
}

#[test]
fn check_accepts_the_bundled_policies() {
    let out = remedy(&["check", "policies"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("disable-key-on-malicious-ip"), "{stdout}");
}

#[test]
fn check_reports_a_broken_policy_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.rhai"),
        "const DESCRIPTION = \"x\";\nconst APPLIES_TO = \"*\";\nfn decide(finding) {\n    notify(\"security\", missing_variable)\n}\n",
    )
    .unwrap();
    let out = remedy(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("broken.rhai"), "{stderr}");
    assert!(stderr.contains("missing_variable"), "{stderr}");
    assert!(
        stderr.contains("4:25") || stderr.contains(":4:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("notify(\"security\", missing_variable)"),
        "source line: {stderr}"
    );
}

#[test]
fn eval_prints_the_iam_plan_as_json() {
    let out = remedy(&[
        "eval",
        "policies",
        "tests/fixtures/policy/iam-malicious-ip.json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1);
    let plan: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(plan["finding_id"], "4ec1d2b7a9f5e3c0b8d6a4f2e0c8b6a4");
    assert_eq!(
        plan["finding_type"],
        "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom"
    );
    assert_eq!(plan["sample"], false);
    assert_eq!(plan["errors"], serde_json::json!([]));
    let actions = plan["actions"].as_array().unwrap();
    assert_eq!(actions[0]["kind"], "disable_access_key");
    assert_eq!(actions[0]["params"]["user_name"], "build-bot");
    assert_eq!(
        actions[0]["params"]["access_key_id"],
        "AKIAI44QH8DHBEXAMPLE"
    );
    assert_eq!(actions[0]["policy"], "disable-key-on-malicious-ip");
    assert!(
        actions[0]["reason"]
            .as_str()
            .unwrap()
            .contains("198.51.100.23")
    );
    assert_eq!(actions[1]["kind"], "update_finding");
    assert_eq!(actions[1]["params"]["status"], "RESOLVED");
    assert_eq!(actions[2]["kind"], "archive_finding");
    assert_eq!(actions[3]["kind"], "notify");
    assert_eq!(actions[3]["params"]["channel"], "security");
}

#[test]
fn eval_reads_stdin_and_several_documents() {
    let iam = std::fs::read_to_string(format!(
        "{ROOT}/tests/fixtures/policy/iam-malicious-ip.json"
    ))
    .unwrap();
    let ec2 =
        std::fs::read_to_string(format!("{ROOT}/tests/fixtures/policy/ec2-bitcoin.json")).unwrap();
    let batch = format!("[{iam}, {ec2}]");
    let mut child = Command::new(BIN)
        .args(["eval", "policies", "-"])
        .current_dir(ROOT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(batch.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let plans: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(plans.len(), 2);
    assert_eq!(plans[1]["sample"], true);
    // A sample: the EC2 policy only notifies, so the high-severity fallback does not run.
    assert_eq!(plans[1]["actions"][0]["policy"], "ec2-forensics");
    assert_eq!(plans[1]["actions"][0]["kind"], "notify");
    assert_eq!(plans[1]["actions"].as_array().unwrap().len(), 1);
}

#[test]
fn eval_text_explains_the_plan_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fails.rhai"),
        "const DESCRIPTION = \"x\";\nconst APPLIES_TO = \"*\";\nfn decide(finding) {\n    throw \"nope\";\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("works.rhai"),
        "const DESCRIPTION = \"x\";\nconst APPLIES_TO = \"*\";\nfn decide(finding) { notify(\"security\", \"hello\", \"because\") }\n",
    )
    .unwrap();
    let fixture = format!("{ROOT}/tests/fixtures/policy/iam-malicious-ip.json");
    let out = remedy(&[
        "eval",
        dir.path().to_str().unwrap(),
        &fixture,
        "--format",
        "text",
    ]);
    // A policy that failed is a failure of the command: exit 2, the plan still printed.
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("-> notify"), "{text}");
    assert!(text.contains("chosen by works@"), "{text}");
    assert!(text.contains("because"), "{text}");
    assert!(
        text.contains("policy `fails` failed at fails.rhai:4:5 (runtime)"),
        "{text}"
    );
}

#[test]
fn eval_fails_on_unparsable_input_and_broken_policies() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{ not json").unwrap();
    let out = remedy(&["eval", "policies", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!out.stderr.is_empty());
    std::fs::write(dir.path().join("x.rhai"), "fn decide(").unwrap();
    let out = remedy(&[
        "eval",
        dir.path().to_str().unwrap(),
        "tests/fixtures/policy/iam-malicious-ip.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

/// Users' scripts read the CLI's JSON: every field the plan and the run records had before the
/// plan became self-contained is still there, where it was.
#[test]
fn eval_and_run_json_keep_every_field_they_had() {
    let finding = "examples/findings/01-iam-malicious-ip-custom.json";
    let out = remedy(&["eval", "policies", finding]);
    assert!(out.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "finding_id",
        "finding_type",
        "severity",
        "sample",
        "policy_set_version",
        "evaluated",
        "actions",
        "errors",
    ] {
        assert!(plan.get(key).is_some(), "plan lost `{key}`: {plan}");
    }
    assert!(plan["severity"].is_number());
    for key in ["kind", "params", "policy", "reason", "sources"] {
        assert!(plan["actions"][0].get(key).is_some(), "action lost `{key}`");
    }
    let out = remedy(&["run", "policies", finding]);
    assert!(out.status.success());
    let first = String::from_utf8(out.stdout).unwrap();
    let record: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    for key in [
        "time",
        "mode",
        "finding_id",
        "finding_type",
        "kind",
        "target",
        "params",
        "policy",
        "policy_version",
        "sources",
        "guards",
        "outcome",
        "duration_ms",
    ] {
        assert!(record.get(key).is_some(), "record lost `{key}`: {record}");
    }
    assert_eq!(record["outcome"]["status"], "skipped");
    assert!(record["guards"][0].get("guard").is_some());
}

#[test]
fn check_with_a_configuration_refuses_a_literal_channel_it_routes_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("p");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("pager.rhai"),
        "const DESCRIPTION = \"pages\";\nconst APPLIES_TO = \"*\";\n\
         fn decide(finding) { [notify(\"pagerduty\", \"x\"), notify(\"ops\", \"y\")] }\n",
    )
    .unwrap();
    let config = dir.path().join("remedy.toml");
    std::fs::write(&config, "[notify.channels]\nops = \"log\"\n").unwrap();
    let (p, c) = (policies.to_str().unwrap(), config.to_str().unwrap());
    let out = remedy(&["check", p, "--config", c]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("`pagerduty`") && !stderr.contains("`ops`"),
        "{stderr}"
    );
    // A default route takes every channel; without a configuration, the log does.
    std::fs::write(
        &config,
        "[notify]\ndefault = \"log\"\nchannels = { ops = \"log\" }\n",
    )
    .unwrap();
    assert!(remedy(&["check", p, "--config", c]).status.success());
    assert!(remedy(&["check", p]).status.success());
}
