//! Public API tests over the repository's own fixtures.

use std::path::{Path, PathBuf};

use remedy::finding::{FindingSource, ResourceKind, ServiceAction, SeverityBand, Shape, TypeGlob};
use remedy::{Finding, parse_documents};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub(crate) fn read(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap()
}

pub(crate) fn one(rel: &str) -> Finding {
    Finding::from_slice(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every field a policy reads, for comparing shapes.
fn normalized(f: &Finding) -> Vec<(String, String)> {
    let fields: Vec<(&str, String)> = vec![
        ("id", f.id().into()),
        ("arn", f.arn().into()),
        ("account_id", f.account_id().into()),
        ("region", f.region().into()),
        ("partition", f.partition().into()),
        ("type", f.finding_type().to_string()),
        ("severity", f.severity().to_string()),
        ("title", f.title().into()),
        ("description", f.description().into()),
        ("created_at", format!("{:?}", f.created_at())),
        ("updated_at", format!("{:?}", f.updated_at())),
        ("resource_type", f.resource_type().into()),
        ("action_type", format!("{:?}", f.action_type())),
        ("count", format!("{:?}", f.count())),
        ("archived", f.archived().to_string()),
        ("resource_role", format!("{:?}", f.resource_role())),
        ("detector_id", format!("{:?}", f.detector_id())),
        ("user_name", format!("{:?}", f.user_name())),
        ("user_type", format!("{:?}", f.user_type())),
        ("access_key_id", format!("{:?}", f.access_key_id())),
        ("principal_id", format!("{:?}", f.principal_id())),
        ("instance_id", format!("{:?}", f.instance_id())),
        ("remote_ip", format!("{:?}", f.remote_ip())),
        ("remote_country", format!("{:?}", f.remote_country())),
        (
            "remote_organization",
            format!("{:?}", f.remote_organization()),
        ),
        ("api", format!("{:?}", f.api())),
        ("api_service", format!("{:?}", f.api_service())),
        ("threat_list_name", format!("{:?}", f.threat_list_name())),
        ("sample", f.is_sample().to_string()),
        (
            "event_first_seen",
            format!("{:?}", f.service().event_first_seen),
        ),
        (
            "event_last_seen",
            format!("{:?}", f.service().event_last_seen),
        ),
    ];
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

const IAM_SHAPES: &[(&str, Shape)] = &[
    ("iam/malicious-ip-custom.raw.json", Shape::Raw),
    (
        "iam/malicious-ip-custom.eventbridge.json",
        Shape::Eventbridge,
    ),
    ("iam/malicious-ip-custom.cli.json", Shape::Cli),
    ("iam/malicious-ip-custom.asff.json", Shape::Asff),
    ("iam/malicious-ip-custom.asff-findings.json", Shape::Asff),
    ("iam/malicious-ip-custom.sechub-event.json", Shape::Asff),
];

#[test]
fn iam_scenario_fields() {
    let f = one("iam/malicious-ip-custom.raw.json");
    assert_eq!(f.id(), "b4c7e2a19f3d8e6a5b2c1d0e9f8a7b6c");
    assert_eq!(
        f.finding_type().as_str(),
        "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom"
    );
    assert_eq!(f.finding_type().threat_purpose(), "UnauthorizedAccess");
    assert_eq!(f.finding_type().resource_type_affected(), "IAMUser");
    assert_eq!(f.finding_type().threat_family(), "MaliciousIPCaller");
    assert_eq!(f.finding_type().detection_mechanism(), Some("Custom"));
    assert_eq!(f.account_id(), "123456789012");
    assert_eq!(f.region(), "us-east-1");
    assert_eq!(f.partition(), "aws");
    assert_eq!(f.schema_version(), Some("2.0"));
    assert_eq!(f.severity().value(), 5.0);
    assert_eq!(f.severity().band(), SeverityBand::Medium);
    assert_eq!(f.resource_type(), "AccessKey");
    assert!(f.resource().kind() == &ResourceKind::AccessKey);
    assert_eq!(
        f.user_name(),
        Some("GuardDuty-Example-Compromised-Simulated")
    );
    assert_eq!(f.user_type(), Some("IAMUser"));
    assert_eq!(f.access_key_id(), Some("AKIAIOSFODNN7EXAMPLE"));
    assert_eq!(f.principal_id(), Some("AIDACKCEVSQ6C2EXAMPLE"));
    assert_eq!(f.api(), Some("GetParameters"));
    assert_eq!(f.api_service(), Some("ssm.amazonaws.com"));
    assert_eq!(f.action_type(), Some("AWS_API_CALL"));
    assert_eq!(f.remote_ip(), Some("198.51.100.23".parse().unwrap()));
    assert_eq!(f.remote_country(), Some("Netherlands"));
    assert_eq!(f.remote_organization(), Some("Example Hosting B.V."));
    assert_eq!(f.threat_list_name(), Some("ExampleThreatList"));
    assert_eq!(f.count(), Some(3));
    assert!(!f.archived());
    assert_eq!(f.resource_role(), Some("TARGET"));
    assert_eq!(f.detector_id(), Some("12abc34d567e8fa901bc2d34e56789f0"));
    assert_eq!(f.instance_id(), None);
    assert!(f.instance_ids().is_empty());
    assert!(f.bucket_names().is_empty());
    assert!(!f.is_sample());
    assert_eq!(f.created_at().unwrap().unix_timestamp(), 1_718_097_615);
    assert_eq!(f.updated_at().unwrap().millisecond(), 208);
    assert!(f.envelope().is_none());
}

#[test]
fn iam_scenario_is_the_same_in_every_shape() {
    let base = normalized(&one("iam/malicious-ip-custom.raw.json"));
    for (rel, shape) in IAM_SHAPES {
        let f = one(rel);
        assert_eq!(f.shape(), *shape, "{rel}");
        let got = normalized(&f);
        for ((k, want), (_, have)) in base.iter().zip(&got) {
            assert_eq!(want, have, "{rel}: field `{k}`");
        }
    }
}

#[test]
fn canonical_json_is_camel_case_in_every_shape() {
    for (rel, _) in IAM_SHAPES {
        let j = one(rel).json().clone();
        assert_eq!(j["accountId"], "123456789012", "{rel}");
        assert_eq!(
            j["type"], "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
            "{rel}"
        );
        assert_eq!(
            j["resource"]["accessKeyDetails"]["userName"],
            "GuardDuty-Example-Compromised-Simulated",
            "{rel}"
        );
        assert_eq!(
            j["service"]["action"]["awsApiCallAction"]["api"], "GetParameters",
            "{rel}"
        );
        assert_eq!(j["service"]["count"], 3, "{rel}");
        assert_eq!(j["service"]["archived"], false, "{rel}");
        assert!(
            j.get("Type").is_none() && j.get("Resource").is_none(),
            "{rel}"
        );
    }
    // Raw and EventBridge keep the finding exactly as sent.
    let raw: serde_json::Value =
        serde_json::from_slice(&read("iam/malicious-ip-custom.raw.json")).unwrap();
    assert_eq!(one("iam/malicious-ip-custom.eventbridge.json").json(), &raw);
    assert_eq!(one("iam/malicious-ip-custom.cli.json").json(), &raw);
}

#[test]
fn eventbridge_envelope_is_kept() {
    let f = one("iam/malicious-ip-custom.eventbridge.json");
    let env = f.envelope().unwrap();
    assert_eq!(
        env.id.as_deref(),
        Some("7f0d6a1e-3c2b-4d5e-8f9a-0b1c2d3e4f50")
    );
    assert_eq!(env.source.as_deref(), Some("aws.guardduty"));
    assert_eq!(env.detail_type.as_deref(), Some("GuardDuty Finding"));
    assert_eq!(env.time.unwrap().unix_timestamp(), 1_718_098_611);
    let f = one("iam/malicious-ip-custom.sechub-event.json");
    assert_eq!(
        f.envelope().unwrap().source.as_deref(),
        Some("aws.securityhub")
    );
}

#[test]
fn other_products_in_a_batch_are_findings_of_source_securityhub() {
    let batch = parse_documents(
        &read("iam/malicious-ip-custom.asff-mixed-products.json"),
        "mixed.json",
    );
    assert!(batch.is_ok());
    assert_eq!(batch.len(), 2);
    let found: Vec<_> = batch.findings().collect();
    let inspector = found[0];
    assert_eq!(inspector.source(), FindingSource::SecurityHub);
    assert_eq!(inspector.product(), Some("Inspector"));
    assert_eq!(
        inspector.finding_type().as_str(),
        "Software and Configuration Checks/Vulnerabilities/CVE"
    );
    assert!(!inspector.finding_type().is_guardduty());
    assert_eq!(inspector.instance_ids(), ["i-0abcdef1234567890"]);
    let guardduty = found[1];
    assert_eq!(guardduty.source(), FindingSource::GuardDuty);
    assert_eq!(guardduty.product(), Some("GuardDuty"));
    assert_eq!(guardduty.id(), "b4c7e2a19f3d8e6a5b2c1d0e9f8a7b6c");

    let batch = parse_documents(&read("asff-other-product-only.json"), "other.json");
    assert!(batch.is_ok());
    let f = batch.findings().next().unwrap();
    assert_eq!(f.source(), FindingSource::SecurityHub);
    assert_eq!(f.severity().value(), 7.0);
    assert_eq!(f.title(), "CVE-2024-0001 - openssl");
    assert_eq!(f.account_id(), "123456789012");
}

struct Family {
    file: &'static str,
    finding_type: &'static str,
    resource_type: &'static str,
    check: fn(&Finding),
}

const FAMILIES: &[Family] = &[
    Family {
        file: "families/ec2-backdoor-cc-dns.json",
        finding_type: "Backdoor:EC2/C&CActivity.B!DNS",
        resource_type: "Instance",
        check: |f| {
            assert!(f.resource().kind() == &ResourceKind::Instance);
            assert_eq!(f.instance_id(), Some("i-0abcdef1234567890"));
            assert_eq!(f.instance_ids(), vec!["i-0abcdef1234567890"]);
            let tags: Vec<(&str, &str)> = f
                .instance_tags()
                .iter()
                .map(|t| (t.key.as_str(), t.value.as_str()))
                .collect();
            assert_eq!(tags, vec![("Name", "web-1"), ("Environment", "production")]);
            assert_eq!(f.finding_type().artifact(), Some("DNS"));
            assert!(
                matches!(f.action(), ServiceAction::DnsRequest(d) if d.domain.as_deref() == Some("c2.example.com"))
            );
            assert_eq!(f.remote_ip(), None);
            assert_eq!(f.threat_list_name(), Some("ProofPoint"));
            assert_eq!(f.severity().band(), SeverityBand::High);
        },
    },
    Family {
        file: "families/s3-bucket-malicious-ip.json",
        finding_type: "Discovery:S3/MaliciousIPCaller",
        resource_type: "S3Bucket",
        check: |f| {
            assert_eq!(f.bucket_names(), vec!["example-reports-bucket"]);
            assert_eq!(f.user_name(), Some("data-pipeline"));
            assert_eq!(f.api(), Some("ListObjects"));
            assert_eq!(f.remote_country(), Some("Brazil"));
        },
    },
    Family {
        file: "families/eks-malicious-ip.json",
        finding_type: "Discovery:Kubernetes/MaliciousIPCaller",
        resource_type: "EKSCluster",
        check: |f| {
            assert_eq!(f.resource().kind(), &ResourceKind::EksCluster, "not EKS");
            let d = f.resource().details();
            assert_eq!(
                d.eks_cluster.as_ref().unwrap().name.as_deref(),
                Some("prod-cluster")
            );
            assert!(
                matches!(f.action(), ServiceAction::KubernetesApiCall(k) if k.verb.as_deref() == Some("list"))
            );
            assert_eq!(f.remote_ip(), Some("203.0.113.91".parse().unwrap()));
            assert_eq!(f.api(), None);
        },
    },
    Family {
        file: "families/ecs-cluster-malicious-file.json",
        finding_type: "Execution:ECS/MaliciousFile",
        resource_type: "ECSCluster",
        check: |f| {
            assert_eq!(f.resource().kind(), &ResourceKind::EcsCluster, "not ECS");
            let d = f.resource().details();
            assert_eq!(
                d.ecs_cluster.as_ref().unwrap().name.as_deref(),
                Some("payments-cluster")
            );
            assert_eq!(f.resource_role(), None);
            assert_eq!(
                f.json()["resource"]["ecsClusterDetails"]["taskDetails"]["containers"][0]["name"],
                "api"
            );
        },
    },
    Family {
        file: "families/container-suspicious-file.json",
        finding_type: "Execution:Container/SuspiciousFile",
        resource_type: "Container",
        check: |f| {
            assert_eq!(
                f.resource().kind(),
                &ResourceKind::Container,
                "not a container"
            );
            let d = f.resource().details();
            assert_eq!(
                d.container.as_ref().unwrap().image.as_deref(),
                Some("nginx:1.25")
            );
            assert_eq!(f.instance_id(), Some("i-0abcdef1234567890"));
            assert_eq!(f.action(), &ServiceAction::None);
            assert_eq!(f.action_type(), None);
        },
    },
    Family {
        file: "families/lambda-cc-activity.json",
        finding_type: "Backdoor:Lambda/C&CActivity.B",
        resource_type: "Lambda",
        check: |f| {
            assert_eq!(f.resource().kind(), &ResourceKind::Lambda, "not lambda");
            let d = f.resource().details();
            assert_eq!(
                d.lambda.as_ref().unwrap().name.as_deref(),
                Some("resize-images")
            );
            assert_eq!(f.resource_role(), Some("ACTOR"));
            let ServiceAction::NetworkConnection(n) = f.action() else {
                panic!("not a connection")
            };
            assert_eq!(n.remote_port_details.as_ref().unwrap().port, Some(443));
            assert_eq!(f.shape(), Shape::Eventbridge);
        },
    },
    Family {
        file: "families/rds-successful-login.json",
        finding_type: "CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin",
        resource_type: "RDSDBInstance",
        check: |f| {
            assert_eq!(f.resource().kind(), &ResourceKind::RdsDbInstance, "not RDS");
            let d = f.resource().details();
            assert_eq!(
                d.rds_db_instance.as_ref().unwrap().name.as_deref(),
                Some("orders-db")
            );
            assert!(matches!(f.action(), ServiceAction::RdsLoginAttempt(_)));
            assert_eq!(f.remote_ip(), Some("198.51.100.61".parse().unwrap()));
        },
    },
    Family {
        file: "families/recon-iamuser-malicious-ip.json",
        finding_type: "Recon:IAMUser/MaliciousIPCaller",
        resource_type: "AccessKey",
        check: |f| {
            assert_eq!(f.user_name(), Some("ci-deployer"));
            assert_eq!(f.api(), Some("ListUsers"));
            assert!(f.type_matches(&TypeGlob::new("Recon:IAMUser/*")));
        },
    },
    Family {
        file: "families/ssh-bruteforce-target.json",
        finding_type: "UnauthorizedAccess:EC2/SSHBruteForce",
        resource_type: "Instance",
        check: |f| {
            assert_eq!(f.resource_role(), Some("TARGET"));
            assert_eq!(f.remote_ip(), Some("203.0.113.5".parse().unwrap()));
            let ServiceAction::NetworkConnection(n) = f.action() else {
                panic!("not a connection")
            };
            assert_eq!(n.connection_direction.as_deref(), Some("INBOUND"));
            assert_eq!(n.local_port_details.as_ref().unwrap().port, Some(22));
            assert_eq!(f.severity().band(), SeverityBand::Low);
        },
    },
    Family {
        file: "families/ssh-bruteforce-actor.json",
        finding_type: "UnauthorizedAccess:EC2/SSHBruteForce",
        resource_type: "Instance",
        check: |f| {
            assert_eq!(f.resource_role(), Some("ACTOR"));
            assert_eq!(f.instance_id(), Some("i-0fedcba9876543210"));
            assert_eq!(f.remote_ip(), Some("198.51.100.140".parse().unwrap()));
            let ServiceAction::NetworkConnection(n) = f.action() else {
                panic!("not a connection")
            };
            assert_eq!(n.connection_direction.as_deref(), Some("OUTBOUND"));
        },
    },
    Family {
        file: "families/instance-credential-exfiltration.json",
        finding_type: "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
        resource_type: "AccessKey",
        check: |f| {
            assert_eq!(f.access_key_id(), Some("ASIAIOSFODNN7EXAMPLE"));
            assert_eq!(f.user_type(), Some("AssumedRole"));
            assert_eq!(f.user_name(), Some("web-server-role"));
            assert_eq!(
                f.principal_id(),
                Some("AROADBQP57FF2AEXAMPLE:i-0abcdef1234567890")
            );
            assert_eq!(f.finding_type().detection_mechanism(), Some("OutsideAWS"));
        },
    },
];

#[test]
fn one_finding_per_resource_family() {
    for fam in FAMILIES {
        let f = one(fam.file);
        assert_eq!(f.finding_type().as_str(), fam.finding_type, "{}", fam.file);
        assert_eq!(f.resource_type(), fam.resource_type, "{}", fam.file);
        assert_eq!(
            f.resource().resource_type(),
            fam.resource_type,
            "{}",
            fam.file
        );
        assert!(!f.is_sample(), "{}", fam.file);
        (fam.check)(&f);
    }
}

#[test]
fn demo_findings_parse_and_are_not_samples() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/findings");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let f = Finding::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(f.shape(), Shape::Eventbridge, "{}", path.display());
        assert!(!f.is_sample(), "{}", path.display());
        assert_eq!(f.account_id(), "123456789012");
        n += 1;
    }
    assert!((5..=7).contains(&n), "{n} demo findings");
}

#[test]
fn json_lines_stream_reports_the_bad_line_and_keeps_going() {
    let batch = parse_documents(&read("stream.jsonl"), "stream.jsonl");
    assert_eq!(batch.len(), 4);
    assert_eq!(batch.findings().count(), 3);
    let err = batch.errors().next().unwrap();
    assert_eq!(err.line(), Some(3));
    assert_eq!(err.path(), "$.detail.type");
    assert_eq!(
        err.to_string(),
        "`stream.jsonl` line 3: at `$.detail.type`: expected a finding type string, found nothing"
    );
}

#[test]
fn json_lines_stream_with_malformed_lines_keeps_the_good_ones() {
    let raw: serde_json::Value =
        serde_json::from_slice(&read("iam/malicious-ip-custom.raw.json")).unwrap();
    let line = serde_json::to_string(&raw).unwrap();
    // A truncated line in the middle and one at the end (a writer killed mid-record).
    let text = format!("{line}\n{{\"broken\":\n\n{line}\n{{\"id\": \"x\", ");
    let batch = parse_documents(text.as_bytes(), "cut.jsonl");
    assert_eq!(batch.len(), 4);
    assert_eq!(batch.findings().count(), 2);
    let lines: Vec<Option<u64>> = batch.errors().map(|e| e.line()).collect();
    assert_eq!(lines, vec![Some(2), Some(5)]);
    let first = batch.errors().next().unwrap().to_string();
    assert!(
        first.starts_with("`cut.jsonl` line 2: invalid JSON"),
        "{first}"
    );
}

#[test]
fn arrays_of_documents_of_mixed_shapes() {
    let raw: serde_json::Value =
        serde_json::from_slice(&read("iam/malicious-ip-custom.raw.json")).unwrap();
    let eb: serde_json::Value =
        serde_json::from_slice(&read("families/lambda-cc-activity.json")).unwrap();
    let asff: serde_json::Value =
        serde_json::from_slice(&read("iam/malicious-ip-custom.asff.json")).unwrap();
    let doc = serde_json::to_vec(&serde_json::json!([raw, eb, asff])).unwrap();
    let batch = parse_documents(&doc, "array.json");
    let shapes: Vec<Shape> = batch.findings().map(Finding::shape).collect();
    assert_eq!(shapes, vec![Shape::Raw, Shape::Eventbridge, Shape::Asff]);
    // The canonical JSON of an element comes from its own place in the document.
    assert_eq!(
        batch.findings().nth(1).unwrap().json()["type"],
        "Backdoor:Lambda/C&CActivity.B"
    );
    // A value works as well as text.
    let f = Finding::from_json_value(eb).unwrap();
    assert_eq!(f.resource_type(), "Lambda");
    assert_eq!(
        f.json()["resource"]["lambdaDetails"]["functionName"],
        "resize-images"
    );
    assert!(Finding::from_json_value(serde_json::json!([raw.clone(), raw])).is_err());
}
