//! Runbooks and state machines from policies to undo, on the in-memory twins: literal targets
//! outside `[runbooks]` fail at load, computed ones are refused on evaluation; isolation waits
//! for approval, then runs the runbook with the finding's instance, and `remedy undo`'s plan
//! releases it; a redelivered finding starts one run; parameters naming what the finding does
//! not are out of scope.

use std::sync::Arc;

use remedy::action::Outcome;
use remedy::config::{ApprovalConfig, RunbooksConfig};
use remedy::plan::{FailureKind, ISOLATION_DOCUMENT, StartAutomation};
use remedy::store::approval::MemoryApprovals;
use remedy::store::audit::{JsonLinesAudit, UndoChecks, undo_plan};
use remedy::store::ledger::MemoryLedger;
use remedy::testing::{InMemory, context, plan_of};
use remedy::{Action, Finding, PolicySet, Status};

const EC2: &str = include_str!("../fixtures/policy/ec2-bitcoin.json");
const INSTANCE: &str = "i-0a1b2c3d4e5f60718";

fn policy(body: &str) -> String {
    format!(
        "const DESCRIPTION = \"test\";\nconst APPLIES_TO = \"*\";\nfn decide(finding) {{\n{body}\n}}\n"
    )
}

fn runbooks() -> RunbooksConfig {
    RunbooksConfig {
        documents: vec!["AWSSupport-Contain*".into()],
        state_machines: vec!["respond-*".into()],
        ..RunbooksConfig::default()
    }
}

fn load(body: &str) -> Result<PolicySet, remedy::PolicyError> {
    PolicySet::builder()
        .with_runbooks(runbooks())
        .from_sources([("p", policy(body))])
}

#[test]
fn literal_targets_outside_the_allowlist_fail_at_load() {
    for (body, word) in [
        (
            "start_automation(\"AWS-DeleteStack\", #{})",
            "AWS-DeleteStack",
        ),
        (
            "start_execution(\"wipe-everything\", #{})",
            "wipe-everything",
        ),
    ] {
        let err = load(body).unwrap_err().to_string();
        assert!(err.contains(word) && err.contains("[runbooks]"), "{err}");
    }
    load("start_automation(\"AWSSupport-ContainIAMPrincipal\", #{})").unwrap();
    load("start_execution(\"respond-ec2\", #{ depth: 2 })").unwrap();
}

#[test]
fn computed_targets_outside_the_allowlist_are_refused() {
    let set = load("start_execution(\"wipe-\" + finding.instance_id, #{})").unwrap();
    let plan = set.evaluate(&Finding::from_json_str(EC2).unwrap());
    assert!(plan.actions.is_empty(), "{plan:?}");
    assert_eq!(plan.errors[0].kind, FailureKind::InvalidAction);
    assert!(
        plan.errors[0].message.contains("[runbooks] state_machines"),
        "{:?}",
        plan.errors
    );

    let set = load("start_execution(\"respond-\" + \"ec2\", #{ instance: finding.instance_id })")
        .unwrap();
    let plan = set.evaluate(&Finding::from_json_str(EC2).unwrap());
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert_eq!(plan.actions[0].action.kind().as_str(), "start_execution");
}

#[tokio::test]
async fn isolation_waits_for_approval_runs_on_the_finding_and_undo_releases_it() {
    let set = load("[isolate_instance(finding.instance_id, \"mining\")]").unwrap();
    let mut plan = set.evaluate(&Finding::from_json_str(EC2).unwrap());
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    // The fixture is a sample finding, on which nothing destructive runs.
    plan.finding.sample = false;
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("audit.jsonl");
    let world = InMemory::new();
    let ledger = Arc::new(MemoryLedger::new());
    let remediator = world
        .remediator()
        .with_audit(Arc::new(JsonLinesAudit::open(&trail).unwrap()))
        .with_ledger(ledger.clone())
        .with_approval(ApprovalConfig {
            kinds: vec!["isolate_instance".into()],
            ..ApprovalConfig::default()
        })
        .with_approval_store(Arc::new(MemoryApprovals::new()))
        .enforce(true)
        .build();
    let report = remediator.run(&plan).await;
    let id = match &report.actions[0].outcome {
        Outcome::PendingApproval { approval_id, .. } => approval_id.clone(),
        other => panic!("not pending: {other}"),
    };
    assert!(
        world.runbooks.runs().is_empty(),
        "nothing runs before approval"
    );

    let approved = remediator.approve(&id, "carol", None).await.unwrap();
    let record = &approved.actions[0];
    assert_eq!(record.outcome.status(), Status::Executed, "{record:?}");
    let runs = world.runbooks.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].target, ISOLATION_DOCUMENT);
    assert_eq!(runs[0].input["InstanceId"][0], INSTANCE);
    assert_eq!(runs[0].input["Action"][0], "Contain");
    assert!(world.runbooks.is_isolated(INSTANCE));

    let intent = record.intent.clone().unwrap();
    let undo = undo_plan(&trail, &intent, &UndoChecks::default())
        .unwrap()
        .plan;
    let done = world
        .remediator()
        .with_audit(Arc::new(JsonLinesAudit::open(&trail).unwrap()))
        .with_ledger(ledger)
        .enforce(true)
        .build()
        .run(&undo)
        .await;
    assert_eq!(
        done.actions[0].outcome.status(),
        Status::Executed,
        "{done:?}"
    );
    assert!(!world.runbooks.is_isolated(INSTANCE));
    let runs = world.runbooks.runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].input["Action"][0], "Release");
}

#[tokio::test]
async fn a_redelivery_starts_one_run_and_parameters_stay_in_scope() {
    let mut finding = context("f-1", "UnauthorizedAccess:EC2/SSHBruteForce").unwrap();
    finding.instance_ids = vec![INSTANCE.into()];
    let automation = |instance: &str| {
        Action::StartAutomation(StartAutomation {
            document: "AWSSupport-ContainEC2Instance".into(),
            parameters: [("InstanceId".to_owned(), vec![instance.to_owned()])].into(),
        })
    };
    let world = InMemory::new();
    let plan = plan_of(finding.clone(), [automation(INSTANCE)], "p");
    // Two workers with ledgers of their own: the token, not the ledger, keeps it to one run.
    for _ in 0..2 {
        let report = world.enforce(&plan).await;
        assert_eq!(report.actions[0].outcome.status(), Status::Executed);
    }
    assert_eq!(world.runbooks.runs().len(), 1);

    // A parameter naming an instance the finding does not: refused as the policy's failure.
    let set = load(
        "start_automation(\"AWSSupport-ContainEC2Instance\", #{ InstanceId: \"i-0fffffffffffffff0\" })",
    )
    .unwrap();
    let plan = set.evaluate(&Finding::from_json_str(EC2).unwrap());
    assert!(plan.actions.is_empty(), "{plan:?}");
    assert_eq!(plan.errors[0].kind, FailureKind::OutOfScope);
    assert!(
        plan.errors[0].message.contains("i-0fffffffffffffff0"),
        "{:?}",
        plan.errors
    );
    let set = load(
        "start_automation(\"AWSSupport-ContainEC2Instance\", #{ InstanceId: finding.instance_id })",
    )
    .unwrap();
    let plan = set.evaluate(&Finding::from_json_str(EC2).unwrap());
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert_eq!(plan.actions.len(), 1);
    let _ = finding;
    assert_eq!(world.runbooks.runs().len(), 1);
}
