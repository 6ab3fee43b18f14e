//! Findings of every source: attack sequences (repository fixtures), Security Hub products, OCSF
//! and malware scans (the shared corpus, read in place), unknown sources read generically;
//! `const SOURCES`; scope over an attack sequence's actors; and property tests that a finding of
//! one source never reads as another.

mod products;
mod spoof;

use std::path::{Path, PathBuf};

use remedy::finding::{FindingSource, Shape};
use remedy::plan::{Action, FindingContext, IamPrincipal, QuarantinePrincipal};
use remedy::{Finding, PolicySet, parse_documents};
use serde_json::{Value, json};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn one(path: &Path) -> Finding {
    let bytes = std::fs::read(path).unwrap();
    let batch = parse_documents(&bytes, &path.display().to_string());
    if let Some(e) = batch.errors().next() {
        panic!("{e}");
    }
    let found: Vec<Finding> = batch.findings().cloned().collect();
    assert_eq!(found.len(), 1, "{}", path.display());
    found.into_iter().next().unwrap()
}

fn corpus(rel: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("REMEDY_SHARED_FINDINGS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/findings")),
    };
    let path = dir.join(rel);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("{rel}: not in the shared corpus; test skipped");
        None
    }
}

#[test]
fn an_attack_sequence_is_typed_with_its_actors_resources_endpoints_signals_indicators() {
    let f = one(&fixture("sequence/iam-compromised-credentials.json"));
    assert_eq!(f.source(), FindingSource::GuardDuty);
    assert_eq!(
        f.finding_type().as_str(),
        "AttackSequence:IAM/CompromisedCredentials"
    );
    assert_eq!(f.resource_type(), "AttackSequence");
    assert_eq!(f.severity().value(), 9.0);
    let seq = f.sequence().unwrap();
    assert_eq!(seq.actors.len(), 2);
    let user = seq.actors[0].user.as_ref().unwrap();
    assert_eq!(user.name.as_deref(), Some("build-bot"));
    assert_eq!(user.user_type.as_deref(), Some("IAMUser"));
    assert_eq!(user.credential_uid.as_deref(), Some("AKIAIOSFODNN7EXAMPLE"));
    let session = seq.actors[1].session.as_ref().unwrap();
    assert_eq!(
        session.issuer.as_deref(),
        Some("arn:aws:iam::123456789012:role/deploy-role")
    );
    assert!(session.created_time.is_some());
    assert_eq!(seq.resources.len(), 3);
    let key = seq.resources[0].data.as_ref().unwrap().access_key.as_ref();
    assert_eq!(key.unwrap().user_name.as_deref(), Some("build-bot"));
    assert_eq!(seq.resources[1].tags[0].value, "production");
    let endpoint = &seq.endpoints[0];
    assert_eq!(endpoint.ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(
        endpoint
            .autonomous_system
            .as_ref()
            .unwrap()
            .number
            .as_deref(),
        Some("64500")
    );
    assert_eq!(seq.signals.len(), 4);
    assert_eq!(seq.signals[0].severity, Some(5.0));
    assert_eq!(seq.signals[0].actor_ids, ["actor-build-bot"]);
    assert_eq!(seq.sequence_indicators.len(), 4);
    assert_eq!(seq.sequence_indicators[3].values.len(), 3);
    // The sequence's instances and buckets are the finding's.
    assert_eq!(f.instance_ids(), ["i-0a1b2c3d4e5f67890"]);
    assert_eq!(f.bucket_names(), ["example-build-artifacts"]);
    // The canonical JSON is the document's.
    assert_eq!(
        f.json()["service"]["detection"]["sequence"]["actors"][1]["user"]["name"],
        "deploy-role"
    );

    let f = one(&fixture("sequence/s3-compromised-data.raw.json"));
    let seq = f.sequence().unwrap();
    assert_eq!(f.shape(), Shape::Raw);
    assert_eq!(seq.signals[0].severity, Some(5.0), "a number as a string");
    assert_eq!(seq.signals[0].count, Some(2.0));
    let object = seq.resources[1].data.as_ref().unwrap().s3_object.as_ref();
    assert_eq!(object.unwrap().key.as_deref(), Some("2025/02/export.csv"));
    assert_eq!(f.bucket_names(), ["example-customer-exports"]);
}

#[test]
fn the_policy_fixture_is_the_repository_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(
        std::fs::read(root.join("policies/tests/findings/attack-sequence-iam-credentials.json"))
            .unwrap(),
        std::fs::read(fixture("sequence/iam-compromised-credentials.json")).unwrap()
    );
}

