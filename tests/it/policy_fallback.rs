//! Fallback policies (`const FALLBACK = true`): they run only when no other policy chose an action.

use remedy::policy::DiagnosticKind;
use remedy::{Finding, PolicySet};

const IAM: &str = include_str!("../fixtures/policy/iam-malicious-ip.json");
const EC2: &str = include_str!("../fixtures/policy/ec2-bitcoin.json");

const CATCH_ALL: &str = r#"
const DESCRIPTION = "tell someone about anything nobody handled";
const APPLIES_TO = "*";
const FALLBACK = true;
fn decide(finding) { notify("security", `unhandled ${finding.type}`) }
"#;

const IAM_ONLY: &str = r#"
const DESCRIPTION = "handle IAM findings";
const APPLIES_TO = "UnauthorizedAccess:IAMUser/*";
fn decide(finding) { notify("iam", "handled") }
"#;

fn kinds_and_policies(plan: &remedy::Plan) -> Vec<(String, String)> {
    plan.actions
        .iter()
        .map(|a| {
            (
                a.action.params()["channel"].as_str().unwrap().to_owned(),
                a.policy().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_fallback_runs_only_when_no_other_policy_chose_an_action() {
    let set = PolicySet::from_sources([("catch-all", CATCH_ALL), ("iam", IAM_ONLY)]).unwrap();
    assert!(set.get("catch-all").unwrap().is_fallback());
    assert!(!set.get("iam").unwrap().is_fallback());

    let handled = set.evaluate(&Finding::from_json_str(IAM).unwrap());
    assert_eq!(
        kinds_and_policies(&handled),
        [("iam".to_owned(), "iam".to_owned())]
    );
    assert_eq!(
        handled.evaluated.iter().map(|s| &**s).collect::<Vec<_>>(),
        ["iam"],
        "the fallback did not even run"
    );

    let unhandled = set.evaluate(&Finding::from_json_str(EC2).unwrap());
    assert_eq!(
        kinds_and_policies(&unhandled),
        [("security".to_owned(), "catch-all".to_owned())]
    );
    assert_eq!(
        unhandled.evaluated.iter().map(|s| &**s).collect::<Vec<_>>(),
        ["catch-all"]
    );
}

#[test]
fn a_fallback_runs_when_the_other_policies_chose_nothing_or_failed() {
    let nothing = r#"const DESCRIPTION = "d"; const APPLIES_TO = "*"; fn decide(f) { [] }"#;
    let broken =
        r#"const DESCRIPTION = "d"; const APPLIES_TO = "*"; fn decide(f) { throw "boom" }"#;
    let set = PolicySet::from_sources([
        ("a-nothing", nothing),
        ("b-broken", broken),
        ("z-catch-all", CATCH_ALL),
    ])
    .unwrap();
    let plan = set.evaluate(&Finding::from_json_str(IAM).unwrap());
    assert_eq!(
        plan.evaluated.iter().map(|s| &**s).collect::<Vec<_>>(),
        ["a-nothing", "b-broken", "z-catch-all"]
    );
    assert_eq!(plan.errors.len(), 1);
    assert_eq!(plan.actions.len(), 1);
    assert_eq!(plan.actions[0].policy(), Some("z-catch-all"));
}

#[test]
fn fallbacks_respect_min_severity_and_all_fallbacks_run_together() {
    let high = CATCH_ALL.replace(
        "const FALLBACK = true;",
        "const FALLBACK = true; const MIN_SEVERITY = \"high\";",
    );
    let other = CATCH_ALL.replace("unhandled", "also unhandled");
    let set =
        PolicySet::from_sources([("high", high.as_str()), ("other", other.as_str())]).unwrap();
    // The IAM fixture has severity 5: only the fallback without a minimum runs.
    let plan = set.evaluate(&Finding::from_json_str(IAM).unwrap());
    assert_eq!(
        plan.evaluated.iter().map(|s| &**s).collect::<Vec<_>>(),
        ["other"]
    );
    // The EC2 fixture has severity 8: both run, and both notifications are in the plan.
    let plan = set.evaluate(&Finding::from_json_str(EC2).unwrap());
    assert_eq!(
        plan.evaluated.iter().map(|s| &**s).collect::<Vec<_>>(),
        ["high", "other"]
    );
    assert_eq!(plan.actions.len(), 2);
}

#[test]
fn fallback_must_be_a_literal_boolean() {
    for bad in ["const FALLBACK = \"yes\";", "const FALLBACK = 1;"] {
        let src = CATCH_ALL.replace("const FALLBACK = true;", bad);
        let err = PolicySet::from_sources([("p", src.as_str())]).unwrap_err();
        let d = &err.diagnostics()[0];
        assert_eq!(d.kind(), DiagnosticKind::Metadata, "{err}");
        assert!(d.message().contains("`FALLBACK`"), "{}", d.message());
        assert_eq!(d.line(), Some(4));
    }
    let src = CATCH_ALL.replace("const FALLBACK = true;", "const FALLBACK = false;");
    let set = PolicySet::from_sources([("p", src.as_str())]).unwrap();
    assert!(!set.policies()[0].is_fallback());
}
