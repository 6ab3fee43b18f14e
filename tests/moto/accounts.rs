//! Every account and region of an organization, against moto (issue 13): moto keeps IAM state per
//! account for credentials from `AssumeRole` into it, and SSM state per region. Needs
//! `AWS_ENDPOINT_URL` (see `scripts/test.sh`); without it every test says it did not run.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{finding, moto, record, root, unique};

const IAM_FINDING: &str = "examples/findings/01-iam-malicious-ip-custom.json";
const EC2_FINDING: &str = "examples/findings/03-ec2-command-and-control.json";
const TEMPLATE_USER: &str = "GuardDuty-Example-Compromised-Simulated";
const TEMPLATE_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const TEMPLATE_ACCOUNT: &str = "123456789012";
/// moto's own account: the one the test credentials are of.
const ADMIN: &str = "123456789012";
const MEMBER: &str = "444455556666";
const OUTSIDER: &str = "999988887777";

async fn sdk(url: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await
}

/// An IAM client in `account`: remedy's own, or through `AssumeRole` into the member role.
async fn iam_in(url: &str, account: &str) -> aws_sdk_iam::Client {
    let base = sdk(url, "us-east-1").await;

    if account == ADMIN {
        return aws_sdk_iam::Client::new(&base);
    }
    let sts = aws_sdk_sts::Client::new(&base);
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/remedy-responder"))
        .role_session_name("test-setup")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    let creds = aws_sdk_iam::config::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "test-assumed",
    );
    let config = base
        .to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .build();
    aws_sdk_iam::Client::new(&config)
}

/// Creates `user` with one key in the client's account; returns the key id.
async fn user_with_key(iam: &aws_sdk_iam::Client, user: &str) -> String {
    iam.create_user().user_name(user).send().await.unwrap();
    let key = iam
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .unwrap();
    key.access_key().unwrap().access_key_id().to_owned()
}

async fn active(iam: &aws_sdk_iam::Client, user: &str, key: &str) -> bool {
    let keys = iam.list_access_keys().user_name(user).send().await.unwrap();
    let meta = keys
        .access_key_metadata()
        .iter()
        .find(|m| m.access_key_id() == Some(key))
        .unwrap_or_else(|| panic!("no key {key} for {user}"));
    meta.status().map(|s| s.as_str()) == Some("Active")
}

