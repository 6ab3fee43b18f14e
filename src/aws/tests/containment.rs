//! Faults and edge cases of the containment executor that moto cannot produce: URL-encoded
//! documents, read-backs that disagree, throttling, access denied, paging, a managed policy that
//! is missing, an entity IAM will not modify yet.

use std::sync::{Arc, Mutex};

use aws_sdk_iam::operation::get_role::GetRoleOutput;
use aws_sdk_iam::operation::get_role_policy::GetRolePolicyOutput;
use aws_sdk_iam::operation::get_user::GetUserOutput;
use aws_sdk_iam::operation::get_user_policy::GetUserPolicyOutput;
use aws_sdk_iam::types::AttachedPolicy;
use aws_smithy_mocks::{Rule, mock};

use super::{creds, interceptor, retry, run};
use crate::action::{ErrorKind, Outcome};
use crate::aws::ContainmentExecutor;
use crate::id::{RoleName, UserName};
use crate::plan::{
    Action, DisableConsoleLogin, IamPrincipal, QuarantinePrincipal, Reversal, RevokeRoleSessions,
};

const ROLE: &str = "web-server-role";
const QUARANTINE: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";

fn executor(rules: &[&Rule]) -> ContainmentExecutor {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(creds())
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .interceptor(interceptor(rules))
        .retry_config(retry())
        .build();
    ContainmentExecutor::from_client(aws_sdk_iam::Client::from_conf(conf))
}

fn iam_error(code: &str) -> String {
    format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{code} here\
         </Message></Error><RequestId>r</RequestId></ErrorResponse>"
    )
}

fn revoke() -> Action {
    Action::RevokeRoleSessions(RevokeRoleSessions {
        role_name: RoleName::new(ROLE).unwrap(),
    })
}

fn policy_name() -> String {
    RevokeRoleSessions::policy_name("finding-123")
}

fn role_exists() -> Rule {
    mock!(aws_sdk_iam::Client::get_role)
        .match_requests(|r| r.role_name() == Some(ROLE))
        .then_output(|| GetRoleOutput::builder().build())
}

fn role_policy(document: &str) -> GetRolePolicyOutput {
    GetRolePolicyOutput::builder()
        .role_name(ROLE)
        .policy_name(policy_name())
        .policy_document(document)
        .build()
        .unwrap()
}

