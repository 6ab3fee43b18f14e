//! The write-back executor against aws-smithy-mocks: the key disabled, then the finding archived
//! and resolved with the note, once each even when the finding is delivered again; nothing
//! written back when the disable fails; an unprocessed identifier fails the action; undo
//! restores the workflow status read before the update.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_iam::types::{AccessKeyMetadata, StatusType};
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, BatchUpdateFindingsUnprocessedFinding, Workflow, WorkflowStatus as ShStatus,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};

use super::WritebackExecutor;
use crate::action::{ActionRequest, Executor, Outcome, Router, SkipReason, Status};
use crate::aws::DisableAccessKeyExecutor;
use crate::config::WritebackConfig;
use crate::id::{AccessKeyId, UserName};
use crate::plan::{
    Action, ActionKind, ArchiveFinding, DisableAccessKey, FindingContext, Principal, Reversal,
    Undo, UpdateFinding, WorkflowStatus,
};
use crate::remediate::Remediator;
use crate::testing::{context, plan_of};

const USER: &str = "alice";
const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const ARN: &str = "arn:aws:guardduty:us-east-1:111122223333:detector/d1/finding/f-123";
const NOTE: &str = "remedy disabled access key AKIAIOSFODNN7EXAMPLE of alice";

fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
    rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, r| i.with_rule(r),
    )
}

fn creds() -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new("AKIDTEST", "secret", None, None, "test")
}

fn executor(rules: &[&Rule]) -> WritebackExecutor {
    let gd = aws_sdk_guardduty::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(creds())
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .build();
    let sh = aws_sdk_securityhub::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(creds())
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .build();
    let config = WritebackConfig {
        detectors: [("us-east-1".to_owned(), "admin0detector".to_owned())].into(),
        ..WritebackConfig::default()
    };
    WritebackExecutor::from_client(
        aws_sdk_guardduty::Client::from_conf(gd),
        aws_sdk_securityhub::Client::from_conf(sh),
        config,
    )
}

fn iam(rules: &[&Rule]) -> DisableAccessKeyExecutor {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(creds())
        .http_client(create_mock_http_client())
        .interceptor(interceptor(rules))
        .build();
    DisableAccessKeyExecutor::from_client(aws_sdk_iam::Client::from_conf(conf))
}

fn finding() -> FindingContext {
    let mut f = context("f-123", "UnauthorizedAccess:IAMUser/MaliciousIPCaller").unwrap();
    f.account_id = "111122223333".into();
    f.region = "us-east-1".into();
    f.finding_arn = Some(ARN.into());
    f.principal = Some(Principal {
        user_name: Some(USER.into()),
        user_type: Some("IAMUser".into()),
        access_key_id: Some(KEY.into()),
        principal_id: None,
    });
    f
}

fn keys(status: StatusType) -> aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput {
    aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput::builder()
        .access_key_metadata(
            AccessKeyMetadata::builder()
                .user_name(USER)
                .access_key_id(KEY)
                .status(status)
                .build(),
        )
        .build()
        .unwrap()
}

fn actions() -> [Action; 3] {
    [
        Action::DisableAccessKey(DisableAccessKey {
            user_name: UserName::new(USER).unwrap(),
            access_key_id: AccessKeyId::new(KEY).unwrap(),
        }),
        Action::ArchiveFinding(ArchiveFinding {}),
        Action::UpdateFinding(UpdateFinding {
            status: WorkflowStatus::Resolved,
            note: NOTE.into(),
        }),
    ]
}

fn status_now(status: ShStatus) -> Rule {
    mock!(aws_sdk_securityhub::Client::get_findings)
        .match_requests(|r| {
            r.filters()
                .and_then(|f| f.id().first())
                .and_then(|s| s.value())
                == Some(ARN)
        })
        .then_output(move || {
            aws_sdk_securityhub::operation::get_findings::GetFindingsOutput::builder()
                .findings(
                    AwsSecurityFinding::builder()
                        .workflow(Workflow::builder().status(status.clone()).build())
                        .build(),
                )
                .build()
        })
}

