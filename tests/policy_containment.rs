#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
//! The containment constructors in policies: `revoke_role_sessions`, `quarantine_principal`,
//! `disable_console_login`; their arguments checked like the other built-ins'.

use remedy::plan::{FailureKind, IamPrincipal, PrincipalKind};
use remedy::{Action, Finding, PolicySet};

const IAM: &str = include_str!("fixtures/policy/iam-malicious-ip.json");

fn iam() -> Finding {
    Finding::from_json_str(IAM).unwrap()
}

fn eval_one(body: &str) -> remedy::Plan {
    let source = format!(
        "const DESCRIPTION = \"test\";\nconst APPLIES_TO = \"*\";\nfn decide(finding) {{\n{body}\n}}\n"
    );
    PolicySet::from_sources([("p", source)])
        .unwrap()
        .evaluate(&iam())
}

#[test]
fn containment_constructors_build_typed_actions_with_reasons() {
    let plan = eval_one(
        "[revoke_role_sessions(\"web-role\", \"stolen session\"), \
         quarantine_principal(\"user\", finding.user_name), \
         quarantine_principal(\"role\", \"web-role\", \"contain\"), \
         disable_console_login(finding.user_name)]",
    );
    assert!(plan.errors.is_empty(), "{plan:?}");
    let actions: Vec<&Action> = plan.actions.iter().map(|a| &a.action).collect();
    match actions.as_slice() {
        [
            Action::RevokeRoleSessions(r),
            Action::QuarantinePrincipal(qu),
            Action::QuarantinePrincipal(qr),
            Action::DisableConsoleLogin(d),
        ] => {
            assert_eq!(r.role_name.as_str(), "web-role");
            assert_eq!(qu.principal.kind(), PrincipalKind::User);
            assert_eq!(qu.principal.name(), "build-bot");
            assert!(matches!(&qr.principal, IamPrincipal::Role(r) if r.as_str() == "web-role"));
            assert_eq!(d.user_name.as_str(), "build-bot");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        plan.actions[0].sources[0].reason.as_deref(),
        Some("stolen session")
    );
    assert!(plan.actions.iter().all(|a| a.action.is_destructive()));
}

#[test]
fn containment_constructors_check_their_arguments() {
    let cases = [
        (
            "revoke_role_sessions(finding.instance_id)",
            "`role_name` is absent",
        ),
        ("revoke_role_sessions(\"role/with/path\")", "role name"),
        ("revoke_role_sessions(42)", "`role_name` must be a string"),
        (
            "revoke_role_sessions(\"r\", 42)",
            "`reason` must be a string",
        ),
        (
            "quarantine_principal(\"group\", \"x\")",
            "`kind` must be \"user\" or \"role\"",
        ),
        ("quarantine_principal(\"user\", \"a b\")", "user name"),
        ("quarantine_principal(\"role\", ())", "`name` is absent"),
        (
            "disable_console_login(\"\")",
            "`user_name` must not be empty",
        ),
        (
            "disable_console_login(finding.instance_id)",
            "`user_name` is absent",
        ),
    ];
    for (call, expected) in cases {
        let plan = eval_one(call);
        let e = plan
            .errors
            .first()
            .unwrap_or_else(|| panic!("{call} succeeded: {plan:?}"));
        assert_eq!(e.kind, FailureKind::InvalidAction, "{call}: {e:?}");
        assert!(e.message.contains(expected), "{call}: {e:?}");
        assert_eq!(e.line, Some(4), "{call}: {e:?}");
    }
    // Wrong argument counts are not these functions at all.
    let plan = eval_one("revoke_role_sessions()");
    assert_eq!(plan.errors.len(), 1, "{plan:?}");
}
