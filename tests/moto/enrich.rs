//! The IAM enricher against moto: a user with an attached admin policy, an inline policy and a
//! group; a user whose only admin rights come from a group's inline policy; an assumed role; and
//! a policy that disables only administrators' keys, deciding on what IAM says. Also `remedy eval
//! --config` with `[enrich]` against moto. Needs `AWS_ENDPOINT_URL` (see `scripts/test.sh`);
//! without it every test says it did not run and passes.

use std::sync::Arc;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::Tag;
use remedy::aws::{AwsSettings, IamEnricher};
use remedy::enrich::{ContextErrorKind, Enricher, PrincipalKind};
use remedy::testing::{ExpectedAction, InMemory, check_plan, finding_with};
use remedy::{Enrichers, Finding, Pipeline, PolicySet};
use serde_json::json;

use crate::common::{iam, moto, unique};

const FINDING: &str = include_str!("../../examples/findings/01-iam-malicious-ip-custom.json");
const READ_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"}]}"#;
const IAM_STAR: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*"}}"#;

fn settings(url: &str) -> AwsSettings {
    AwsSettings::default()
        .with_endpoint_url(url)
        .with_region("us-east-1")
        .with_static_credentials("testing", "testing")
}

async fn managed_policy(iam: &Client, name: &str, document: &str) -> String {
    let created = iam
        .create_policy()
        .policy_name(name)
        .policy_document(document)
        .send()
        .await
        .unwrap();
    created.policy().unwrap().arn().unwrap().to_owned()
}

