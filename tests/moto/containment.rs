//! Containment end to end against moto: `remedy run policies FINDING --execute` revokes the
//! sessions of the finding's role (and no other), leaves a protected role alone, keeps the first
//! issue time on a repeat, and `remedy undo RECORD_ID --execute` removes exactly what was added;
//! quarantine and console login through a policy of the test's own. Needs `AWS_ENDPOINT_URL` (see
//! `scripts/test.sh`; moto started by `scripts/moto.sh` loads AWS's managed policies); without it
//! every test says it did not run and why, and passes.

use std::path::Path;

use serde_json::Value;

use crate::common::{finding, iam, moto, record, remedy_json, unique};

const EXFIL_FINDING: &str = "examples/findings/06-instance-credential-exfiltration.json";
const EXFIL_ROLE: &str = "web-server-role";
const EXFIL_ID: &str = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
const IAM_FINDING: &str = "examples/findings/01-iam-malicious-ip-custom.json";
const IAM_USER: &str = "GuardDuty-Example-Compromised-Simulated";
const IAM_ID: &str = "b4c7e2a19f3d8e6a5b2c1d0e9f8a7b6c";
const UPDATED_AT: &str = "2024-06-11T09:36:51.208Z";
const QUARANTINE: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const OTHER: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#;

fn config(dir: &Path) -> String {
    let path = dir.join("remedy.toml");
    std::fs::write(
        &path,
        "[protect]\nroles = [\"protected-*\"]\n\n[ledger]\npath = \"ledger\"\n\n[audit]\npath = \"audit.jsonl\"\n",
    )
    .unwrap();
    path.display().to_string()
}

async fn create_role(iam: &aws_sdk_iam::Client, role: &str) {
    iam.create_role()
        .role_name(role)
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .unwrap();
}