fn update_ok() -> Rule {
    mock!(aws_sdk_securityhub::Client::batch_update_findings)
        .match_requests(|r| {
            let id = r.finding_identifiers().first();
            id.and_then(|i| i.id()) == Some(ARN)
                && id.and_then(|i| i.product_arn())
                    == Some("arn:aws:securityhub:us-east-1::product/aws/guardduty")
                && r.workflow().and_then(|w| w.status()) == Some(&ShStatus::Resolved)
                && r.note().and_then(|n| n.text()) == Some(NOTE)
                && r.note().and_then(|n| n.updated_by()) == Some("remedy")
        })
        .then_output(|| {
            aws_sdk_securityhub::operation::batch_update_findings::BatchUpdateFindingsOutput::builder()
                .build()
        })
}

fn archive_ok() -> Rule {
    mock!(aws_sdk_guardduty::Client::archive_findings)
        .match_requests(|r| {
            r.detector_id() == Some("admin0detector") && r.finding_ids() == ["f-123".to_owned()]
        })
        .then_output(|| {
            aws_sdk_guardduty::operation::archive_findings::ArchiveFindingsOutput::builder().build()
        })
}

fn remediator(iam_rules: &[&Rule], writeback: &[&Rule]) -> Remediator {
    let router = ActionKind::builtin().fold(Router::new(), |r, kind| {
        let executor: Arc<dyn Executor> = if crate::plan::is_writeback(&kind) {
            Arc::new(executor(writeback))
        } else {
            Arc::new(iam(iam_rules))
        };
        r.with(kind, executor)
    });
    Remediator::builder(Arc::new(router))
        .with_writeback_kinds(ActionKind::writeback())
        .enforce(true)
        .build()
}

#[tokio::test]
async fn the_key_is_disabled_then_the_finding_archived_and_resolved_once() {
    let list = mock!(aws_sdk_iam::Client::list_access_keys)
        .sequence()
        .output(|| keys(StatusType::Active))
        .output(|| keys(StatusType::Inactive))
        .repeatedly()
        .build();
    let disable = mock!(aws_sdk_iam::Client::update_access_key).then_output(|| {
        aws_sdk_iam::operation::update_access_key::UpdateAccessKeyOutput::builder().build()
    });
    let (archive, read, update) = (archive_ok(), status_now(ShStatus::New), update_ok());
    let remediator = remediator(&[&list, &disable], &[&archive, &read, &update]);
    let plan = plan_of(finding(), actions(), "key-policy");
    let first = remediator.run(&plan).await;
    assert_eq!(first.count(Status::Executed), 3, "{first:?}");
    assert_eq!(first.actions[0].kind, ActionKind::DISABLE_ACCESS_KEY);
    // Delivered again: the ledger knows every action is done.
    let again = remediator.run(&plan).await;
    assert_eq!(again.count(Status::Executed), 0, "{again:?}");
    assert_eq!(disable.num_calls(), 1);
    assert_eq!(archive.num_calls(), 1);
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn nothing_is_written_back_when_the_disable_fails() {
    let list = mock!(aws_sdk_iam::Client::list_access_keys)
        .then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(403).unwrap(),
                aws_smithy_types::body::SdkBody::from(
                    "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>",
                ),
            )
        });
    let (archive, read, update) = (archive_ok(), status_now(ShStatus::New), update_ok());
    let remediator = remediator(&[&list], &[&archive, &read, &update]);
    let report = remediator
        .run(&plan_of(finding(), actions(), "key-policy"))
        .await;
    assert_eq!(report.count(Status::Failed), 1, "{report:?}");
    for record in &report.actions[1..] {
        let Outcome::Skipped(SkipReason::HeldBack { unfinished }) = &record.outcome else {
            panic!("{:?}", record.outcome);
        };
        assert!(
            unfinished[0].starts_with("disable_access_key (failed"),
            "{unfinished:?}"
        );
    }
    assert_eq!(
        archive.num_calls() + update.num_calls() + read.num_calls(),
        0
    );
}

#[tokio::test]
async fn an_unprocessed_identifier_is_a_failed_action_with_its_reason() {
    let read = status_now(ShStatus::New);
    let refused = mock!(aws_sdk_securityhub::Client::batch_update_findings).then_output(|| {
        aws_sdk_securityhub::operation::batch_update_findings::BatchUpdateFindingsOutput::builder()
            .unprocessed_findings(
                BatchUpdateFindingsUnprocessedFinding::builder()
                    .error_code("FindingNotFound")
                    .error_message("Finding Not Found")
                    .build(),
            )
            .build()
    });
    let f = finding();
    let [_, _, update] = actions();
    let outcome = executor(&[&read, &refused])
        .execute(&ActionRequest::new(&update, &f))
        .await;
    let error = outcome.error().expect("failed");
    assert!(error.message().contains("Finding Not Found"), "{error}");
    assert!(error.message().contains("FindingNotFound"), "{error}");
}

