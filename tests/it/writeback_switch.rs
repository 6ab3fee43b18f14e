//! Write-back is something a deployment turns on (`[writeback] kinds`): a write-back action of a
//! kind that is off is a recorded skip (`not_enabled`) naming the line to add, in a dry run as in
//! a real one, before any approval is asked or any executor called; the kinds that are on run as
//! before.

use remedy::action::{Outcome, SkipReason, Status};
use remedy::id::{AccessKeyId, UserName};
use remedy::plan::{
    ArchiveFinding, DisableAccessKey, Principal, SuppressBy, SuppressSimilar, UpdateFinding,
    WorkflowStatus,
};
use remedy::testing::{InMemory, context, plan_of};
use remedy::{Action, ActionKind, Config, Plan, Remediator};

fn plan() -> Plan {
    let mut finding = context("f-switch", "UnauthorizedAccess:IAMUser/MaliciousIPCaller").unwrap();
    finding.principal = Some(Principal {
        user_name: Some("alice".into()),
        user_type: Some("IAMUser".into()),
        access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
        principal_id: None,
    });
    finding.remote_ip = Some("198.51.100.7".into());
    plan_of(
        finding,
        [
            Action::DisableAccessKey(DisableAccessKey {
                user_name: UserName::new("alice").unwrap(),
                access_key_id: AccessKeyId::new("AKIAIOSFODNN7EXAMPLE").unwrap(),
            }),
            Action::UpdateFinding(UpdateFinding {
                status: WorkflowStatus::Resolved,
                note: "remedy disabled access key AKIAIOSFODNN7EXAMPLE".into(),
            }),
            Action::ArchiveFinding(ArchiveFinding {}),
            Action::SuppressSimilar(SuppressSimilar {
                criteria: vec![SuppressBy::RemoteIp],
                days: 7,
            }),
        ],
        "key-policy",
    )
}

