//! The README's transcripts that need AWS, run again against moto and compared (markers
//! `<!-- output: moto NAME -->`; see `tests/it/readme/transcript.rs` for the rules and
//! `REMEDY_BLESS=1`). Each `NAME` is a setup here: what the directory and moto hold before the
//! block's commands run.

use std::path::Path;

use crate::common::{iam, moto, root};
use crate::transcript::{Shell, check_readme, workspace};

/// The README's user of the approval example (made anew: older keys deleted, one new key).
const APPROVAL_USER: &str = "readme-alice";
/// The instance role of the walk-through's finding (`06-instance-credential-exfiltration.json`).
const ROLE: &str = "web-server-role";

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// `user` with exactly one active key, whatever an earlier run left: its id.
async fn fresh_key(iam: &aws_sdk_iam::Client, user: &str) -> String {
    if iam.create_user().user_name(user).send().await.is_err() {
        let keys = iam.list_access_keys().user_name(user).send().await.unwrap();
        for key in keys.access_key_metadata() {
            iam.delete_access_key()
                .user_name(user)
                .access_key_id(key.access_key_id().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    let key = iam
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .unwrap();
    key.access_key().unwrap().access_key_id().to_owned()
}

/// `role` without inline policies (an earlier run's revocation removed).
async fn fresh_role(iam: &aws_sdk_iam::Client, role: &str) {
    let created = iam
        .create_role()
        .role_name(role)
        .assume_role_policy_document(TRUST)
        .send()
        .await;
    if created.is_err() {
        let names = iam
            .list_role_policies()
            .role_name(role)
            .send()
            .await
            .unwrap();
        for name in names.policy_names() {
            iam.delete_role_policy()
                .role_name(role)
                .policy_name(name)
                .send()
                .await
                .unwrap();
        }
    }
}

/// Prepares `dir` and moto for the block marked `moto NAME`.
async fn setup(url: &str, name: &str, dir: &Path) {
    let client = iam(url).await;
    match name {
        "approval" => {
            let key = fresh_key(&client, APPROVAL_USER).await;
            let template = std::fs::read_to_string(root().join(crate::common::TEMPLATE)).unwrap();
            let finding = template
                .replace("GuardDuty-Example-Compromised-Simulated", APPROVAL_USER)
                .replace("AKIAIOSFODNN7EXAMPLE", &key);
            std::fs::write(dir.join("finding.json"), finding).unwrap();
            std::fs::write(
                dir.join("remedy.toml"),
                "[approval]\nkinds = [\"disable_access_key\"]\nnotify = \"security\"\n\
                 path = \"approvals\"\n\n[ledger]\npath = \"ledger\"\n\n\
                 [audit]\npath = \"audit.jsonl\"\n",
            )
            .unwrap();
        }
        "walk-through" => {
            fresh_role(&client, ROLE).await;
            std::fs::write(
                dir.join("remedy.toml"),
                "[ledger]\npath = \"ledger\"\n\n[audit]\npath = \"audit.jsonl\"\n",
            )
            .unwrap();
        }
        // scripts/try-worker.sh makes its own.
        "try-worker" => {}
        other => panic!("no moto setup `{other}` (README marker `moto {other}`)"),
    }
}

#[test]
fn the_readme_shows_what_its_commands_print_against_moto() {
    let Some(url) = moto() else { return };
    // The setups are async (the SDK); the blocks run one after another on this thread.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ran = check_readme(
        |marker| marker.starts_with("moto "),
        |marker| {
            let name = marker.strip_prefix("moto ")?;
            let dir = workspace();
            runtime.block_on(setup(&url, name, dir.path()));
            let shell = Shell::new(dir.path())
                .with_env("AWS_ENDPOINT_URL", url.clone())
                .with_env("AWS_ACCESS_KEY_ID", "testing")
                .with_env("AWS_SECRET_ACCESS_KEY", "testing")
                .with_env("AWS_REGION", "us-east-1")
                // scripts/try-worker.sh runs the built binary, which is first on the PATH.
                .with_env("REMEDY", "remedy");
            Some((shell, Box::new(dir)))
        },
    );
    assert!(ran >= 3, "only {ran} moto blocks ran");
}