#[test]
fn a_sequence_names_its_actors_for_the_scope_rule() {
    let f = one(&fixture("sequence/iam-compromised-credentials.json"));
    let context = FindingContext::from(&f);
    assert!(context.principal.is_none(), "the resource names nobody");
    assert_eq!(
        context.actors.len(),
        2,
        "two actors; the access-key resource is the first again"
    );
    let names: Vec<&str> = context.names().collect();
    for name in [
        "build-bot",
        "AKIAIOSFODNN7EXAMPLE",
        "deploy-role",
        "i-0a1b2c3d4e5f67890",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let quarantine = |principal| Action::QuarantinePrincipal(QuarantinePrincipal { principal });
    let user = |n: &str| IamPrincipal::User(n.parse().unwrap());
    let role = |n: &str| IamPrincipal::Role(n.parse().unwrap());
    assert_eq!(quarantine(user("build-bot")).out_of_scope(&context), None);
    assert_eq!(quarantine(role("deploy-role")).out_of_scope(&context), None);
    // Kinds are kept: the user is no role, the role no user; others are refused.
    assert!(
        quarantine(role("build-bot"))
            .out_of_scope(&context)
            .is_some()
    );
    assert!(
        quarantine(user("deploy-role"))
            .out_of_scope(&context)
            .is_some()
    );
    assert!(quarantine(user("alice")).out_of_scope(&context).is_some());
}

#[test]
fn security_hub_products_are_findings_of_source_securityhub() {
    if let Some(path) = corpus(
        "asff-products/Inspector-ECR-PackageVulnerability__cloud-custodian-placebo-ecr-image-filter.json",
    ) {
        let f = one(&path);
        assert_eq!(f.source(), FindingSource::SecurityHub);
        assert_eq!(f.product(), Some("Inspector"));
        assert_eq!(f.shape(), Shape::Asff);
        assert_eq!(
            f.id(),
            "arn:aws:inspector2:us-east-1:644160558196:finding/3371dd4acbb7041a1feb7a7f82c1d20e"
        );
        assert_eq!(
            f.finding_type().as_str(),
            "Software and Configuration Checks/Vulnerabilities/CVE"
        );
        assert_eq!(f.severity().value(), 9.0);
        assert_eq!(f.account_id(), "644160558196");
        assert_eq!(f.region(), "us-east-1");
        let v = &f.vulnerabilities()[0];
        assert_eq!(v.id.as_deref(), Some("CVE-2021-44228"));
        assert_eq!(v.packages.len(), 2);
        assert_eq!(
            v.packages[1].name.as_deref(),
            Some("org.apache.logging.log4j:log4j-core")
        );
        assert_eq!(v.packages[1].version.as_deref(), Some("2.14.1"));
        assert_eq!(v.cvss_score, Some(10.0));
        assert_eq!(v.vendor_severity.as_deref(), Some("CRITICAL"));
        let r = &f.product_resources()[0];
        assert_eq!(r.resource_type.as_deref(), Some("AwsEcrContainerImage"));
        assert!(f.compliance().is_none());
        assert_eq!(f.json()["Vulnerabilities"][0]["Id"], "CVE-2021-44228");
    }
    if let Some(path) =
        corpus("asff-products/SecurityHub-PCI-Config.1-FAILED__ocsf-examples-sechub-pci.json")
    {
        let f = one(&path);
        assert_eq!(f.source(), FindingSource::SecurityHub);
        assert_eq!(f.product(), Some("Security Hub"));
        assert_eq!(
            f.severity().value(),
            4.0,
            "Normalized 40; Product 40 is out of range"
        );
        let c = f.compliance().unwrap();
        assert_eq!(c.status.as_deref(), Some("FAILED"));
        assert_eq!(c.control_id.as_deref(), Some("Config.1"));
        assert_eq!(c.standards, ["standards/pci-dss/v/3.2.1"]);
        assert_eq!(c.related_requirements, ["PCI DSS 10.5.2", "PCI DSS 11.5"]);
    }
    if let Some(path) = corpus(
        "asff-products/SecurityHub-FSBP-EC2.7-FAILED-sechub-event__automated-security-response-afsbp-ec2.7.json",
    ) {
        let f = one(&path);
        assert_eq!(f.source(), FindingSource::SecurityHub);
        assert_eq!(f.shape(), Shape::Asff);
        assert_eq!(
            f.envelope().unwrap().detail_type.as_deref(),
            Some("Security Hub Findings - Imported")
        );
        assert_eq!(f.severity().value(), 0.0, "INFORMATIONAL, Product 0");
        let c = f.compliance().unwrap();
        assert_eq!(c.control_id.as_deref(), Some("EC2.7"), "from ProductFields");
    }
    if let Some(path) = corpus(
        "asff-products/SecurityHub-FSBP-RDS.1-FAILED-custom-action-event__automated-security-response-afsbp-rds1.json",
    ) {
        let f = one(&path);
        assert_eq!(f.source(), FindingSource::SecurityHub);
        assert_eq!(
            f.finding_type().as_str(),
            "Effects/Data Exposure/AWS-Foundational-Security-Best-Practices"
        );
        assert_eq!(f.severity().value(), 9.0);
        assert_eq!(f.compliance().unwrap().status.as_deref(), Some("FAILED"));
    }
}

#[test]
fn ocsf_findings_of_classes_2002_2003_2004() {
    if let Some(path) =
        corpus("ocsf/VulnerabilityFinding-2002-Inspector-CVE__ocsf-examples-inspector.json")
    {
        let f = one(&path);
        assert_eq!(f.source(), FindingSource::Ocsf);
        assert_eq!(f.shape(), Shape::Ocsf);
        assert_eq!(f.product(), Some("Inspector"));
        assert_eq!(
            f.id(),
            "arn:aws:inspector2:us-east-2:111111111111:finding/faa0d54609b94871badcc83ac7c2add5"
        );
        assert_eq!(
            f.severity().value(),
            5.0,
            "severity_id 3: Medium's typical severity"
        );
        assert_eq!(f.account_id(), "111111111111");
        assert_eq!(f.region(), "us-east-2");
        assert_eq!(f.partition(), "aws");
        assert_eq!(f.title(), "CVE-2023-1255 - openssl");
        let v = &f.vulnerabilities()[0];
        assert_eq!(v.id.as_deref(), Some("CVE-2023-1255"));
        assert_eq!(v.fix_available.as_deref(), Some("YES"));
        assert_eq!(v.exploit_available.as_deref(), Some("YES"));
        assert_eq!(v.cvss_score, Some(5.9));
        assert_eq!(v.epss_score, Some(0.00066));
        let p = &v.packages[0];
        assert_eq!(p.name.as_deref(), Some("openssl"));
        assert_eq!(p.fixed_in_version.as_deref(), Some("0:3.0.8-r4"));
        assert_eq!(
            p.remediation.as_deref(),
            Some("apk update && apk upgrade openssl")
        );
        assert!(f.created_at().is_some() && f.updated_at().is_some());
    }
    if let Some(path) = corpus(
        "ocsf/ComplianceFinding-2003-SecurityHub-PCI-Config.1__ocsf-examples-sechub-pci.json",
    ) {
        let f = one(&path);
        assert_eq!(f.source(), FindingSource::Ocsf);
        let c = f.compliance().unwrap();
        assert_eq!(c.status.as_deref(), Some("FAILED"));
        assert_eq!(c.control_id.as_deref(), Some("Config.1"));
        assert_eq!(c.related_requirements.len(), 2);
        assert_eq!(
            f.product_resources()[0].id.as_deref(),
            Some("AWS::::Account:111111111111")
        );
    }
    if let Some(path) = corpus(
        "ocsf/DetectionFinding-2004-GuardDuty-CloudTrailLoggingDisabled__ocsf-examples-sechub-guardduty.json",
    ) {
        let f = one(&path);
        assert_eq!(f.source(), FindingSource::Ocsf, "OCSF, even of GuardDuty");
        assert_eq!(f.product(), Some("GuardDuty"));
        // GuardDuty's type as Security Hub writes it reads in GuardDuty's form.
        assert_eq!(
            f.finding_type().as_str(),
            "Stealth:IAMUser/CloudTrailLoggingDisabled"
        );
        assert_eq!(f.severity().value(), 2.0, "severity_id 2: Low");
        // `resources[].data` is ASFF's Details: the access key and its principal.
        assert_eq!(f.access_key_id(), Some("ASIATMJPC7EXAMPLE"));
        assert_eq!(f.user_name(), Some("Admin"));
        assert_eq!(f.user_type(), Some("AssumedRole"));
        // The first evidence is the action: the API called and from where.
        assert_eq!(f.api(), Some("DeleteTrail"));
        assert_eq!(f.api_service(), Some("cloudtrail.amazonaws.com"));
        assert_eq!(f.remote_ip(), Some("52.94.133.131".parse().unwrap()));
        assert_eq!(f.remote_country(), Some("United States"));
        assert_eq!(f.action_type(), Some("AWS_API_CALL"));
    }
}

#[test]
fn ocsf_in_a_findings_imported_v2_event_and_an_unknown_class() {
    let record = json!({
        "class_uid": 2004, "class_name": "Detection Finding", "severity_id": 4,
        "cloud": {"account": {"uid": "123456789012"}, "region": "eu-west-1"},
        "finding_info": {"uid": "f-1", "title": "Something seen", "types": ["Custom/Thing"]},
        "metadata": {"product": {"name": "Example Product"}},
        "resources": [{"type": "AwsEc2Instance", "uid": "arn:aws:ec2:eu-west-1:123456789012:instance/i-0123456789abcdef0"}]
    });
    let mut unknown_class = record.clone();
    unknown_class["class_uid"] = json!(2099);
    unknown_class["finding_info"]["uid"] = json!("f-2");
    let event = json!({
        "version": "0", "id": "e-1", "detail-type": "Findings Imported V2",
        "source": "aws.securityhub", "account": "123456789012", "region": "eu-west-1",
        "detail": {"findings": [record, unknown_class]}
    });
    let batch = parse_documents(event.to_string().as_bytes(), "v2.json");
    assert!(batch.is_ok(), "{:?}", batch.errors().next());
    let found: Vec<&Finding> = batch.findings().collect();
    assert_eq!(found.len(), 2);
    for f in &found {
        assert_eq!(f.source(), FindingSource::Ocsf);
        assert_eq!(f.shape(), Shape::Ocsf);
        assert_eq!(f.severity().value(), 8.0, "severity_id 4: High");
        assert_eq!(f.instance_ids(), ["i-0123456789abcdef0"]);
        assert_eq!(
            f.envelope().unwrap().detail_type.as_deref(),
            Some("Findings Imported V2")
        );
    }
    assert_eq!(found[1].id(), "f-2");
    assert_eq!(found[1].finding_type().as_str(), "Custom/Thing");
}

#[test]
fn a_malware_scan_result_is_a_finding() {
    let Some(path) =
        corpus("malware/S3-ObjectScanResult-THREATS_FOUND__terraform-aws-notify-slack.json")
    else {
        return;
    };
    let f = one(&path);
    assert_eq!(f.source(), FindingSource::GuardDutyMalwareScan);
    assert_eq!(f.product(), Some("GuardDuty"));
    assert_eq!(f.id(), "72c7d362-737a-6dce-fc78-9e27a0171419");
    assert_eq!(
        f.finding_type().as_str(),
        "MalwareScan:S3Object/THREATS_FOUND"
    );
    assert_eq!(f.severity().value(), 8.0);
    assert_eq!(f.account_id(), "111122223333");
    assert_eq!(f.bucket_names(), ["amzn-s3-demo-bucket"]);
    let scan = f.malware_scan().unwrap();
    assert_eq!(scan.scan_status.as_deref(), Some("COMPLETED"));
    assert_eq!(scan.result_status.as_deref(), Some("THREATS_FOUND"));
    assert_eq!(scan.key.as_deref(), Some("APKAEIBAERJR2EXAMPLE"));
    assert_eq!(
        scan.version_id.as_deref(),
        Some("d41d8cd98f00b204e9800998eEXAMPLE")
    );
    assert_eq!(scan.threats, ["EICAR-Test-File (not a virus)"]);
    // No threat: the lowest severity.
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    doc["detail"]["scanResultDetails"] = json!({"scanResultStatus": "NO_THREATS_FOUND"});
    let f = Finding::from_json_value(doc).unwrap();
    assert_eq!(f.severity().value(), 0.0);
    assert_eq!(
        f.finding_type().as_str(),
        "MalwareScan:S3Object/NO_THREATS_FOUND"
    );
}

#[test]
fn an_unknown_event_is_read_generically_or_refused_never_dropped() {
    let event = json!({
        "version": "0", "id": "e-2", "detail-type": "Example Alert", "source": "example.vendor",
        "account": "123456789012", "region": "us-west-2",
        "detail": {"id": "alert-7", "type": "Suspicious Login", "severity": "HIGH", "title": "t"}
    });
    let f = Finding::from_json_value(event).unwrap();
    assert_eq!(f.source(), FindingSource::Other);
    assert_eq!(f.product(), Some("example.vendor"));
    assert_eq!(f.id(), "alert-7");
    assert_eq!(f.finding_type().as_str(), "Suspicious Login");
    assert_eq!(f.severity().value(), 8.0);
    assert_eq!(f.account_id(), "123456789012");
    let not_a_finding = json!({"detail-type": "Example Alert", "source": "x", "detail": {"n": 1}});
    let batch = parse_documents(not_a_finding.to_string().as_bytes(), "x.json");
    let e = batch.errors().next().unwrap();
    assert!(e.to_string().contains("`Example Alert`"), "{e}");
}

#[test]
fn a_policy_sees_guardduty_only_unless_it_declares_sources() {
    let policy = |sources: &str| {
        format!(
            "const DESCRIPTION = \"d\";\nconst APPLIES_TO = \"*\";\n{sources}\nfn decide(finding) {{ notify(\"security\", `${{finding.source}} ${{finding.product}}`) }}\n"
        )
    };
    let set = PolicySet::from_sources([
        ("default", policy("")),
        (
            "products",
            policy("const SOURCES = [\"securityhub\", \"ocsf\"];"),
        ),
        ("all", policy("const SOURCES = \"*\";")),
    ])
    .unwrap();
    let inspector = {
        let bytes = std::fs::read(fixture("asff-other-product-only.json")).unwrap();
        let batch = parse_documents(&bytes, "x");
        batch.findings().next().unwrap().clone()
    };
    let plan = set.evaluate(&inspector);
    let names: Vec<&str> = plan.evaluated.iter().map(|p| &**p).collect();
    assert_eq!(names, ["products", "all"]);
    let Action::Notify(n) = &plan.actions[0].action else {
        panic!("{:?}", plan.actions)
    };
    assert_eq!(n.message, "securityhub Inspector");
    assert_eq!(plan.finding.source, FindingSource::SecurityHub);
    let why = set.explain(&inspector, &plan);
    assert!(
        why[0]
            .to_string()
            .contains("the finding is from `securityhub`, the policy sees `guardduty`"),
        "{}",
        why[0]
    );
    let gd = one(&fixture("sequence/iam-compromised-credentials.json"));
    let plan = set.evaluate(&gd);
    let names: Vec<&str> = plan.evaluated.iter().map(|p| &**p).collect();
    assert_eq!(names, ["default", "all"]);
    let err =
        PolicySet::from_sources([("bad", policy("const SOURCES = [\"inspector\"];"))]).unwrap_err();
    assert!(
        err.to_string()
            .contains("`inspector` is not a finding source"),
        "{err}"
    );
}

#[test]
fn check_warns_when_a_policy_reads_what_its_sources_never_fill() {
    let source = "const DESCRIPTION = \"d\";\nconst APPLIES_TO = \"*\";\n\
                  fn decide(finding) { if finding.vulnerabilities.is_empty() { () } else { () } }\n";
    let set = PolicySet::from_sources([("p", source)]).unwrap();
    let warning = set
        .warnings()
        .iter()
        .find(|w| w.message().contains("finding.vulnerabilities"))
        .unwrap_or_else(|| panic!("{:?}", set.warnings()));
    assert!(
        warning
            .message()
            .contains("securityhub, ocsf findings only")
            && warning.message().contains("sees guardduty findings"),
        "{warning}"
    );
    assert_eq!(warning.line(), Some(3));
    let with_sources = source.replace("fn decide", "const SOURCES = \"securityhub\";\nfn decide");
    let set = PolicySet::from_sources([("p", with_sources.as_str())]).unwrap();
    assert!(set.warnings().is_empty(), "{:?}", set.warnings());
    // A typo of a source-only property says which sources fill it.
    let typo = source.replace("vulnerabilities", "vulnerabilites");
    let err = PolicySet::from_sources([("p", typo.as_str())]).unwrap_err();
    let d = &err.diagnostics()[0];
    assert!(
        d.help().is_some_and(
            |h| h.contains("`vulnerabilities` (filled for securityhub, ocsf findings)")
        ),
        "{d:?}"
    );
}

#[test]
fn a_plan_of_another_source_round_trips() {
    let bytes = std::fs::read(fixture("asff-other-product-only.json")).unwrap();
    let batch = parse_documents(&bytes, "x");
    let f = batch.findings().next().unwrap();
    let context = FindingContext::from(f);
    let json = serde_json::to_value(&context).unwrap();
    assert_eq!(json["source"], "securityhub");
    assert_eq!(json["product"], "Inspector");
    assert_eq!(
        json["finding_type"],
        "Software and Configuration Checks/Vulnerabilities/CVE"
    );
    let back: FindingContext = serde_json::from_value(json).unwrap();
    assert_eq!(back, context);
    // A GuardDuty finding's context says nothing of its source: plans keep their bytes.
    let gd = one(&fixture("sequence/iam-compromised-credentials.json"));
    let json = serde_json::to_value(FindingContext::from(&gd)).unwrap();
    assert!(json.get("source").is_none() && json.get("product").is_none());
    assert_eq!(json["actors"][1]["user_name"], "deploy-role");
}

#[test]
fn every_sample_beyond_guardduty_parses_as_its_source() {
    let Some(root) = corpus("README.md").and_then(|p| p.parent().map(Path::to_path_buf)) else {
        return;
    };
    let mut files = 0;
    for (dir, source) in [
        ("asff-products", FindingSource::SecurityHub),
        ("ocsf", FindingSource::Ocsf),
        ("malware", FindingSource::GuardDutyMalwareScan),
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let f = one(&path);
                assert_eq!(f.source(), source, "{}", path.display());
                assert!(!f.id().is_empty() && !f.account_id().is_empty());
                assert!(f.product().is_some(), "{}", path.display());
                assert!(f.json().is_object(), "{}", path.display());
                files += 1;
            }
        }
    }
    assert!(files >= 8, "{files} files");
}