/// Creates a user with an access key; returns the key id.
async fn user_with_key(iam: &Client, user: &str) -> String {
    iam.create_user()
        .user_name(user)
        .tags(
            Tag::builder()
                .key("team")
                .value("payments")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .unwrap();
    key.access_key().unwrap().access_key_id().to_owned()
}

/// The example finding, naming `user`'s `key`.
fn finding_for(user: &str, user_type: &str, key: &str) -> Finding {
    finding_with(
        FINDING,
        [
            ("/detail/resource/accessKeyDetails/userName", json!(user)),
            (
                "/detail/resource/accessKeyDetails/userType",
                json!(user_type),
            ),
            ("/detail/resource/accessKeyDetails/accessKeyId", json!(key)),
        ],
    )
    .unwrap()
}

#[tokio::test]
async fn a_user_with_admin_inline_and_group_policies() {
    let Some(url) = moto() else { return };
    let iam = iam(&url).await;
    let user = unique("alice");
    let group = unique("developers");
    let key = user_with_key(&iam, &user).await;
    iam.attach_user_policy()
        .user_name(&user)
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name(&user)
        .policy_name("read-buckets")
        .policy_document(READ_ONLY)
        .send()
        .await
        .unwrap();
    iam.create_group().group_name(&group).send().await.unwrap();
    let reader = managed_policy(&iam, &unique("reader"), READ_ONLY).await;
    iam.attach_group_policy()
        .group_name(&group)
        .policy_arn(&reader)
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .group_name(&group)
        .user_name(&user)
        .send()
        .await
        .unwrap();

    let enricher = IamEnricher::new(&settings(&url)).await;
    let context = enricher.enrich(&finding_for(&user, "IAMUser", &key)).await;
    assert!(context.errors.is_empty(), "{:?}", context.errors);
    let p = context.principal.unwrap();
    assert_eq!(
        (p.kind, p.name.as_str()),
        (PrincipalKind::User, user.as_str())
    );
    assert!(
        p.arn
            .as_deref()
            .unwrap()
            .ends_with(&format!(":user/{user}"))
    );
    assert!(p.created.is_some());
    assert_eq!(p.policies, ["AdministratorAccess"]);
    assert_eq!(p.inline_policies, ["read-buckets"]);
    assert_eq!(p.groups, std::slice::from_ref(&group));
    let reader_name = reader.rsplit('/').next().unwrap();
    assert_eq!(p.group_policies[&group], [reader_name]);
    assert!(p.is_admin);
    assert_eq!(p.admin_via, ["AdministratorAccess"]);
    assert_eq!(p.tags["team"], "payments");
    let k = p.key.unwrap();
    assert_eq!(k.id, key);
    assert_eq!(k.status.as_deref(), Some("Active"));
    assert!(k.created.is_some());
}

#[tokio::test]
async fn admin_rights_through_a_group_inline_policy_and_a_customer_policy_are_found() {
    let Some(url) = moto() else { return };
    let iam = iam(&url).await;
    let enricher = IamEnricher::new(&settings(&url)).await;

    let user = unique("bob");
    let group = unique("iam-admins");
    let key = user_with_key(&iam, &user).await;
    iam.create_group().group_name(&group).send().await.unwrap();
    iam.put_group_policy()
        .group_name(&group)
        .policy_name("manage-iam")
        .policy_document(IAM_STAR)
        .send()
        .await
        .unwrap();
    iam.add_user_to_group()
        .group_name(&group)
        .user_name(&user)
        .send()
        .await
        .unwrap();
    let p = enricher
        .enrich(&finding_for(&user, "IAMUser", &key))
        .await
        .principal
        .unwrap();
    assert!(p.is_admin);
    assert_eq!(p.admin_via, [format!("group {group}: manage-iam")]);
    assert_eq!(p.group_policies[&group], ["manage-iam"]);

    // A customer managed policy with `"Action": "*"` (its document is read with GetPolicyVersion).
    let carol = unique("carol");
    let key = user_with_key(&iam, &carol).await;
    let everything = managed_policy(
        &iam,
        &unique("everything"),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    )
    .await;
    iam.attach_user_policy()
        .user_name(&carol)
        .policy_arn(&everything)
        .send()
        .await
        .unwrap();
    let p = enricher
        .enrich(&finding_for(&carol, "IAMUser", &key))
        .await
        .principal
        .unwrap();
    assert!(p.is_admin, "{p:?}");

    // A key that is not the user's: the principal stands, with a not-found entry.
    let context = enricher
        .enrich(&finding_for(&carol, "IAMUser", "AKIAIOSFODNN7EXAMPLE"))
        .await;
    assert!(context.principal.unwrap().key.is_none());
    assert_eq!(context.errors[0].kind, ContextErrorKind::NotFound);
}

#[tokio::test]
async fn an_assumed_role_gets_the_roles_policies_and_tags() {
    let Some(url) = moto() else { return };
    let iam = iam(&url).await;
    let role = unique("deploy");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name(&role)
        .assume_role_policy_document(trust)
        .tags(Tag::builder().key("env").value("prod").build().unwrap())
        .send()
        .await
        .unwrap();
    let reader = managed_policy(&iam, &unique("role-reader"), READ_ONLY).await;
    iam.attach_role_policy()
        .role_name(&role)
        .policy_arn(&reader)
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name(&role)
        .policy_name("iam-everything")
        .policy_document(IAM_STAR)
        .send()
        .await
        .unwrap();
    let enricher = IamEnricher::new(&settings(&url)).await;
    let context = enricher
        .enrich(&finding_for(&role, "AssumedRole", "ASIAIOSFODNN7EXAMPLE"))
        .await;
    assert!(context.errors.is_empty(), "{:?}", context.errors);
    let p = context.principal.unwrap();
    assert_eq!(p.kind, PrincipalKind::Role);
    assert_eq!(p.policies.len(), 1);
    assert_eq!(p.inline_policies, ["iam-everything"]);
    assert!(p.is_admin);
    assert_eq!(p.tags["env"], "prod");
    assert!(p.key.is_none(), "temporary credentials have no IAM key");
}

const ADMIN_ONLY: &str = r#"
const DESCRIPTION = "disable a key used from a threat list only when its user is an administrator";
const APPLIES_TO = "UnauthorizedAccess:IAMUser/MaliciousIPCaller*";
fn decide(finding) {
    if finding.context.principal?.is_admin ?? false {
        return [disable_access_key(finding.user_name, finding.access_key_id), notify("security", "admin: disabled")];
    }
    notify("security", "not an administrator: key left active")
}
"#;

#[tokio::test]
async fn a_policy_disabling_only_admin_keys_decides_on_what_iam_says() {
    let Some(url) = moto() else { return };
    let iam = iam(&url).await;
    let admin = unique("admin");
    let admin_key = user_with_key(&iam, &admin).await;
    iam.attach_user_policy()
        .user_name(&admin)
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    let reader = unique("reader");
    let reader_key = user_with_key(&iam, &reader).await;
    iam.put_user_policy()
        .user_name(&reader)
        .policy_name("read")
        .policy_document(READ_ONLY)
        .send()
        .await
        .unwrap();

    let set = PolicySet::from_sources([("admin-only.rhai", ADMIN_ONLY)]).unwrap();
    let enrichers = Enrichers::new().with(Arc::new(IamEnricher::new(&settings(&url)).await));
    let engine = Pipeline::new(set, InMemory::new().remediator().build())
        .unwrap()
        .with_enrichers(enrichers);

    let plan = engine
        .decide(&finding_for(&admin, "IAMUser", &admin_key))
        .await;
    check_plan(
        &plan,
        None,
        &[
            ExpectedAction::disable_access_key(&admin, &admin_key),
            ExpectedAction::notify("security"),
        ],
    )
    .unwrap();
    assert!(
        plan.finding
            .enrichment
            .unwrap()
            .principal
            .as_ref()
            .unwrap()
            .is_admin
    );

    let plan = engine
        .decide(&finding_for(&reader, "IAMUser", &reader_key))
        .await;
    check_plan(
        &plan,
        None,
        &[ExpectedAction::notify("security").mentioning("not an administrator")],
    )
    .unwrap();
}

/// `remedy eval` in `dir` against moto, its stdout.
fn eval(url: Option<&str>, dir: &std::path::Path, args: &[&str]) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_remedy"));
    cmd.current_dir(dir)
        .arg("eval")
        .arg(format!("{root}/policies"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1");
    match url {
        Some(url) => cmd.env("AWS_ENDPOINT_URL", url),
        // Replay: no endpoint, no credentials; a call would fail.
        None => cmd
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true"),
    };
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn remedy_eval_with_enrich_shows_the_context_and_replays_it_without_aws() {
    let Some(url) = moto() else { return };
    let iam = iam(&url).await;
    let user = unique("eval-admin");
    let key = user_with_key(&iam, &user).await;
    iam.attach_user_policy()
        .user_name(&user)
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(FINDING).unwrap();
    doc["detail"]["resource"]["accessKeyDetails"]["userName"] = json!(user);
    doc["detail"]["resource"]["accessKeyDetails"]["accessKeyId"] = json!(key);
    std::fs::write(dir.path().join("finding.json"), doc.to_string()).unwrap();
    // moto has no CloudTrail LookupEvents: that part fails, and the decision is still made.
    let config = "[enrich]\niam = true\ncloudtrail_hours = 24\ntimeout_secs = 10\n\n[aws]\nmax_attempts = 1\n";
    std::fs::write(dir.path().join("remedy.toml"), config).unwrap();

    let text = eval(
        Some(&url),
        dir.path(),
        &[
            "--config",
            "remedy.toml",
            "--format",
            "text",
            "finding.json",
        ],
    );
    assert!(
        text.contains(&format!(
            "context: {user} (user): administrator (AdministratorAccess)"
        )),
        "{text}"
    );
    assert!(text.contains("cloudtrail failed"), "{text}");

    let json = eval(
        Some(&url),
        dir.path(),
        &["--config", "remedy.toml", "finding.json"],
    );
    let plan: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    let enrichment = &plan["enrichment"];
    assert_eq!(enrichment["principal"]["is_admin"], json!(true), "{plan}");
    assert_eq!(enrichment["errors"][0]["enricher"], json!("cloudtrail"));
    let kinds: Vec<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "disable_access_key",
            "update_finding",
            "archive_finding",
            "notify"
        ],
        "{plan}"
    );
    let message = plan["actions"][3]["params"]["message"].as_str().unwrap();
    assert!(
        message.contains("is an administrator (AdministratorAccess)"),
        "{message}"
    );

    // The plan holds the context it used: given back with --context, the same plan without AWS.
    std::fs::write(dir.path().join("plan.json"), &json).unwrap();
    let replayed = eval(
        None,
        dir.path(),
        &["--context", "plan.json", "finding.json"],
    );
    assert_eq!(replayed, json);
}
