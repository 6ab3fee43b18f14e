//! The containment constructors in policies: `revoke_role_sessions`, `quarantine_principal`,
//! `disable_console_login`; their arguments checked like the other built-ins' (literal ones when
//! the policy loads), and their targets kept to what the finding names.

use remedy::plan::{FailureKind, IamPrincipal, PrincipalKind};
use remedy::policy::DiagnosticKind;
use remedy::{Action, Finding, PolicySet};

const IAM: &str = include_str!("../fixtures/policy/iam-malicious-ip.json");
const EXFIL: &str =
    include_str!("../../policies/tests/findings/instance-credential-exfiltration.json");

/// An IAM user's finding (user `build-bot`).
fn user_finding() -> Finding {
    Finding::from_json_str(IAM).unwrap()
}

/// An assumed role's finding (role `web-server-role`).
fn role_finding() -> Finding {
    Finding::from_json_str(EXFIL).unwrap()
}

fn load(body: &str) -> Result<PolicySet, remedy::PolicyError> {
    let source = format!(
        "const DESCRIPTION = \"test\";\nconst APPLIES_TO = \"*\";\nfn decide(finding) {{\n{body}\n}}\n"
    );
    PolicySet::from_sources([("p", source)])
}

fn kinds_of(err: &remedy::PolicyError) -> Vec<DiagnosticKind> {
    err.diagnostics().iter().map(|d| d.kind()).collect()
}

#[test]
fn containment_constructors_build_typed_actions_with_reasons() {
    let roles = load(
        "[revoke_role_sessions(finding.user_name, \"stolen session\"), \
         quarantine_principal(\"role\", finding.user_name, \"contain\")]",
    )
    .unwrap()
    .evaluate(&role_finding());
    assert!(roles.errors.is_empty(), "{roles:?}");
    match roles
        .actions
        .iter()
        .map(|a| &a.action)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [
            Action::RevokeRoleSessions(r),
            Action::QuarantinePrincipal(q),
        ] => {
            assert_eq!(r.role_name.as_str(), "web-server-role");
            assert!(
                matches!(&q.principal, IamPrincipal::Role(r) if r.as_str() == "web-server-role")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        roles.actions[0].sources[0].reason.as_deref(),
        Some("stolen session")
    );

    let users = load(
        "[quarantine_principal(\"user\", finding.user_name), disable_console_login(finding.user_name)]",
    )
    .unwrap()
    .evaluate(&user_finding());
    assert!(users.errors.is_empty(), "{users:?}");
    match users
        .actions
        .iter()
        .map(|a| &a.action)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [
            Action::QuarantinePrincipal(q),
            Action::DisableConsoleLogin(d),
        ] => {
            assert_eq!(q.principal.kind(), PrincipalKind::User);
            assert_eq!(q.principal.name(), "build-bot");
            assert_eq!(d.user_name.as_str(), "build-bot");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        roles
            .actions
            .iter()
            .chain(&users.actions)
            .all(|a| a.action.is_destructive())
    );
}

#[test]
fn computed_arguments_are_checked_when_the_policy_runs() {
    let cases = [
        (
            "revoke_role_sessions(finding.instance_id)",
            "`role_name` is absent",
        ),
        (
            "let r = \"role/with/path\"; revoke_role_sessions(r)",
            "role name",
        ),
        (
            "let n = 42; revoke_role_sessions(n)",
            "`role_name` must be a string",
        ),
        (
            "let k = \"group\"; quarantine_principal(k, finding.user_name)",
            "`kind` must be \"user\" or \"role\"",
        ),
        (
            "quarantine_principal(\"role\", finding.instance_id)",
            "`name` is absent",
        ),
        (
            "let u = \"\"; disable_console_login(u)",
            "`user_name` must not be empty",
        ),
        (
            "disable_console_login(finding.instance_id)",
            "`user_name` is absent",
        ),
    ];
    for (call, expected) in cases {
        let plan = load(call).unwrap().evaluate(&role_finding());
        let e = plan
            .errors
            .first()
            .unwrap_or_else(|| panic!("{call} succeeded: {plan:?}"));
        assert_eq!(e.kind, FailureKind::InvalidAction, "{call}: {e:?}");
        assert!(e.message.contains(expected), "{call}: {e:?}");
        assert_eq!(e.line, Some(4), "{call}: {e:?}");
    }
}

#[test]
fn literal_arguments_are_checked_when_the_policy_loads() {
    for (call, expected) in [
        ("revoke_role_sessions(\"role/with/path\")", "role name"),
        ("revoke_role_sessions(42)", "must be a string"),
        (
            "quarantine_principal(\"group\", finding.user_name)",
            "\"user\" or \"role\"",
        ),
        ("quarantine_principal(\"user\", \"a b\")", "user name"),
        ("disable_console_login(\"a b\")", "user name"),
        ("revoke_role_sessions()", "takes 1 or 2 arguments"),
        (
            "revoke_role_sessions(finding.user_name, 42)",
            "the reason must be a string",
        ),
    ] {
        let err = load(call).unwrap_err();
        assert!(
            err.diagnostics()
                .iter()
                .any(|d| d.kind() == DiagnosticKind::InvalidArgument
                    && d.to_string().contains(expected)),
            "{call}: {err}"
        );
    }
    // A role or user written in the policy is not the finding's: not loaded.
    for call in [
        "revoke_role_sessions(\"OrganizationAccountAccessRole\")",
        "quarantine_principal(\"role\", \"admin\")",
        "disable_console_login(\"alice\")",
    ] {
        let err = load(call).unwrap_err();
        assert!(
            kinds_of(&err).contains(&DiagnosticKind::OutOfScope),
            "{call}: {err}"
        );
    }
}

#[test]
fn a_principal_the_finding_does_not_name_is_refused_when_the_policy_runs() {
    // On a user's finding, its user name is not a role; on a role's finding, not a user.
    let cases = [
        (
            "revoke_role_sessions(finding.user_name)",
            user_finding(),
            "role `build-bot`",
        ),
        (
            "quarantine_principal(\"role\", finding.user_name)",
            user_finding(),
            "role `build-bot`",
        ),
        (
            "disable_console_login(finding.user_name)",
            role_finding(),
            "user `web-server-role`",
        ),
        (
            "quarantine_principal(\"user\", finding.user_name)",
            role_finding(),
            "user `web-server-role`",
        ),
        (
            "revoke_role_sessions(`${finding.user_name}-2`)",
            role_finding(),
            "web-server-role-2",
        ),
    ];
    for (call, finding, expected) in cases {
        let body = format!("[{call}, notify(\"security\", \"x\")]");
        let plan = load(&body).unwrap().evaluate(&finding);
        assert_eq!(plan.errors.len(), 1, "{call}: {plan:#?}");
        assert_eq!(plan.errors[0].kind, FailureKind::OutOfScope, "{call}");
        assert!(
            plan.errors[0].message.contains(expected),
            "{call}: {:?}",
            plan.errors[0]
        );
        let kinds: Vec<String> = plan
            .actions
            .iter()
            .map(|a| a.action.kind().to_string())
            .collect();
        assert_eq!(kinds, ["notify"], "{call}: the notification stands");
    }
}
