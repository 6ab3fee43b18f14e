//! End to end against moto: `remedy run POLICY_DIR FINDING [--execute]` with the real SDK
//! clients over HTTP. Needs `AWS_ENDPOINT_URL` (see `scripts/test.sh`); without it every test
//! says it did not run and why, and passes.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{active, finding, moto, record, remedy_json, root, unique};

const IAM_FINDING: &str = "examples/findings/01-iam-malicious-ip-custom.json";
const EC2_FINDING: &str = "examples/findings/03-ec2-command-and-control.json";
const IAM_USER: &str = "GuardDuty-Example-Compromised-Simulated";
const IAM_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const IAM_ID: &str = "b4c7e2a19f3d8e6a5b2c1d0e9f8a7b6c";
const EC2_ID: &str = "c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6";

async fn sdk(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await
}

fn config(dir: &Path, topic_arn: &str) -> String {
    let path = dir.join("remedy.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[notify]
channels = {{ security = "{topic_arn}" }}
default = "log"

[protect]
users = ["protected-*"]

[ledger]
path = "ledger"

[audit]
path = "audit.jsonl"
"#
        ),
    )
    .unwrap();
    path.display().to_string()
}

async fn topic(url: &str) -> String {
    let sns = aws_sdk_sns::Client::new(&sdk(url).await);
    let out = sns
        .create_topic()
        .name("remedy-security")
        .send()
        .await
        .unwrap();
    out.topic_arn().unwrap().to_owned()
}

async fn user_with_two_keys(iam: &aws_sdk_iam::Client, user: &str) -> (String, String) {
    iam.create_user().user_name(user).send().await.unwrap();
    let mut keys = Vec::new();
    for _ in 0..2 {
        let k = iam
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .unwrap();
        keys.push(k.access_key().unwrap().access_key_id().to_owned());
    }
    (keys[0].clone(), keys[1].clone())
}

#[tokio::test]
async fn iam_scenario_disables_exactly_the_named_key_once() {
    let Some(url) = moto() else { return };
    let iam = aws_sdk_iam::Client::new(&sdk(&url).await);
    let dir = tempfile::tempdir().unwrap();
    let user = unique("compromised-");
    let (key, other) = user_with_two_keys(&iam, &user).await;
    let id = unique("iam");
    let finding = finding(
        dir.path(),
        IAM_FINDING,
        &[(IAM_USER, &user), (IAM_KEY, &key), (IAM_ID, &id)],
    );
    let config = config(dir.path(), &topic(&url).await);

    // Without --execute nothing changes.
    let (records, stderr, ok) =
        remedy_json(&url, &["run", "policies", &finding, "--config", &config]);
    assert!(ok, "{stderr}");
    assert_eq!(
        record(&records, "disable_access_key")["outcome"]["reason"]["kind"],
        "dry_run"
    );
    assert!(active(&iam, &user, &key).await);

    // With --execute: exactly that key, the other stays active, the notification is published.
    let (records, stderr, ok) = remedy_json(
        &url,
        &[
            "run",
            "policies",
            &finding,
            "--config",
            &config,
            "--execute",
        ],
    );
    assert!(ok, "{stderr}");
    assert_eq!(
        record(&records, "disable_access_key")["outcome"]["status"],
        "executed",
        "{records:#?}"
    );
    let notify = record(&records, "notify");
    assert_eq!(notify["outcome"]["status"], "executed", "{notify:#?}");
    assert!(
        notify["outcome"]["details"]
            .as_str()
            .unwrap()
            .contains("published")
    );
    assert!(!active(&iam, &user, &key).await);
    assert!(active(&iam, &user, &other).await);

    // The same finding again: nothing executes again.
    let (records, stderr, ok) = remedy_json(
        &url,
        &[
            "run",
            "policies",
            &finding,
            "--config",
            &config,
            "--execute",
        ],
    );
    assert!(ok, "{stderr}");
    // (The bundled policy's write-back is off in this configuration: skipped, `not_enabled`.)
    assert!(
        records
            .iter()
            .all(|r| r["outcome"]["status"] == "already_done"
                || r["outcome"]["reason"]["kind"] == "not_enabled"),
        "{records:#?}"
    );
    assert_eq!(
        records
            .iter()
            .filter(|r| r["outcome"]["status"] == "already_done")
            .count(),
        2,
        "{records:#?}"
    );

    // Every decision and outcome is in the audit trail.
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.iter().filter(|l| l["record"] == "decision").count(),
        3
    );
    let actions: Vec<&Value> = lines.iter().filter(|l| l["record"] == "action").collect();
    assert_eq!(
        actions.len(),
        12,
        "4 per run: the key, 2 write-backs, the notification"
    );
    assert_eq!(
        actions
            .iter()
            .filter(|l| l["outcome"]["reason"]["kind"] == "not_enabled")
            .count(),
        6
    );
}