/// The role's inline policies, name to decoded document.
async fn inline(iam: &aws_sdk_iam::Client, role: &str) -> Vec<(String, Value)> {
    let names = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    let mut all = Vec::new();
    for name in names.policy_names() {
        let doc = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .unwrap();
        let text = percent_encoding::percent_decode_str(doc.policy_document())
            .decode_utf8()
            .unwrap()
            .into_owned();
        all.push((name.clone(), serde_json::from_str(&text).unwrap()));
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

fn issue_time(doc: &Value) -> String {
    doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn run(url: &str, finding: &str, config: &str) -> Vec<Value> {
    let (records, stderr, ok) = remedy_json(
        url,
        &["run", "policies", finding, "--config", config, "--execute"],
    );
    assert!(ok, "{stderr}");
    records
}

#[tokio::test]
async fn an_assumed_role_finding_revokes_that_roles_sessions_and_undo_removes_exactly_that() {
    let Some(url) = moto() else { return };
    let iam = iam(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let (role, bystander) = (unique("web-"), unique("bystander-"));
    create_role(&iam, &role).await;
    create_role(&iam, &bystander).await;
    iam.put_role_policy()
        .role_name(&role)
        .policy_name("app-access")
        .policy_document(OTHER)
        .send()
        .await
        .unwrap();
    let id = unique("exfil");
    let path = finding(
        dir.path(),
        EXFIL_FINDING,
        &[(EXFIL_ROLE, &role), (EXFIL_ID, &id)],
    );

    // A dry run changes nothing.
    let (records, stderr, ok) = remedy_json(&url, &["run", "policies", &path, "--config", &config]);
    assert!(ok, "{stderr}");
    assert_eq!(
        record(&records, "revoke_role_sessions")["outcome"]["reason"]["kind"],
        "dry_run"
    );
    assert_eq!(inline(&iam, &role).await.len(), 1);

    let records = run(&url, &path, &config);
    let revoke = record(&records, "revoke_role_sessions");
    assert_eq!(revoke["outcome"]["status"], "executed", "{revoke:#}");
    assert_eq!(revoke["outcome"]["undo"]["kind"], "delete_inline_policy");
    let policies = inline(&iam, &role).await;
    let name = format!("remedy-revoke-sessions-{id}");
    assert_eq!(
        policies.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        ["app-access", name.as_str()]
    );
    let statement = &policies[1].1["Statement"][0];
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(statement["Action"], "*");
    let first = issue_time(&policies[1].1);
    assert!(inline(&iam, &bystander).await.is_empty(), "no other role");

    // GuardDuty updates the finding a while later: the revocation keeps its first time.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let updated = finding(
        dir.path(),
        EXFIL_FINDING,
        &[
            (EXFIL_ROLE, &role),
            (EXFIL_ID, &id),
            (UPDATED_AT, "2024-06-11T10:36:51.208Z"),
        ],
    );
    let records = run(&url, &updated, &config);
    let again = record(&records, "revoke_role_sessions");
    assert_eq!(again["outcome"]["status"], "already_done", "{again:#}");
    let policies = inline(&iam, &role).await;
    assert_eq!(policies.len(), 2);
    assert_eq!(issue_time(&policies[1].1), first);

    // Undo: a dry run first, then exactly the revocation goes; the role's own policy stays.
    let record_id = revoke["intent"].as_str().unwrap();
    let (records, stderr, ok) = remedy_json(&url, &["undo", record_id, "--config", &config]);
    assert!(ok, "{stderr}");
    assert_eq!(records[0]["kind"], "undo");
    assert_eq!(records[0]["outcome"]["reason"]["kind"], "dry_run");
    assert_eq!(inline(&iam, &role).await.len(), 2);
    let (records, stderr, ok) =
        remedy_json(&url, &["undo", record_id, "--config", &config, "--execute"]);
    assert!(ok, "{stderr}");
    assert_eq!(records[0]["outcome"]["status"], "executed", "{records:#?}");
    let left = inline(&iam, &role).await;
    assert_eq!(
        left.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        ["app-access"]
    );
    // Undone once: a second undo says so and changes nothing.
    let (records, stderr, ok) =
        remedy_json(&url, &["undo", record_id, "--config", &config, "--execute"]);
    assert!(ok, "{stderr}");
    assert!(records.is_empty(), "{records:#?}");
    assert!(stderr.contains("already undone"), "{stderr}");

    // The undo is in the audit trail like any action, with its intent.
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let undo = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["record"] == "action" && l["kind"] == "undo")
        .unwrap();
    assert_eq!(undo["params"]["record"], record_id);
    assert!(undo["intent"].is_string());
}

#[tokio::test]
async fn a_protected_role_is_untouched() {
    let Some(url) = moto() else { return };
    let iam = iam(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let role = unique("protected-");
    create_role(&iam, &role).await;
    let path = finding(
        dir.path(),
        EXFIL_FINDING,
        &[(EXFIL_ROLE, &role), (EXFIL_ID, &unique("exfil"))],
    );
    let records = run(&url, &path, &config);
    let revoke = record(&records, "revoke_role_sessions");
    assert_eq!(
        revoke["outcome"]["reason"]["kind"], "protected",
        "{revoke:#}"
    );
    assert!(inline(&iam, &role).await.is_empty());
}

#[tokio::test]
async fn quarantine_and_console_login_through_a_policy_and_their_undo() {
    let Some(url) = moto() else { return };
    let iam = iam(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("contain-user.rhai"),
        "const DESCRIPTION = \"quarantine the user and end its console access\";\n\
         const APPLIES_TO = \"UnauthorizedAccess:IAMUser/*\";\n\
         fn decide(finding) {\n\
         [quarantine_principal(\"user\", finding.user_name, \"test\"), disable_console_login(finding.user_name)]\n\
         }\n",
    )
    .unwrap();
    let user = unique("alice-");
    iam.create_user().user_name(&user).send().await.unwrap();
    iam.create_login_profile()
        .user_name(&user)
        .password("Remedy-Moto-Test-1!")
        .send()
        .await
        .unwrap();
    let path = finding(
        dir.path(),
        IAM_FINDING,
        &[(IAM_USER, &user), (IAM_ID, &unique("iam"))],
    );
    let dir_arg = policies.display().to_string();
    let (records, stderr, ok) = remedy_json(
        &url,
        &["run", &dir_arg, &path, "--config", &config, "--execute"],
    );
    assert!(ok, "{stderr}");
    let quarantine = record(&records, "quarantine_principal");
    assert_eq!(
        quarantine["outcome"]["status"], "executed",
        "{quarantine:#}"
    );
    let console = record(&records, "disable_console_login");
    assert_eq!(console["outcome"]["status"], "executed", "{console:#}");
    let attached = |iam: aws_sdk_iam::Client, user: String| async move {
        iam.list_attached_user_policies()
            .user_name(user)
            .send()
            .await
            .unwrap()
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        attached(iam.clone(), user.clone()).await,
        [QUARANTINE],
        "{quarantine:#}"
    );
    let profile = iam.get_login_profile().user_name(&user).send().await;
    assert!(profile.is_err(), "the console password is gone");

    // The console password cannot be restored: undo says so, exits 1 and changes nothing.
    let console_id = console["intent"].as_str().unwrap();
    let (records, stderr, ok) = remedy_json(
        &url,
        &["undo", console_id, "--config", &config, "--execute"],
    );
    assert!(!ok && records.is_empty(), "{stderr}");
    assert!(stderr.contains("cannot be restored"), "{stderr}");

    // The quarantine is detached again.
    let quarantine_id = quarantine["intent"].as_str().unwrap();
    let (records, stderr, ok) = remedy_json(
        &url,
        &["undo", quarantine_id, "--config", &config, "--execute"],
    );
    assert!(ok, "{stderr}");
    assert_eq!(records[0]["outcome"]["status"], "executed", "{records:#?}");
    assert!(attached(iam.clone(), user.clone()).await.is_empty());
}

#[test]
fn undo_of_an_unknown_record_fails_without_aws() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    std::fs::write(dir.path().join("audit.jsonl"), "").unwrap();
    let (records, stderr, ok) = remedy_json(
        "http://127.0.0.1:9",
        &["undo", "no-such-record", "--config", &config],
    );
    assert!(!ok && records.is_empty(), "{stderr}");
    assert!(
        stderr.contains("no action record `no-such-record`"),
        "{stderr}"
    );
}