#[tokio::test]
async fn undo_restores_the_status_read_before_the_update() {
    let read = status_now(ShStatus::Notified);
    let update = update_ok();
    let f = finding();
    let [_, _, resolve] = actions();
    let outcome = executor(&[&read, &update])
        .execute(&ActionRequest::new(&resolve, &f))
        .await;
    let reversal = outcome.undo().cloned().expect("reversible");
    assert_eq!(
        reversal,
        Reversal::SetWorkflowStatus {
            status: WorkflowStatus::Notified
        }
    );
    let restore = mock!(aws_sdk_securityhub::Client::batch_update_findings)
        .match_requests(|r| r.workflow().and_then(|w| w.status()) == Some(&ShStatus::Notified))
        .then_output(|| {
            aws_sdk_securityhub::operation::batch_update_findings::BatchUpdateFindingsOutput::builder()
                .build()
        });
    let read = status_now(ShStatus::Resolved);
    let undo = Action::Undo(Undo {
        record: "r-1".into(),
        reversal,
    });
    let outcome = executor(&[&read, &restore])
        .execute(&ActionRequest::new(&undo, &f))
        .await;
    assert!(matches!(outcome, Outcome::Executed { .. }), "{outcome}");
    assert_eq!(restore.num_calls(), 1);
}

#[tokio::test]
async fn archiving_from_a_member_account_says_who_may() {
    let refused = mock!(aws_sdk_guardduty::Client::archive_findings).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                r#"{"__type":"BadRequestException","message":"The request is rejected because the current account cannot archive findings of a member"}"#,
            ),
        )
    });
    let f = finding();
    let archive = Action::ArchiveFinding(ArchiveFinding {});
    let outcome = executor(&[&refused])
        .execute(&ActionRequest::new(&archive, &f))
        .await;
    let error = outcome.error().expect("failed");
    assert!(error.message().contains("administrator"), "{error}");
}

#[tokio::test]
async fn expired_suppression_filters_are_deleted_and_the_others_kept() {
    use aws_sdk_guardduty::operation::delete_filter::DeleteFilterOutput;
    use aws_sdk_guardduty::operation::get_filter::GetFilterOutput;
    use aws_sdk_guardduty::operation::list_filters::ListFiltersOutput;
    use aws_sdk_guardduty::types::FilterAction;

    let list = mock!(aws_sdk_guardduty::Client::list_filters).then_output(|| {
        ListFiltersOutput::builder()
            .filter_names("remedy-suppress-old")
            .filter_names("remedy-suppress-new")
            .filter_names("team-own-filter")
            .build()
    });
    let filter = |name: &str, expires: &str| {
        let (name, expires) = (name.to_owned(), expires.to_owned());
        mock!(aws_sdk_guardduty::Client::get_filter)
            .match_requests(move |r| r.filter_name() == Some(name.as_str()))
            .then_output(move || {
                GetFilterOutput::builder()
                    .name("x")
                    .action(FilterAction::Archive)
                    .tags(super::EXPIRES_TAG, expires.clone())
                    .build()
            })
    };
    let old = filter("remedy-suppress-old", "2026-01-01T00:00:00Z");
    let new = filter("remedy-suppress-new", "2099-01-01T00:00:00Z");
    let delete = mock!(aws_sdk_guardduty::Client::delete_filter)
        .match_requests(|r| r.filter_name() == Some("remedy-suppress-old"))
        .then_output(|| DeleteFilterOutput::builder().build());
    let exec = executor(&[&list, &old, &new, &delete]);
    let now = time::OffsetDateTime::now_utc();
    let deleted = exec.expire_filters("us-east-1", now).await.unwrap();
    assert_eq!(deleted, ["remedy-suppress-old"]);
    assert_eq!(
        delete.num_calls(),
        1,
        "only the expired filter of remedy is deleted"
    );
    assert_eq!(new.num_calls(), 1);
}

/// An OCSF finding of Security Hub, named by its `metadata.uid`.
fn ocsf_finding() -> FindingContext {
    let mut f = context("ocsf-1", "Recon:IAMUser/MaliciousIPCaller").unwrap();
    f.account_id = "111122223333".into();
    f.region = "us-east-1".into();
    f.source = crate::finding::FindingSource::Ocsf;
    f.metadata_uid = Some("uid-ocsf-1".into());
    f
}

