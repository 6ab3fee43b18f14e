//! The embedder's path (issue 17): host kinds name their target, routes are checked before
//! anything runs, policy directories compose, and the CLI knows host kinds from the configuration.

use std::process::Command;
use std::sync::Arc;

use remedy::action::{CommandExecutor, MemoryNotifier};
use remedy::config::ProtectConfig;
use remedy::policy::DiagnosticKind;
use remedy::remediate::Protection;
use remedy::{
    ActionKind, Finding, HostActionKind, Pipeline, PolicySet, Remediator, Router, Status,
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A C&C finding about `instance` (the same finding id for every instance: only the target
/// tells the actions apart).
fn c2_json(instance: &str) -> String {
    format!(
        r#"{{
  "accountId": "123456789012", "region": "us-east-1", "id": "c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6",
  "type": "Backdoor:EC2/C&CActivity.B!DNS", "severity": 8,
  "createdAt": "2026-11-27T10:00:00.000Z", "updatedAt": "2026-11-27T10:05:00.000Z",
  "resource": {{ "resourceType": "Instance", "instanceDetails": {{ "instanceId": "{instance}" }} }},
  "service": {{ "serviceName": "guardduty", "archived": false, "count": 1 }}
}}"#
    )
}

const A: &str = "i-0aaaaaaaaaaaaaaaa";
const B: &str = "i-0bbbbbbbbbbbbbbbb";

const ISOLATE: &str = r#"const DESCRIPTION = "isolate the instance of the finding";
const APPLIES_TO = "Backdoor:EC2/*";
fn decide(finding) {
    quarantine_instance(finding.instance_id, "c&c")
}
"#;

fn isolate_kind() -> HostActionKind {
    HostActionKind::new("quarantine_instance")
        .unwrap()
        .with_params(["instance_id"])
        .with_target_param("instance_id")
}

fn isolate_set() -> Arc<PolicySet> {
    Arc::new(
        PolicySet::builder()
            .with_action_kind(isolate_kind())
            .from_sources([("isolate", ISOLATE)])
            .unwrap(),
    )
}

/// An executor that appends each target to a file, through the real command executor.
fn recording(dir: &std::path::Path) -> (Arc<CommandExecutor>, std::path::PathBuf) {
    let log = dir.join("isolated.txt");
    let script = format!(
        "read -r line; echo \"$line\" | grep -o '\"target\":\"[^\"]*\"' >> '{}'; echo isolated",
        log.display()
    );
    (
        Arc::new(CommandExecutor::new("/bin/sh", vec!["-c".into(), script])),
        log,
    )
}

fn findings() -> [Finding; 2] {
    [A, B].map(|i| Finding::from_json_str(&c2_json(i)).unwrap())
}

/// Handles both findings with one engine; the records of both.
async fn handle_both(engine: &Pipeline) -> Vec<remedy::store::audit::ActionRecord> {
    let mut records = Vec::new();
    for finding in findings() {
        records.extend(engine.handle(&finding).await.actions);
    }
    records
}

fn count(records: &[remedy::store::audit::ActionRecord], status: Status) -> usize {
    records
        .iter()
        .filter(|r| r.outcome.status() == status)
        .count()
}

#[test]
fn a_destructive_host_kind_without_a_target_does_not_load() {
    let err = PolicySet::builder()
        .with_action_kind(
            HostActionKind::new("quarantine_instance")
                .unwrap()
                .with_params(["instance_id"]),
        )
        .from_sources([("isolate", ISOLATE)])
        .unwrap_err();
    assert_eq!(
        err.diagnostics()[0].kind(),
        DiagnosticKind::HostKind,
        "{err}"
    );
    assert!(err.to_string().contains("with_target_param"), "{err}");
}

#[tokio::test]
async fn each_target_is_its_own_action_and_protection_covers_it() {
    let dir = tempfile::tempdir().unwrap();
    let (exec, log) = recording(dir.path());
    let router = Router::new().with(ActionKind::new("quarantine_instance").unwrap(), exec);
    let remediator = Remediator::builder(Arc::new(router.clone()))
        .enforce(true)
        .build();
    let engine = Pipeline::new(isolate_set(), remediator).unwrap();
    let records = handle_both(&engine).await;
    // Two targets, two actions: neither is "already done" by the other.
    assert_eq!(count(&records, Status::Executed), 2, "{records:#?}");
    assert_ne!(records[0].target, records[1].target);
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(written.contains(A) && written.contains(B), "{written}");

    // The protected instance is never isolated; the other one is.
    std::fs::remove_file(&log).unwrap();
    let protected = Protection::new(&ProtectConfig {
        instances: vec![A.into()],
        ..ProtectConfig::default()
    })
    .unwrap();
    let remediator = Remediator::builder(Arc::new(router))
        .with_protection(protected)
        .enforce(true)
        .build();
    let engine = Pipeline::new(isolate_set(), remediator).unwrap();
    let records = handle_both(&engine).await;
    assert_eq!(count(&records, Status::Skipped), 1, "{records:#?}");
    assert_eq!(count(&records, Status::Executed), 1, "{records:#?}");
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(!written.contains(A) && written.contains(B), "{written}");
}