/// The skip of the record of `kind`, which must be `not_enabled`: (kind, setting).
fn not_enabled(report: &remedy::Report, kind: &ActionKind) -> (String, String) {
    let record = report
        .actions
        .iter()
        .find(|r| &r.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} record: {report:#?}"));
    match &record.outcome {
        Outcome::Skipped(SkipReason::NotEnabled {
            action_kind,
            setting,
        }) => (action_kind.clone(), setting.clone()),
        other => panic!("{kind}: {other:?}"),
    }
}

#[tokio::test]
async fn write_back_kinds_are_off_unless_turned_on_and_the_skip_names_the_line() {
    let memory = InMemory::new().with_key("alice", "AKIAIOSFODNN7EXAMPLE");
    // A remediator of its own (no kinds on), over the in-memory executors.
    let off = Remediator::builder(std::sync::Arc::new(memory.router()))
        .enforce(true)
        .build();
    let report = off.run(&plan()).await;
    assert_eq!(report.actions[0].kind, ActionKind::DISABLE_ACCESS_KEY);
    assert_eq!(report.actions[0].outcome.status(), Status::Executed);
    let (kind, setting) = not_enabled(&report, &ActionKind::UPDATE_FINDING);
    assert_eq!(kind, "update_finding");
    assert_eq!(setting, r#"[writeback] kinds = ["update_finding"]"#);
    let skipped = report
        .actions
        .iter()
        .find(|r| r.kind == ActionKind::UPDATE_FINDING)
        .unwrap();
    assert_eq!(
        skipped.outcome.to_string(),
        r#"skipped: `update_finding` is not enabled: add `[writeback] kinds = ["update_finding"]` to the configuration"#
    );
    not_enabled(&report, &ActionKind::ARCHIVE_FINDING);
    // The suppression is skipped before it could ask anyone.
    not_enabled(&report, &ActionKind::SUPPRESS_SIMILAR);
    assert_eq!(report.count(Status::PendingApproval), 0);
    assert!(!report.has_failures(), "a switched-off kind is no failure");
    assert!(memory.writeback.workflow("f-switch").is_none());
    assert!(!memory.writeback.is_archived("f-switch"));
    assert!(memory.writeback.filters().is_empty());

    // A dry run says the same.
    let dry = Remediator::builder(std::sync::Arc::new(memory.router())).build();
    let report = dry.run(&plan()).await;
    not_enabled(&report, &ActionKind::UPDATE_FINDING);
    assert_eq!(
        report.actions[0].outcome.skip_reason().map(|r| r.kind()),
        Some("dry_run")
    );
}

#[tokio::test]
async fn the_configuration_turns_kinds_on_one_by_one() {
    let memory = InMemory::new().with_key("alice", "AKIAIOSFODNN7EXAMPLE");
    let config = Config::from_toml_str("[writeback]\nkinds = [\"update_finding\"]\n").unwrap();
    let remediator = Remediator::builder(std::sync::Arc::new(memory.router()))
        .with_config(&config)
        .unwrap()
        .enforce(true)
        .build();
    let report = remediator.run(&plan()).await;
    let update = report
        .actions
        .iter()
        .find(|r| r.kind == ActionKind::UPDATE_FINDING)
        .unwrap();
    assert_eq!(update.outcome.status(), Status::Executed, "{report:#?}");
    assert_eq!(
        memory.writeback.workflow("f-switch").map(|(s, _)| s),
        Some(WorkflowStatus::Resolved)
    );
    // The line to add keeps the kinds that are on.
    let (_, setting) = not_enabled(&report, &ActionKind::ARCHIVE_FINDING);
    assert_eq!(
        setting,
        r#"[writeback] kinds = ["update_finding", "archive_finding"]"#
    );
    assert!(!memory.writeback.is_archived("f-switch"));

    let wrong = Config::from_toml_str("[writeback]\nkinds = [\"notify\"]\n").unwrap_err();
    assert!(
        wrong
            .to_string()
            .contains("`notify` is not a write-back kind"),
        "{wrong}"
    );
}

#[tokio::test]
async fn the_in_memory_twins_turn_every_kind_on() {
    let memory = InMemory::new().with_key("alice", "AKIAIOSFODNN7EXAMPLE");
    let report = memory.dry_run(&plan()).await;
    for record in &report.actions {
        assert_ne!(
            record.outcome.skip_reason().map(|r| r.kind()),
            Some("not_enabled"),
            "{record:?}"
        );
    }
}

/// `remedy check --config` says when the policies choose write-back kinds the configuration leaves
/// off (a warning, so `--deny-warnings` fails), and says nothing once they are on.
#[test]
fn check_warns_when_the_policies_choose_write_back_kinds_left_off() {
    let dir = tempfile::tempdir().unwrap();
    let policies = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let check = |config: &str, extra: &[&str]| {
        let path = dir.path().join("remedy.toml");
        std::fs::write(&path, config).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_remedy"))
            .args(["check", policies, "--config", path.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    let off = check("[writeback]\nkinds = [\"update_finding\"]\n", &[]);
    let stderr = String::from_utf8_lossy(&off.stderr);
    assert!(off.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "`archive_finding`, `suppress_similar`, which `[writeback] kinds` leaves off"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("add `[writeback] kinds = [\"archive_finding\", \"suppress_similar\"]`"),
        "{stderr}"
    );
    assert!(!stderr.contains("`update_finding`,"), "{stderr}");
    assert!(
        !check("[writeback]\nkinds = []\n", &["--deny-warnings"])
            .status
            .success()
    );
    let on = check(
        "[writeback]\nkinds = [\"update_finding\", \"archive_finding\", \"suppress_similar\"]\n",
        &["--deny-warnings"],
    );
    let stderr = String::from_utf8_lossy(&on.stderr);
    assert!(on.status.success(), "{stderr}");
    assert!(!stderr.contains("[writeback] kinds"), "{stderr}");
}
