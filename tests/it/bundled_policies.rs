//! The bundled policies (`policies/`) and their decision tests (`policies/tests/*.toml`): the
//! cases pass, cover every policy both ways, sample findings never lead to a destructive action,
//! and a changed behaviour makes the runner (and `remedy test`) fail with a diff.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use remedy::Status;
use remedy::testing::{self, ExpectedAction, InMemory, check_no_destructive, check_plan};
use remedy::{Finding, PolicySet};
use serde_json::{Value, json};

const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");

fn set() -> PolicySet {
    PolicySet::from_dir(POLICIES).unwrap()
}

#[test]
fn every_bundled_case_passes() {
    let report = testing::run_dir(POLICIES);
    assert!(report.is_success(), "{report}");
    assert!(report.results.len() >= 20, "{} cases", report.results.len());
    assert_eq!(
        report.to_string().lines().last().unwrap(),
        format!("{} passed, 0 failed", report.results.len())
    );
}

#[test]
fn every_bundled_case_passes_with_decide_called_through_call_fn_too() {
    let builder = PolicySet::builder().with_call_mode(remedy::policy::CallMode::CallFn);
    let plain = testing::run_dir_with(&builder, POLICIES);
    assert!(plain.is_success(), "{plain}");
    let warm = testing::run_dir(POLICIES);
    assert_eq!(plain.results.len(), warm.results.len());
    for (a, b) in plain.results.iter().zip(&warm.results) {
        assert_eq!(a.name, b.name);
        assert_eq!(
            format!("{:?}", a.actions),
            format!("{:?}", b.actions),
            "{}",
            a.name
        );
    }
}

#[test]
fn every_bundled_policy_has_a_case_where_it_acts_and_one_where_it_must_not() {
    let report = testing::run_dir(POLICIES);
    assert!(report.is_success(), "{report}");
    let mut acts = BTreeSet::new();
    let mut does_not_act = BTreeSet::new();
    for r in &report.results {
        for a in &r.actions {
            acts.extend(a.policies.iter().cloned());
        }
        if let Some(policy) = &r.policy
            && r.actions.is_empty()
        {
            does_not_act.insert(policy.clone());
        }
    }
    for policy in set().policies() {
        assert!(
            acts.contains(policy.name()),
            "no case where `{}` acts",
            policy.name()
        );
        assert!(
            does_not_act.contains(policy.name()),
            "no case where `{}` must not act",
            policy.name()
        );
    }
}

/// Where the finding is inside a document, and whether it is ASFF.
fn finding_root(doc: &Value) -> (String, bool) {
    if doc.pointer("/detail/findings/0").is_some() {
        ("/detail/findings/0".into(), true)
    } else if doc.get("detail").is_some() {
        ("/detail".into(), false)
    } else if let Some(first) = doc.pointer("/Findings/0") {
        ("/Findings/0".into(), first.get("ProductArn").is_some())
    } else {
        (String::new(), doc.get("ProductArn").is_some())
    }
}

fn fixture_documents() -> Vec<(PathBuf, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs = Vec::new();
    for dir in [
        "policies/tests/findings",
        "examples/findings",
        "tests/fixtures/families",
        "tests/fixtures/policy",
        "tests/fixtures/iam",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                docs.push((path, doc));
            }
        }
    }
    docs
}

/// Finding types the bundled destructive policies act on, and a few others.
const TYPES: &[&str] = &[
    "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
    "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
    "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
    "Backdoor:EC2/C&CActivity.B",
    "Backdoor:EC2/C&CActivity.B!DNS",
    "CryptoCurrency:EC2/BitcoinTool.B",
    "CryptoCurrency:EC2/BitcoinTool.B!DNS",
    "UnauthorizedAccess:EC2/SSHBruteForce",
    "UnauthorizedAccess:EC2/RDPBruteForce",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    "Recon:IAMUser/MaliciousIPCaller",
    "Policy:S3/BucketBlockPublicAccessDisabled",
];