#[tokio::test]
async fn an_unroutable_kind_is_refused_before_anything_runs_and_fails_alike_in_dry_run() {
    let notifier = MemoryNotifier::new();
    let router = Router::new().with(ActionKind::NOTIFY, Arc::new(notifier));
    let refused = Pipeline::new(
        isolate_set(),
        Remediator::builder(Arc::new(router.clone())).build(),
    )
    .expect_err("quarantine_instance has no route");
    assert_eq!(
        refused.kinds(),
        [ActionKind::new("quarantine_instance").unwrap()]
    );
    assert!(
        refused.to_string().contains("quarantine_instance"),
        "{refused}"
    );
    // Acknowledged, the dry run says what the real run would: unsupported, not "would isolate".
    let records = handle_both(&refused.acknowledge()).await;
    assert_eq!(count(&records, Status::Failed), 2, "{records:#?}");
    assert!(
        records
            .iter()
            .all(|a| a.outcome.to_string().contains("unsupported")),
        "{records:#?}"
    );
}

#[test]
fn policy_directories_compose_and_names_stay_unique() {
    let mine = tempfile::tempdir().unwrap();
    std::fs::write(mine.path().join("isolate.rhai"), ISOLATE).unwrap();
    let set = PolicySet::builder()
        .with_action_kind(isolate_kind())
        .add_dir(format!("{ROOT}/policies"))
        .add_dir(mine.path())
        .build()
        .unwrap();
    assert!(set.get("isolate").is_some());
    assert!(set.get("disable-key-on-malicious-ip").is_some());
    // The same name in two directories: an error naming both files.
    std::fs::write(mine.path().join("recon-notify.rhai"), ISOLATE).unwrap();
    let err = PolicySet::builder()
        .with_action_kind(isolate_kind())
        .add_dir(format!("{ROOT}/policies"))
        .add_dir(mine.path())
        .build()
        .unwrap_err();
    let d = err
        .diagnostics()
        .iter()
        .find(|d| d.kind() == DiagnosticKind::DuplicateName)
        .unwrap_or_else(|| panic!("{err}"));
    assert!(d.message().contains("recon-notify"), "{err}");
    assert!(
        err.to_string().contains(mine.path().to_str().unwrap()),
        "{err}"
    );
}

fn remedy(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(args)
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap()
}

/// A policy directory with the isolate policy, a configuration registering the kind (with a
/// command that records its targets when `command` is set), and the finding file.
fn cli_setup(command: bool) -> (tempfile::TempDir, String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("mine");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(policies.join("isolate.rhai"), ISOLATE).unwrap();
    std::fs::create_dir_all(policies.join("tests/findings")).unwrap();
    std::fs::write(policies.join("tests/findings/c2.json"), c2_json(A)).unwrap();
    std::fs::write(
        policies.join("tests/isolate.toml"),
        format!(
            "policy = \"isolate\"\n[[case]]\nname = \"isolates the instance\"\nfinding = \"findings/c2.json\"\nexpect = [{{ kind = \"quarantine_instance\", params = {{ instance_id = \"{A}\" }} }}]\n"
        ),
    )
    .unwrap();
    let finding = dir.path().join("findings.jsonl");
    std::fs::write(
        &finding,
        format!(
            "{}\n{}\n",
            c2_json(A).replace('\n', " "),
            c2_json(B).replace('\n', " ")
        ),
    )
    .unwrap();
    let log = dir.path().join("isolated.txt");
    let script = dir.path().join("isolate.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nread -r line\necho \"$line\" >> '{}'\necho isolated\n",
            log.display()
        ),
    )
    .unwrap();
    let command = if command {
        format!(", command = [\"/bin/sh\", \"{}\"]", script.display())
    } else {
        String::new()
    };
    let config = dir.path().join("remedy.toml");
    std::fs::write(
        &config,
        format!(
            "[host_kinds]\nquarantine_instance = {{ params = [\"instance_id\"], target = \"instance_id\", destructive = true{command} }}\n"
        ),
    )
    .unwrap();
    let p = policies.display().to_string();
    let c = config.display().to_string();
    let f = finding.display().to_string();
    (dir, p, c, f)
}

