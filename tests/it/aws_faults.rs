//! The AWS executors with the endpoint down (a closed loopback port) or hanging (a listener that
//! never answers): every action ends in a recorded failed outcome, nothing is lost, nothing panics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use remedy::aws::{AwsSettings, router};
use remedy::id::{AccessKeyId, InstanceId, UserName};
use remedy::plan::{DisableAccessKey, Notify, RunCommand, Source};
use remedy::store::audit::MemoryAudit;
use remedy::testing::context;
use remedy::{Action, Config, ErrorKind, Plan, Remediator};

fn plan() -> Plan {
    let finding = context("f-down", "UnauthorizedAccess:IAMUser/MaliciousIPCaller").unwrap();
    let mut plan = Plan::new(finding, "");
    plan.evaluated = vec!["p".into()];
    let source = Source {
        policy: "p".into(),
        version: "v".into(),
        reason: None,
        line: None,
    };
    for action in [
        Action::DisableAccessKey(DisableAccessKey {
            user_name: UserName::new("alice").unwrap(),
            access_key_id: AccessKeyId::new("AKIAIOSFODNN7EXAMPLE").unwrap(),
        }),
        Action::RunCommand(RunCommand {
            document: "AWS-RunShellScript".into(),
            instance_ids: vec![InstanceId::new("i-0123456789abcdef0").unwrap()],
            parameters: Default::default(),
        }),
        Action::Notify(Notify {
            channel: "security".into(),
            message: "hello".into(),
        }),
    ] {
        plan.push(action, source.clone());
    }
    plan
}

async fn run_against(url: &str) -> (remedy::Report, MemoryAudit, Duration) {
    let config = Config::from_toml_str(
        "[notify.channels]\nsecurity = \"arn:aws:sns:us-east-1:123456789012:alerts\"\n",
    )
    .unwrap();
    let settings = AwsSettings::default()
        .with_endpoint_url(url)
        .with_region("us-east-1")
        .with_static_credentials("testing", "testing")
        .with_timeouts(Duration::from_secs(3), Duration::from_millis(500))
        .with_max_attempts(2);
    let audit = MemoryAudit::new();
    let remediator = Remediator::builder(Arc::new(router(&config, &settings).await))
        .with_audit(Arc::new(audit.clone()))
        .enforce(true)
        .build();
    let start = Instant::now();
    let report = remediator.run(&plan()).await;
    (report, audit, start.elapsed())
}

fn assert_all_failed(report: &remedy::Report, audit: &MemoryAudit, kinds: &[ErrorKind]) {
    assert_eq!(report.actions.len(), 3);
    let records = audit.actions();
    assert_eq!(records.len(), 3, "every action has its audit record");
    for record in records {
        let error = record
            .outcome
            .error()
            .unwrap_or_else(|| panic!("{}", record.outcome));
        assert!(kinds.contains(&error.kind()), "{error}");
    }
}

#[tokio::test]
async fn endpoint_down() {
    // A port that was just free: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (report, audit, took) = run_against(&format!("http://127.0.0.1:{port}")).await;
    assert_all_failed(&report, &audit, &[ErrorKind::Unavailable]);
    assert!(took < Duration::from_secs(20), "{took:?}");
}

#[tokio::test]
async fn endpoint_hangs() {
    // Accepts connections and never answers: attempt timeouts fire.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let (report, audit, took) = run_against(&format!("http://127.0.0.1:{port}")).await;
    assert_all_failed(&report, &audit, &[ErrorKind::Timeout]);
    assert!(took < Duration::from_secs(20), "{took:?}");
    hold.abort();
}