#[test]
fn sample_findings_never_lead_to_a_destructive_action() {
    let set = set();
    let mut checked = 0;
    let mut destructive_when_not_sample = 0;
    for (path, doc) in fixture_documents() {
        let (root, asff) = finding_root(&doc);
        let mut variants = Vec::new();
        if asff {
            variants.push(doc.clone());
        } else {
            for ty in TYPES {
                for role in ["ACTOR", "TARGET"] {
                    let mut v = doc.clone();
                    testing::set_pointer(&mut v, &format!("{root}/type"), json!(ty)).unwrap();
                    testing::set_pointer_creating(
                        &mut v,
                        &format!("{root}/service/resourceRole"),
                        json!(role),
                    )
                    .unwrap();
                    testing::set_pointer(&mut v, &format!("{root}/severity"), json!(9.0)).unwrap();
                    variants.push(v);
                }
            }
        }
        for variant in variants {
            let Ok(real) = Finding::from_json_value(variant.clone()) else {
                continue; // documents holding several findings
            };
            if !real.is_sample()
                && set
                    .evaluate(&real)
                    .actions
                    .iter()
                    .any(|a| a.action.is_destructive())
            {
                destructive_when_not_sample += 1;
            }
            let mut sample = variant;
            if asff && root == "/Findings/0" {
                // A batch (possibly of several products): mark every finding.
                for item in sample["Findings"].as_array_mut().unwrap() {
                    item["Sample"] = json!(true);
                }
            } else {
                let pointer = if asff {
                    format!("{root}/Sample")
                } else {
                    format!("{root}/service/additionalInfo/sample")
                };
                testing::set_pointer(&mut sample, &pointer, json!(true)).unwrap();
            }
            let finding = Finding::from_json_value(sample).unwrap();
            assert!(finding.is_sample(), "{} is not marked", path.display());
            let plan = set.evaluate(&finding);
            assert!(
                plan.errors.is_empty(),
                "{}: {:?}",
                path.display(),
                plan.errors
            );
            assert!(
                !plan.actions.is_empty(),
                "{}: sample findings are still notified",
                path.display()
            );
            if let Err(diff) = check_no_destructive(&plan) {
                panic!(
                    "{} ({}) as a sample led to a destructive action:\n{diff}",
                    path.display(),
                    plan.finding.finding_type
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 300, "only {checked} sample findings checked");
    // The check can fail: the same findings, not samples, do lead to destructive actions.
    assert!(
        destructive_when_not_sample >= 50,
        "{destructive_when_not_sample}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of the bundled policies in which the key policy no longer disables the key.
fn changed_policies() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(POLICIES), dir.path());
    let file = dir.path().join("disable-key-on-malicious-ip.rhai");
    let source = std::fs::read_to_string(&file).unwrap();
    let changed = source.replace(
        "disable_access_key(finding.user_name, finding.access_key_id,",
        "// disable_access_key(finding.user_name, finding.access_key_id,",
    );
    assert_ne!(source, changed, "the policy text changed: update this test");
    std::fs::write(&file, changed).unwrap();
    dir
}

#[test]
fn a_changed_behaviour_fails_with_a_diff() {
    let dir = changed_policies();
    let report = testing::run_dir(dir.path());
    assert!(!report.is_success());
    assert!(report.failed() >= 2, "{report}");
    let text = report.to_string();
    assert!(
        text.contains("FAIL  ")
            && text.contains("disable-key-on-malicious-ip.toml  disables the key named in the finding, resolves the finding with a note of what was done, archives it and notifies"),
        "{text}"
    );
    assert!(
        text.contains(
            "- disable_access_key {\"access_key_id\":\"AKIAIOSFODNN7EXAMPLE\",\"user_name\":\"GuardDuty-Example-Compromised-Simulated\"}"
        ),
        "{text}"
    );
    let last = text.lines().last().unwrap();
    assert_eq!(
        last,
        format!("{} passed, {} failed", report.passed(), report.failed())
    );
}

#[test]
fn a_policy_without_cases_fails() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(POLICIES), dir.path());
    std::fs::remove_file(dir.path().join("tests/recon-notify.toml")).unwrap();
    let report = testing::run_dir(dir.path());
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1, "{report}");
    assert_eq!(failures[0].name, "policy `recon-notify` has no test case");
}