/// GetFindingsV2 of `uid-ocsf-1` answers a finding whose `status_id` is `status_id`.
fn ocsf_status_now(status_id: u64) -> Rule {
    use aws_smithy_types::{Document, Number};
    mock!(aws_sdk_securityhub::Client::get_findings_v2)
        .match_requests(|r| {
            let filter = r
                .filters()
                .and_then(|f| f.composite_filters().first())
                .and_then(|c| c.string_filters().first());
            filter.and_then(|f| f.field_name())
                == Some(&aws_sdk_securityhub::types::OcsfStringField::MetadataUid)
                && filter.and_then(|f| f.filter()).and_then(|f| f.value()) == Some("uid-ocsf-1")
        })
        .then_output(move || {
            let finding = Document::Object(
                [
                    (
                        "status_id".to_owned(),
                        Document::Number(Number::PosInt(status_id)),
                    ),
                    (
                        "metadata".to_owned(),
                        Document::Object(
                            [("uid".to_owned(), Document::String("uid-ocsf-1".into()))].into(),
                        ),
                    ),
                ]
                .into(),
            );
            aws_sdk_securityhub::operation::get_findings_v2::GetFindingsV2Output::builder()
                .findings(finding)
                .build()
        })
}

/// BatchUpdateFindingsV2 of `uid-ocsf-1` to `status_id`, processed.
fn ocsf_update_ok(status_id: i32) -> Rule {
    mock!(aws_sdk_securityhub::Client::batch_update_findings_v2)
        .match_requests(move |r| {
            r.metadata_uids() == ["uid-ocsf-1".to_owned()] && r.status_id() == Some(status_id)
        })
        .then_output(|| {
            aws_sdk_securityhub::operation::batch_update_findings_v2::BatchUpdateFindingsV2Output::builder()
                .build()
        })
}

#[tokio::test]
async fn undo_of_an_ocsf_update_restores_the_status_id_read_before_it() {
    let f = ocsf_finding();
    let resolve = Action::UpdateFinding(UpdateFinding {
        status: WorkflowStatus::Resolved,
        note: NOTE.into(),
    });
    // In progress (2) before: the update to resolved (4) records NOTIFIED to set back.
    let (read, update) = (ocsf_status_now(2), ocsf_update_ok(4));
    let outcome = executor(&[&read, &update])
        .execute(&ActionRequest::new(&resolve, &f))
        .await;
    assert!(matches!(outcome, Outcome::Executed { .. }), "{outcome}");
    assert!(outcome.to_string().contains("(was NOTIFIED)"), "{outcome}");
    let reversal = outcome.undo().cloned().expect("reversible");
    assert_eq!(
        reversal,
        Reversal::SetWorkflowStatus {
            status: WorkflowStatus::Notified
        }
    );
    assert_eq!((read.num_calls(), update.num_calls()), (1, 1));

    let undo = Action::Undo(Undo {
        record: "r-ocsf".into(),
        reversal,
    });
    let (read, restore) = (ocsf_status_now(4), ocsf_update_ok(2));
    let outcome = executor(&[&read, &restore])
        .execute(&ActionRequest::new(&undo, &f))
        .await;
    assert!(matches!(outcome, Outcome::Executed { .. }), "{outcome}");
    assert_eq!(restore.num_calls(), 1, "status_id 2 sent back");
}

#[tokio::test]
async fn an_ocsf_status_remedy_does_not_set_is_not_undone() {
    let f = ocsf_finding();
    let resolve = Action::UpdateFinding(UpdateFinding {
        status: WorkflowStatus::Resolved,
        note: NOTE.into(),
    });
    // Archived (5) before: remedy updates, but cannot promise to set it back.
    let (read, update) = (ocsf_status_now(5), ocsf_update_ok(4));
    let outcome = executor(&[&read, &update])
        .execute(&ActionRequest::new(&resolve, &f))
        .await;
    assert!(matches!(outcome, Outcome::Executed { .. }), "{outcome}");
    let Some(Reversal::Irreversible { reason }) = outcome.undo() else {
        panic!("{outcome:?}");
    };
    assert!(reason.contains("status_id 5"), "{reason}");
}