#[tokio::test]
async fn a_protected_user_is_never_touched() {
    let Some(url) = moto() else { return };
    let iam = aws_sdk_iam::Client::new(&sdk(&url).await);
    let dir = tempfile::tempdir().unwrap();
    let user = unique("protected-");
    let (key, _) = user_with_two_keys(&iam, &user).await;
    let id = unique("iam");
    let finding = finding(
        dir.path(),
        IAM_FINDING,
        &[(IAM_USER, &user), (IAM_KEY, &key), (IAM_ID, &id)],
    );
    let config = config(dir.path(), &topic(&url).await);
    let (records, stderr, ok) = remedy_json(
        &url,
        &[
            "run",
            "policies",
            &finding,
            "--config",
            &config,
            "--execute",
        ],
    );
    assert!(ok, "{stderr}");
    let disable = record(&records, "disable_access_key");
    assert_eq!(
        disable["outcome"]["details"],
        "protected by user `protected-*`"
    );
    assert!(active(&iam, &user, &key).await);
}

#[tokio::test]
async fn ec2_finding_sends_the_ssm_command() {
    let Some(url) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    // A policy of its own, so the test does not depend on which bundled policies exist.
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("capture.rhai"),
        r#"
const DESCRIPTION = "capture forensic data from an instance talking to a C&C server";
const APPLIES_TO = "Backdoor:EC2/*";

fn decide(finding) {
    [
        run_command("AWS-RunShellScript", finding.instance_ids, #{ commands: ["uptime"] }, "capture"),
        notify("security", `forensic capture started on ${finding.instance_id}`),
    ]
}
"#,
    )
    .unwrap();
    let id = unique("ec2");
    let finding = finding(dir.path(), EC2_FINDING, &[(EC2_ID, &id)]);
    let config = config(dir.path(), &topic(&url).await);
    let policies = policies.display().to_string();
    let (records, stderr, ok) = remedy_json(
        &url,
        &["run", &policies, &finding, "--config", &config, "--execute"],
    );
    assert!(ok, "{stderr}");
    assert_eq!(
        record(&records, "run_command")["outcome"]["status"],
        "executed",
        "{records:#?}"
    );
    let ssm = aws_sdk_ssm::Client::new(&sdk(&url).await);
    let commands = ssm.list_commands().send().await.unwrap();
    let ours: Vec<_> = commands
        .commands()
        .iter()
        .filter(|c| c.comment().is_some_and(|c| c.contains(&id)))
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].document_name(), Some("AWS-RunShellScript"));
    assert_eq!(ours[0].instance_ids(), ["i-0abcdef1234567890"]);
}

#[test]
fn dry_run_needs_no_aws_at_all() {
    // Runs with or without moto: no endpoint, no credentials, no config.
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .current_dir(root())
        .args(["run", "policies", IAM_FINDING])
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("dry run, nothing was changed"), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let first: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["mode"], "dry_run");
    assert_eq!(first["kind"], "disable_access_key");
}