#[test]
fn broken_case_files_and_unknown_policies_are_failures() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new(POLICIES), dir.path());
    std::fs::write(
        dir.path().join("tests/zz-broken.toml"),
        "[[case]]\nname = 1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tests/zz-unknown.toml"),
        "policy = \"no-such-policy\"\n[[case]]\nname = \"x\"\nfinding = \"findings/ecs-malicious-file.json\"\nexpect = []\n[[case]]\nname = \"y\"\npolicy = \"recon-notify\"\nfinding = \"findings/missing.json\"\nexpect = []\n",
    )
    .unwrap();
    let report = testing::run_dir(dir.path());
    let text = report.to_string();
    assert_eq!(report.failed(), 3, "{text}");
    assert!(text.contains("zz-broken.toml  (case file)"), "{text}");
    assert!(text.contains("no policy named `no-such-policy`"), "{text}");
    assert!(text.contains("cannot read"), "{text}");
}

#[test]
fn the_testing_api_runs_plans_through_in_memory_executors() {
    let set = set();
    let json = include_str!("../../policies/tests/findings/ec2-cc-activity-dns.json");
    let finding = testing::finding_with(json, []).unwrap();
    let plan = set.evaluate(&finding);
    check_plan(
        &plan,
        Some("ec2-forensics"),
        &[
            ExpectedAction::run_command("AWS-RunShellScript"),
            ExpectedAction::notify("security").mentioning("i-0abcdef1234567890"),
        ],
    )
    .unwrap();

    let aws = InMemory::new();
    let report = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(aws.enforce(&plan));
    assert_eq!(report.count(Status::Executed), 2, "{report:?}");
    let commands = aws.ssm.commands();
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0].instance_ids, ["i-0abcdef1234567890"]);
    assert!(
        commands[0].parameters["commands"]
            .iter()
            .any(|c| c.starts_with("ps "))
    );
    assert_eq!(commands[0].parameters["executionTimeout"], ["600"]);
    let messages = aws.notifier.messages();
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].body.contains("executed"),
        "{}",
        messages[0].body
    );
    assert_eq!(aws.audit.actions().len(), 2);

    // Sample: the same actions planned for a sample finding are blocked by the remediator's
    // guard too (the plan carries the flag).
    let sample = testing::finding_with(
        json,
        [("/detail/service/additionalInfo/sample", json!(true))],
    )
    .unwrap();
    let mut plan = plan;
    plan.finding = remedy::plan::FindingContext::from(&sample);
    assert!(plan.finding.sample);
    let aws = InMemory::new();
    let report = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(aws.enforce(&plan));
    let outcomes: Vec<String> = report
        .actions
        .iter()
        .map(|r| testing::outcome_word(&r.outcome))
        .collect();
    assert_eq!(outcomes, ["sample", "executed"]);
    assert!(aws.ssm.commands().is_empty());
}

#[tokio::test]
async fn the_runner_works_from_async_tests() {
    let sync = testing::run_dir(POLICIES);
    let run = testing::run_dir_async(POLICIES).await;
    assert!(sync.is_success() && run.is_success());
    assert_eq!(sync.summary(), run.summary());
}

fn remedy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_remedy"))
}

#[test]
fn cli_remedy_test_passes_on_the_bundled_policies() {
    let out = remedy().args(["test", POLICIES]).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout
            .lines()
            .all(|l| l.starts_with("ok    ") || l.ends_with(" failed")),
        "{stdout}"
    );
    let last = stdout.lines().last().unwrap();
    let (passed, failed) = last.split_once(" passed, ").unwrap();
    assert!(passed.parse::<usize>().unwrap() >= 20, "{last}");
    assert_eq!(failed, "0 failed");

    // Without an argument it tests `policies` in the current directory.
    let out = remedy()
        .arg("test")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
        last
    );
}

#[test]
fn cli_remedy_test_fails_with_exit_1_and_a_diff() {
    let dir = changed_policies();
    let out = remedy().arg("test").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("\nFAIL  "), "{stdout}");
    assert!(stdout.contains("      - disable_access_key"), "{stdout}");
    let last = stdout.lines().last().unwrap();
    let (_, failed) = last.split_once(" passed, ").unwrap();
    assert_ne!(failed, "0 failed", "{last}");
    assert!(failed.ends_with(" failed"));

    let out = remedy()
        .args(["test", "/nonexistent/policies"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .ends_with("0 passed, 1 failed\n")
    );
}