/// IAM's encoding of a policy document (RFC 3986).
fn url_encoded(document: &str) -> String {
    percent_encoding::utf8_percent_encode(document, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn revokes_reads_back_an_encoded_document_and_keeps_an_existing_first_time() {
    let written = Arc::new(Mutex::new(String::new()));
    let store = Arc::clone(&written);
    let put = mock!(aws_sdk_iam::Client::put_role_policy)
        .match_requests(move |r| {
            let ok = r.role_name() == Some(ROLE)
                && r.policy_name() == Some(policy_name().as_str())
                && r.policy_document()
                    .is_some_and(|d| d.contains("aws:TokenIssueTime") && d.contains("Deny"));
            if ok {
                *store.lock().unwrap() = r.policy_document().unwrap_or_default().to_owned();
            }
            ok
        })
        .then_output(|| {
            aws_sdk_iam::operation::put_role_policy::PutRolePolicyOutput::builder().build()
        });
    let echo = Arc::clone(&written);
    let get = mock!(aws_sdk_iam::Client::get_role_policy)
        .sequence()
        .http_status(404, Some(iam_error("NoSuchEntity")))
        .output(move || role_policy(&url_encoded(&echo.lock().unwrap())))
        .build();
    let role = role_exists();
    let outcome = run(&executor(&[&role, &get, &put]), &revoke()).await;
    assert!(matches!(outcome, Outcome::Executed { .. }), "{outcome}");
    assert_eq!(put.num_calls(), 1);
    assert_eq!(get.num_calls(), 2, "read back");
    assert_eq!(
        outcome.undo(),
        Some(&Reversal::DeleteInlinePolicy {
            principal: IamPrincipal::Role(RoleName::new(ROLE).unwrap()),
            policy_name: policy_name(),
        })
    );

    // The policy of this finding is there (IAM returns it URL-encoded): its time is kept.
    let existing = crate::action::containment::revoke_document("2020-01-01T00:00:00Z");
    let get = mock!(aws_sdk_iam::Client::get_role_policy)
        .then_output(move || role_policy(&url_encoded(&existing)));
    let put = mock!(aws_sdk_iam::Client::put_role_policy).then_output(|| {
        aws_sdk_iam::operation::put_role_policy::PutRolePolicyOutput::builder().build()
    });
    let role = role_exists();
    let outcome = run(&executor(&[&role, &get, &put]), &revoke()).await;
    assert!(matches!(outcome, Outcome::AlreadyDone { .. }), "{outcome}");
    assert!(
        outcome.to_string().contains("2020-01-01T00:00:00Z"),
        "{outcome}"
    );
    assert_eq!(put.num_calls(), 0);
}

#[tokio::test]
async fn a_revocation_that_does_not_read_back_is_a_conflict() {
    let get = mock!(aws_sdk_iam::Client::get_role_policy)
        .sequence()
        .http_status(404, Some(iam_error("NoSuchEntity")))
        .repeatedly()
        .build();
    let put = mock!(aws_sdk_iam::Client::put_role_policy).then_output(|| {
        aws_sdk_iam::operation::put_role_policy::PutRolePolicyOutput::builder().build()
    });
    let role = role_exists();
    let outcome = run(&executor(&[&role, &get, &put]), &revoke()).await;
    assert_eq!(
        outcome.error().unwrap().kind(),
        ErrorKind::Conflict,
        "{outcome}"
    );
    assert!(
        outcome.to_string().contains("does not read back"),
        "{outcome}"
    );
}

#[tokio::test]
async fn access_denied_and_a_missing_role_change_nothing() {
    let put = mock!(aws_sdk_iam::Client::put_role_policy).then_output(|| {
        aws_sdk_iam::operation::put_role_policy::PutRolePolicyOutput::builder().build()
    });
    let denied = mock!(aws_sdk_iam::Client::get_role)
        .sequence()
        .http_status(403, Some(iam_error("AccessDenied")))
        .build();
    let outcome = run(&executor(&[&denied, &put]), &revoke()).await;
    assert_eq!(
        outcome.error().unwrap().kind(),
        ErrorKind::PermissionDenied,
        "{outcome}"
    );
    let missing = mock!(aws_sdk_iam::Client::get_role)
        .sequence()
        .http_status(404, Some(iam_error("NoSuchEntity")))
        .build();
    let outcome = run(&executor(&[&missing, &put]), &revoke()).await;
    assert_eq!(
        outcome.error().unwrap().kind(),
        ErrorKind::NotFound,
        "{outcome}"
    );
    assert_eq!(put.num_calls(), 0);
}

#[tokio::test]
async fn a_throttled_put_is_retried_then_fails_retryable() {
    let get = mock!(aws_sdk_iam::Client::get_role_policy)
        .sequence()
        .http_status(404, Some(iam_error("NoSuchEntity")))
        .repeatedly()
        .build();
    let put = mock!(aws_sdk_iam::Client::put_role_policy)
        .sequence()
        .http_status(400, Some(iam_error("Throttling")))
        .repeatedly()
        .build();
    let role = role_exists();
    let outcome = run(&executor(&[&role, &get, &put]), &revoke()).await;
    let e = outcome.error().unwrap();
    assert_eq!(e.kind(), ErrorKind::Throttled, "{e}");
    assert!(e.retryable());
    assert_eq!(
        put.num_calls(),
        3,
        "PutRolePolicy is idempotent: the SDK retried it"
    );
}

fn alice() -> IamPrincipal {
    IamPrincipal::User(UserName::new("alice").unwrap())
}

fn attached(arn: &str) -> AttachedPolicy {
    AttachedPolicy::builder()
        .policy_arn(arn)
        .policy_name(arn.rsplit('/').next().unwrap_or_default())
        .build()
}

#[tokio::test]
async fn quarantine_reads_every_page_and_falls_back_to_inline_when_the_policy_is_missing() {
    use aws_sdk_iam::operation::list_attached_user_policies::ListAttachedUserPoliciesOutput;
    let user =
        mock!(aws_sdk_iam::Client::get_user).then_output(|| GetUserOutput::builder().build());
    let first = mock!(aws_sdk_iam::Client::list_attached_user_policies)
        .match_requests(|r| r.marker().is_none())
        .then_output(|| {
            ListAttachedUserPoliciesOutput::builder()
                .attached_policies(attached("arn:aws:iam::aws:policy/ReadOnlyAccess"))
                .is_truncated(true)
                .marker("page-2")
                .build()
        });
    let second = mock!(aws_sdk_iam::Client::list_attached_user_policies)
        .match_requests(|r| r.marker() == Some("page-2"))
        .then_output(|| ListAttachedUserPoliciesOutput::builder().build());
    let inline = mock!(aws_sdk_iam::Client::get_user_policy)
        .match_requests(|r| r.policy_name() == Some("remedy-quarantine"))
        .sequence()
        .http_status(404, Some(iam_error("NoSuchEntity")))
        .output(|| {
            GetUserPolicyOutput::builder()
                .user_name("alice")
                .policy_name("remedy-quarantine")
                .policy_document(url_encoded(&crate::action::containment::deny_all_document()))
                .build()
                .unwrap()
        })
        .build();
    let attach = mock!(aws_sdk_iam::Client::attach_user_policy)
        .match_requests(|r| r.policy_arn() == Some(QUARANTINE))
        .sequence()
        .http_status(404, Some(iam_error("NoSuchEntity")))
        .build();
    let put = mock!(aws_sdk_iam::Client::put_user_policy)
        .match_requests(|r| {
            r.policy_name() == Some("remedy-quarantine")
                && r.policy_document().is_some_and(|d| {
                    d.contains(r#""Effect":"Deny""#) && d.contains(r#""Action":"*""#)
                })
        })
        .then_output(|| {
            aws_sdk_iam::operation::put_user_policy::PutUserPolicyOutput::builder().build()
        });
    let action = Action::QuarantinePrincipal(QuarantinePrincipal { principal: alice() });
    let outcome = run(
        &executor(&[&user, &first, &second, &inline, &attach, &put]),
        &action,
    )
    .await;
    assert!(matches!(outcome, Outcome::Executed { .. }), "{outcome}");
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    assert_eq!((attach.num_calls(), put.num_calls()), (1, 1));
    assert_eq!(
        outcome.undo(),
        Some(&Reversal::DeleteInlinePolicy {
            principal: alice(),
            policy_name: "remedy-quarantine".into(),
        })
    );
}

#[tokio::test]
async fn a_quarantine_attached_on_a_later_page_is_already_done() {
    use aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput;
    let role = role_exists();
    let first = mock!(aws_sdk_iam::Client::list_attached_role_policies)
        .match_requests(|r| r.marker().is_none())
        .then_output(|| {
            ListAttachedRolePoliciesOutput::builder()
                .is_truncated(true)
                .marker("page-2")
                .build()
        });
    let second = mock!(aws_sdk_iam::Client::list_attached_role_policies)
        .match_requests(|r| r.marker() == Some("page-2"))
        .then_output(|| {
            ListAttachedRolePoliciesOutput::builder()
                .attached_policies(attached(QUARANTINE))
                .build()
        });
    let attach = mock!(aws_sdk_iam::Client::attach_role_policy).then_output(|| {
        aws_sdk_iam::operation::attach_role_policy::AttachRolePolicyOutput::builder().build()
    });
    let action = Action::QuarantinePrincipal(QuarantinePrincipal {
        principal: IamPrincipal::Role(RoleName::new(ROLE).unwrap()),
    });
    let outcome = run(&executor(&[&role, &first, &second, &attach]), &action).await;
    assert!(matches!(outcome, Outcome::AlreadyDone { .. }), "{outcome}");
    assert_eq!(attach.num_calls(), 0);
}

#[tokio::test]
async fn a_login_profile_iam_will_not_delete_yet_is_a_conflict() {
    let user =
        mock!(aws_sdk_iam::Client::get_user).then_output(|| GetUserOutput::builder().build());
    let delete = mock!(aws_sdk_iam::Client::delete_login_profile)
        .sequence()
        .http_status(409, Some(iam_error("EntityTemporarilyUnmodifiable")))
        .build();
    let action = Action::DisableConsoleLogin(DisableConsoleLogin {
        user_name: UserName::new("alice").unwrap(),
    });
    let outcome = run(&executor(&[&user, &delete]), &action).await;
    assert_eq!(
        outcome.error().unwrap().kind(),
        ErrorKind::Conflict,
        "{outcome}"
    );
    assert!(
        outcome.undo().is_none(),
        "nothing was done: nothing to undo"
    );
}