#[test]
fn runtime_kubernetes_ecs_rds_and_lambda_findings_have_their_typed_details() {
    let script = "const DESCRIPTION = \"d\";\nconst APPLIES_TO = \"*\";\n\
        fn decide(finding) { notify(\"security\", `${finding.process?.name}|${finding.process?.pid}|\
        ${finding.container?.id}|${finding.kubernetes?.user_name}|${finding.kubernetes?.user_groups}|\
        ${finding.cluster_name}|${finding.function_name}|${finding.db_instance_id}`) }\n";
    let set = PolicySet::from_sources([("p", script)]).unwrap();
    let said = |f: &Finding| match &set.evaluate(f).actions[0].action {
        Action::Notify(n) => n.message.clone(),
        other => panic!("{other:?}"),
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lambda = one(&root.join("policies/tests/findings/lambda-cc-activity.json"));
    assert_eq!(lambda.function_name(), Some("resize-images"));
    assert_eq!(said(&lambda), "||||||resize-images|");
    let cases = [
        (
            "raw/PrivilegeEscalation-Runtime-DockerSocketAccessed__elastic-integrations-test-guardduty-log.json",
            "sshd|2345|abcd1234|||||",
        ),
        (
            "raw/Persistence-Kubernetes-SuccessfulAnonymousAccess__elastic-integrations-test-guardduty-log.json",
            "|||system:anonymous|[\"system:unauthenticated\"]|GeneratedFindingEKSClusterName||",
        ),
        (
            "raw/Execution-ECS-MaliciousFile__SEKOIA-intake-formats-event-ecscluster.json",
            "",
        ),
        (
            "raw/CredentialAccess-RDS-AnomalousBehavior.SuccessfulLogin__elastic-integrations-test-guardduty-log.json",
            "|||||||GeneratedFindingDBInstanceId",
        ),
    ];
    for (rel, want) in cases {
        let Some(path) = corpus(rel) else { continue };
        let f = one(&path);
        if rel.contains("ECS") {
            assert_eq!(f.cluster_name(), Some("GeneratedFindingECSClusterName"));
            continue;
        }
        assert_eq!(said(&f), want, "{rel}");
    }
    if let Some(path) = corpus(cases[0].0) {
        let p = one(&path).process().cloned().unwrap();
        assert_eq!(p.executable_path.as_deref(), Some("/usr/bin/ssh"));
        assert_eq!(p.user.as_deref(), Some("admin"));
    }
}
