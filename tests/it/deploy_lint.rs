//! The CloudFormation template in `deploy/` passes cfn-lint (`scripts/lint-deploy.sh`, which
//! skips with a message where cfn-lint cannot be installed).

use std::process::Command;

#[test]
fn the_deployment_template_passes_cfn_lint() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lint-deploy.sh");
    let out = Command::new(script).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("skipped:") {
        eprintln!("{stderr}");
        return;
    }
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_template_wires_the_queue_the_dead_letter_queue_and_partial_batch_failures() {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/template.yaml"))
            .unwrap();
    for needle in [
        "maxReceiveCount: !Ref MaxReceiveCount",
        "FunctionResponseTypes: [ReportBatchItemFailures]",
        "detail-type: [GuardDuty Finding]",
        "aws:SourceArn: !GetAtt FindingsRule.Arn",
        "Runtime: provided.al2023",
        // The state table as `remedy state init` makes it, and the function told its name.
        "- AttributeName: sk\n          KeyType: RANGE",
        "IndexName: claims",
        "AttributeName: ttl",
        "${StateTable.Arn}/index/claims",
        "REMEDY_STATE_TABLE: !Ref StateTable",
        // Runbooks: exactly the allowed documents and state machines, the role passed to SSM only.
        "Action: ssm:StartAutomationExecution",
        "automation-definition/${Document}:*",
        "Action: ssm:GetAutomationExecution",
        "Action: states:StartExecution",
        "stateMachine:${Machine}",
        "Action: states:DescribeExecution",
        "iam:PassedToService: ssm.amazonaws.com",
    ] {
        assert!(template.contains(needle), "missing `{needle}`");
    }
    // No wildcard action anywhere.
    assert!(!template.contains("Action: \"*\""));
    assert!(!template.contains(":*\n"), "no service-wide action");
}

#[test]
fn the_member_role_trusts_one_account_with_an_external_id_and_never_changes_itself() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/member-role.yaml"
    ))
    .unwrap();
    for needle in [
        "sts:ExternalId: !Ref ExternalId",
        "arn:${AWS::Partition}:iam::${RemedyAccountId}:root",
        "Effect: Deny",
        "role/${RoleName}",
        "Default: remedy-responder",
    ] {
        assert!(template.contains(needle), "missing `{needle}`");
    }
    assert!(!template.contains("Action: \"*\""));
    assert!(!template.contains("iam:*"));
}