#[test]
fn the_cli_knows_host_kinds_from_the_configuration() {
    let (_dir, policies, config, finding) = cli_setup(false);
    // Without the configuration the function is unknown, with it the policy loads.
    let out = remedy(&["check", &policies]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("quarantine_instance"));
    let out = remedy(&["check", &policies, "--config", &config]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Composed with the bundled policies.
    let bundled = format!("{ROOT}/policies");
    let out = remedy(&["check", &bundled, "--with", &policies, "--config", &config]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = remedy(&["test", &policies, "--config", &config]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = remedy(&["eval", &policies, &finding, "--config", &config]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches(r#""kind":"quarantine_instance""#)
            .count(),
        2
    );
    // A dry run of a kind nothing carries out says so rather than promising it.
    let out = remedy(&["run", &policies, &finding, "--config", &config]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unsupported"), "{stderr}");
    assert!(!stderr.contains("would isolate"), "{stderr}");
}

#[test]
fn a_host_kind_with_a_command_is_carried_out_by_it() {
    let (dir, policies, config, finding) = cli_setup(true);
    let out = remedy(&["run", &policies, &finding, "--config", &config]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("dry run"), "{stderr}");
    let log = dir.path().join("isolated.txt");
    assert!(!log.exists(), "a dry run runs nothing");

    let audit = dir.path().join("audit.jsonl");
    let ledger = dir.path().join("ledger");
    std::fs::write(
        &config,
        format!(
            "{}\n[audit]\npath = \"{}\"\n[ledger]\npath = \"{}\"\n",
            std::fs::read_to_string(&config).unwrap(),
            audit.display(),
            ledger.display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(["run", &policies, &finding, "--config", &config, "--execute"])
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let written = std::fs::read_to_string(&log).unwrap();
    assert_eq!(written.lines().count(), 2, "{written}");
    assert!(
        written.contains(&format!("\"target\":\"{B}\"")),
        "{written}"
    );
    assert!(
        std::fs::read_to_string(&audit)
            .unwrap()
            .contains("isolated")
    );
}

#[tokio::test]
async fn a_duplicate_in_one_run_is_worded_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let (exec, log) = recording(dir.path());
    let router = Router::new().with(ActionKind::new("quarantine_instance").unwrap(), exec);
    let remediator = Remediator::builder(Arc::new(router)).enforce(true).build();
    let engine = Pipeline::new(isolate_set(), remediator).unwrap();
    let [a, _] = findings();
    let first = engine.handle(&a).await;
    let again = engine.handle(&a).await;
    assert_eq!(first.count(Status::Executed), 1, "{first:#?}");
    assert_eq!(again.count(Status::AlreadyDone), 1, "{again:#?}");
    let said = again.actions[0].outcome.to_string();
    assert!(said.contains("earlier in this run"), "{said}");
    assert!(!said.contains("earlier run"), "{said}");
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);
}

/// A worker stopping mid-batch (SIGTERM) skips the actions it has not started as
/// `interrupted`; their message must come back, not be deleted as handled.
#[tokio::test]
async fn a_message_whose_action_was_interrupted_by_a_stop_is_retried() {
    let memory = remedy::testing::InMemory::new();
    let body = std::fs::read(format!(
        "{ROOT}/examples/findings/01-iam-malicious-ip-custom.json"
    ))
    .unwrap();
    let policies = PolicySet::from_dir(format!("{ROOT}/policies")).unwrap();
    let remediator = memory.remediator().enforce(true).build();
    let engine = Pipeline::new(policies, remediator.clone()).unwrap();
    remediator
        .shutdown()
        .stop(std::time::Duration::from_secs(30));
    let delivery = engine.handle_message(&body, "m-1").await;
    let disable = delivery.reports[0]
        .actions
        .iter()
        .find(|r| r.kind == ActionKind::DISABLE_ACCESS_KEY)
        .unwrap();
    assert!(
        matches!(
            disable.outcome.skip_reason(),
            Some(remedy::action::SkipReason::Interrupted)
        ),
        "{:?}",
        disable.outcome
    );
    assert!(
        matches!(&delivery.disposition, remedy::Disposition::Retry(why) if why.contains("interrupted")),
        "{:?}",
        delivery.disposition
    );
}