fn config(dir: &Path, accounts: &str) -> String {
    let path = dir.join("remedy.toml");
    std::fs::write(
        &path,
        format!(
            "[notify]\ndefault = \"log\"\n\n[ledger]\npath = \"ledger\"\n\n[audit]\npath = \"audit.jsonl\"\n\n{accounts}\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

const ORG: &str = "[accounts]\nrole = \"arn:aws:iam::{account}:role/remedy-responder\"\nallowed = [\"123456789012\", \"4444*\"]\n";

/// `remedy run POLICIES FINDING --config CONFIG --execute`: the records and stderr.
fn run(url: &str, policies: &str, finding: &str, config: &str) -> (Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .current_dir(root())
        .args(["run", policies, finding, "--config", config, "--execute"])
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let records = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (records, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn bundled() -> String {
    root().join("policies").display().to_string()
}

#[tokio::test]
async fn a_member_finding_disables_the_member_key_and_leaves_the_admin_one() {
    let Some(url) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let user = unique("shared-");
    let admin = iam_in(&url, ADMIN).await;
    let member = iam_in(&url, MEMBER).await;
    let admin_key = user_with_key(&admin, &user).await;
    let member_key = user_with_key(&member, &user).await;
    let finding = finding(
        dir.path(),
        IAM_FINDING,
        &[
            (TEMPLATE_USER, &user),
            (TEMPLATE_KEY, &member_key),
            (TEMPLATE_ACCOUNT, MEMBER),
            ("b4c7e2a19f3d8e6a5b2c1d0e9f8a7b6c", &unique("f")),
        ],
    );
    let (records, stderr) = run(&url, &bundled(), &finding, &config(dir.path(), ORG));
    let disable = record(&records, "disable_access_key");
    assert_eq!(disable["outcome"]["status"], "executed", "{stderr}");
    assert_eq!(disable["account_id"], MEMBER);
    assert!(
        !active(&member, &user, &member_key).await,
        "the member's key is disabled"
    );
    assert!(
        active(&admin, &user, &admin_key).await,
        "the admin account's key is untouched"
    );
    // The record says as what it ran.
    let guard = disable["guards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["guard"] == "account")
        .unwrap();
    assert!(
        guard["detail"]
            .as_str()
            .unwrap()
            .contains("arn:aws:iam::444455556666:role/remedy-responder"),
        "{guard}"
    );
}

#[tokio::test]
async fn accounts_outside_the_list_or_without_a_role_are_refused() {
    let Some(url) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let user = unique("outsider-");
    let outsider = iam_in(&url, OUTSIDER).await;
    let key = user_with_key(&outsider, &user).await;
    let finding = finding(
        dir.path(),
        IAM_FINDING,
        &[
            (TEMPLATE_USER, &user),
            (TEMPLATE_KEY, &key),
            (TEMPLATE_ACCOUNT, OUTSIDER),
            ("b4c7e2a19f3d8e6a5b2c1d0e9f8a7b6c", &unique("f")),
        ],
    );
    let (records, stderr) = run(&url, &bundled(), &finding, &config(dir.path(), ORG));
    let disable = record(&records, "disable_access_key");
    assert_eq!(disable["outcome"]["status"], "skipped", "{stderr}");
    assert_eq!(disable["outcome"]["reason"]["kind"], "account_not_allowed");
    assert!(active(&outsider, &user, &key).await, "nothing changed");
    // The notification still went out.
    assert_eq!(record(&records, "notify")["outcome"]["status"], "executed");

    // Without [accounts], a member's finding is refused too: remedy acts in its own account only.
    let member = iam_in(&url, MEMBER).await;
    let user = unique("member-");
    let key = user_with_key(&member, &user).await;
    let finding = self::finding(
        dir.path(),
        IAM_FINDING,
        &[
            (TEMPLATE_USER, &user),
            (TEMPLATE_KEY, &key),
            (TEMPLATE_ACCOUNT, MEMBER),
            ("b4c7e2a19f3d8e6a5b2c1d0e9f8a7b6c", &unique("f")),
        ],
    );
    let plain = tempfile::tempdir().unwrap();
    let (records, stderr) = run(&url, &bundled(), &finding, &config(plain.path(), ""));
    let disable = record(&records, "disable_access_key");
    assert_eq!(disable["outcome"]["status"], "skipped", "{stderr}");
    assert_eq!(disable["outcome"]["reason"]["kind"], "account_not_allowed");
    let said = disable["outcome"]["details"].as_str().unwrap();
    assert!(
        said.contains(MEMBER) && said.contains(ADMIN),
        "names both accounts: {said}"
    );
    assert!(active(&member, &user, &key).await, "nothing changed");
}

#[tokio::test]
async fn the_ssm_command_goes_to_the_finding_region() {
    let Some(url) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("capture.rhai"),
        "const DESCRIPTION = \"capture\";\nconst APPLIES_TO = \"Backdoor:EC2/*\";\nfn decide(finding) {\n    run_command(\"AWS-RunShellScript\", finding.instance_ids, #{ commands: [\"uptime\"] }, \"capture\")\n}\n",
    )
    .unwrap();
    let id = unique("west");
    let finding = finding(
        dir.path(),
        EC2_FINDING,
        &[
            ("c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6", &id),
            ("us-east-1", "us-west-2"),
        ],
    );
    let (records, stderr) = run(
        &url,
        policies.to_str().unwrap(),
        &finding,
        &config(dir.path(), ""),
    );
    assert_eq!(
        record(&records, "run_command")["outcome"]["status"],
        "executed",
        "{stderr}"
    );
    let ours = |commands: &aws_sdk_ssm::operation::list_commands::ListCommandsOutput| {
        commands
            .commands()
            .iter()
            .filter(|c| c.comment().is_some_and(|c| c.contains(&id)))
            .count()
    };
    let west = aws_sdk_ssm::Client::new(&sdk(&url, "us-west-2").await);
    let east = aws_sdk_ssm::Client::new(&sdk(&url, "us-east-1").await);
    assert_eq!(ours(&west.list_commands().send().await.unwrap()), 1);
    assert_eq!(ours(&east.list_commands().send().await.unwrap()), 0);
}

/// `remedy eval POLICIES FINDING --config CONFIG`: the first plan.
fn eval(url: &str, policies: &str, finding: &str, config: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .current_dir(root())
        .args(["eval", policies, finding, "--config", config])
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(stdout.lines().next().unwrap_or("null")).unwrap()
}

#[tokio::test]
async fn enrichment_reads_the_member_account_too() {
    let Some(url) = moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let user = unique("enriched-");
    let member = iam_in(&url, MEMBER).await;
    let key = user_with_key(&member, &user).await;
    let finding = finding(
        dir.path(),
        IAM_FINDING,
        &[
            (TEMPLATE_USER, &user),
            (TEMPLATE_KEY, &key),
            (TEMPLATE_ACCOUNT, MEMBER),
        ],
    );
    let org = config(dir.path(), &format!("[enrich]\niam = true\n\n{ORG}"));
    let plan = eval(&url, &bundled(), &finding, &org);
    let enrichment = &plan["enrichment"];
    assert!(enrichment["principal"].is_object(), "{enrichment:#}");
    assert!(
        enrichment["errors"].as_array().is_none_or(Vec::is_empty),
        "{enrichment:#}"
    );
    // Without [accounts], the member's principal is not looked up with remedy's own credentials.
    let plain = tempfile::tempdir().unwrap();
    let own = config(plain.path(), "[enrich]\niam = true\n");
    let plan = eval(&url, &bundled(), &finding, &own);
    let errors = plan["enrichment"]["errors"].as_array().unwrap();
    assert!(
        errors[0]["message"].as_str().unwrap().contains(MEMBER),
        "{errors:#?}"
    );
}
