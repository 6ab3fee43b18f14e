//! One conformance suite for every executor: the in-memory ones, the same behind `Box<dyn>`,
//! `Arc<dyn>`, a router and the retry/timeout wrappers, and the AWS ones against moto (when
//! `AWS_ENDPOINT_URL` is set, see `scripts/test.sh`). The containment kinds and `undo` are in
//! `executor_conformance/containment.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use remedy::action::{
    DryRun, MemoryIam, MemoryNotifier, MemorySsm, Retry, SkipReason, TracingNotifier,
};
use remedy::id::{AccessKeyId, InstanceId, UserName};
use remedy::plan::{DisableAccessKey, FindingContext, Notify, Principal, RunCommand};
use remedy::testing::{context, plan_of};
use remedy::{
    Action, ActionKind, ActionRequest, ErrorKind, Executor, ExecutorExt, Outcome, Remediator,
    Router,
};

mod containment;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    format!("{prefix}-{t}-{n}")
}

/// An IAM backend: a place to create users and keys, and an executor acting on it.
#[async_trait]
trait IamBackend: Send + Sync {
    fn name(&self) -> String;
    fn executor(&self) -> Arc<dyn Executor>;
    /// Creates a user with two active keys.
    async fn user_with_two_keys(&self, user: &str) -> (String, String);
    async fn is_active(&self, user: &str, key: &str) -> bool;
}

struct Memory<F: Fn(MemoryIam) -> Arc<dyn Executor> + Send + Sync> {
    label: &'static str,
    iam: MemoryIam,
    wrap: F,
}

#[async_trait]
impl<F: Fn(MemoryIam) -> Arc<dyn Executor> + Send + Sync> IamBackend for Memory<F> {
    fn name(&self) -> String {
        self.label.into()
    }
    fn executor(&self) -> Arc<dyn Executor> {
        (self.wrap)(self.iam.clone())
    }
    async fn user_with_two_keys(&self, user: &str) -> (String, String) {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let (a, b) = (format!("AKIAMEMORY{n:010}"), format!("AKIAMEMORZ{n:010}"));
        self.iam.add_key(user, &a).add_key(user, &b);
        (a, b)
    }
    async fn is_active(&self, user: &str, key: &str) -> bool {
        self.iam.is_active(user, key).unwrap()
    }
}

fn memory_backends() -> Vec<Box<dyn IamBackend>> {
    fn b(
        label: &'static str,
        wrap: impl Fn(MemoryIam) -> Arc<dyn Executor> + Send + Sync + 'static,
    ) -> Box<dyn IamBackend> {
        Box::new(Memory {
            label,
            iam: MemoryIam::new(),
            wrap,
        })
    }
    vec![
        b("memory", |i| Arc::new(i)),
        b("box<dyn>", |i| {
            let boxed: Box<dyn Executor> = Box::new(i);
            Arc::new(boxed)
        }),
        b("arc<dyn>", |i| {
            let arc: Arc<dyn Executor> = Arc::new(i);
            Arc::new(arc)
        }),
        b("router", |i| {
            Router::new()
                .with(ActionKind::DISABLE_ACCESS_KEY, i.into_arc())
                .into_arc()
        }),
        b("retry", |i| Retry::new(i).with_max_attempts(3).into_arc()),
        b("timeout", |i| i.timeout(Duration::from_secs(5)).into_arc()),
    ]
}

fn disable(user: &str, key: &str) -> Action {
    Action::DisableAccessKey(DisableAccessKey {
        user_name: UserName::new(user).unwrap(),
        access_key_id: AccessKeyId::new(key).unwrap(),
    })
}

fn finding(user_type: &str) -> FindingContext {
    let mut f = context(
        &unique("finding"),
        "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
    )
    .unwrap();
    // moto's account (the memory twins ignore it): the AWS executors act in the finding's account.
    f.account_id = "123456789012".into();
    f.principal = Some(Principal {
        user_type: Some(user_type.into()),
        ..Principal::default()
    });
    f
}

/// Carries out one action through a remediator in enforce mode (every guard applies).
async fn remediate(e: &Arc<dyn Executor>, action: Action, f: FindingContext) -> Outcome {
    let remediator = Remediator::builder(Arc::clone(e)).enforce(true).build();
    let report = remediator.run(&plan_of(f, [action], "p")).await;
    report.actions[0].outcome.clone()
}

async fn exec(e: &dyn Executor, action: &Action, f: &FindingContext) -> Outcome {
    e.execute(&ActionRequest::new(action, f)).await
}

/// The contract of every `disable_access_key` executor.
async fn iam_conformance(backend: &dyn IamBackend) {
    let name = backend.name();
    let e = backend.executor();
    let f = finding("IAMUser");
    let user = unique("user");
    let (key, other) = backend.user_with_two_keys(&user).await;

    // Disables exactly the named key.
    let o = exec(&*e, &disable(&user, &key), &f).await;
    assert!(matches!(o, Outcome::Executed { .. }), "{name}: {o}");
    assert!(!backend.is_active(&user, &key).await, "{name}");
    assert!(
        backend.is_active(&user, &other).await,
        "{name}: other key touched"
    );

    // Second time: already done.
    let o = exec(&*e, &disable(&user, &key), &f).await;
    assert!(matches!(o, Outcome::AlreadyDone { .. }), "{name}: {o}");

    // A key that does not belong to the user: not found, nothing changed.
    let someone = unique("user");
    let (their_key, _) = backend.user_with_two_keys(&someone).await;
    let o = exec(&*e, &disable(&user, &their_key), &f).await;
    assert_eq!(
        o.error().map(|e| e.kind()),
        Some(ErrorKind::NotFound),
        "{name}: {o}"
    );
    assert!(backend.is_active(&someone, &their_key).await, "{name}");

    // An unknown user: not found.
    let o = exec(&*e, &disable(&unique("ghost"), &other), &f).await;
    assert_eq!(
        o.error().map(|e| e.kind()),
        Some(ErrorKind::NotFound),
        "{name}: {o}"
    );
    assert!(backend.is_active(&user, &other).await, "{name}");

    // Temporary credentials and assumed roles: the remediator's guard skips them with advice
    // before the executor is called; nothing changed.
    let o = remediate(&e, disable(&user, "ASIAIOSFODNN7EXAMPLE"), f.clone()).await;
    assert!(
        matches!(o, Outcome::Skipped(SkipReason::TemporaryCredentials { .. })),
        "{name}: {o}"
    );
    let o = remediate(&e, disable(&user, &other), finding("AssumedRole")).await;
    match o {
        Outcome::Skipped(SkipReason::TemporaryCredentials { advice }) => {
            assert!(advice.contains("revoke"), "{name}: {advice}")
        }
        o => panic!("{name}: {o}"),
    }
    assert!(backend.is_active(&user, &other).await, "{name}");

    // Another kind: unsupported, not a panic.
    let notify = Action::Notify(Notify {
        channel: "security".into(),
        message: "m".into(),
    });
    let o = exec(&*e, &notify, &f).await;
    assert_eq!(
        o.error().map(|e| e.kind()),
        Some(ErrorKind::Unsupported),
        "{name}: {o}"
    );

    // Dry run around it: reports, changes nothing.
    // (IAM allows two keys per user: a new user.)
    let third = unique("user");
    let (k3, _) = backend.user_with_two_keys(&third).await;
    let dry = DryRun::new(Arc::clone(&e));
    let o = exec(&dry, &disable(&third, &k3), &f).await;
    assert!(
        matches!(o, Outcome::Skipped(SkipReason::DryRun { .. })),
        "{name}: {o}"
    );
    assert!(
        backend.is_active(&third, &k3).await,
        "{name}: dry run changed something"
    );
}

#[tokio::test]
async fn in_memory_iam_executors_conform() {
    for backend in memory_backends() {
        iam_conformance(&*backend).await;
    }
}

fn run_command(n: usize) -> Action {
    Action::RunCommand(RunCommand {
        document: "AWS-RunShellScript".into(),
        instance_ids: (0..n)
            .map(|i| InstanceId::new(format!("i-{:017x}", i + 1)).unwrap())
            .collect(),
        parameters: [("commands".to_owned(), vec!["uptime".to_owned()])].into(),
    })
}

/// The contract of every `run_command` executor; `sent` counts the calls made for a finding.
async fn ssm_conformance<S, Fut>(name: &str, e: Arc<dyn Executor>, sent: S)
where
    S: Fn(String) -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let f = finding("IAMUser");
    let o = exec(&*e, &run_command(2), &f).await;
    assert!(matches!(o, Outcome::Executed { .. }), "{name}: {o}");
    assert_eq!(sent(f.id.to_string()).await, 1, "{name}");
    let f = finding("IAMUser");
    let o = exec(&*e, &run_command(51), &f).await;
    assert!(matches!(o, Outcome::Executed { .. }), "{name}: {o}");
    assert_eq!(
        sent(f.id.to_string()).await,
        2,
        "{name}: 51 instances take two calls"
    );
    let o = exec(&*e, &disable("alice", "AKIAIOSFODNN7EXAMPLE"), &f).await;
    assert_eq!(
        o.error().map(|e| e.kind()),
        Some(ErrorKind::Unsupported),
        "{name}: {o}"
    );
}

#[tokio::test]
async fn in_memory_ssm_conforms() {
    let ssm = MemorySsm::new();
    let count = |ssm: MemorySsm| {
        move |id: String| {
            let ssm = ssm.clone();
            async move {
                ssm.commands()
                    .iter()
                    .filter(|c| c.comment.contains(&id))
                    .count()
            }
        }
    };
    ssm_conformance("memory", ssm.clone().into_arc(), count(ssm.clone())).await;
    let boxed: Box<dyn Executor> = Box::new(ssm.clone());
    ssm_conformance("box<dyn>", Arc::new(boxed), count(ssm.clone())).await;
}

/// The contract of every notifier.
async fn notify_conformance(name: &str, e: Arc<dyn Executor>) {
    let f = finding("IAMUser");
    let action = Action::Notify(Notify {
        channel: "security".into(),
        message: "x".repeat(300_000),
    });
    let o = exec(&*e, &action, &f).await;
    assert!(matches!(o, Outcome::Executed { .. }), "{name}: {o}");
    let o = exec(&*e, &run_command(1), &f).await;
    assert_eq!(
        o.error().map(|e| e.kind()),
        Some(ErrorKind::Unsupported),
        "{name}: {o}"
    );
}

#[tokio::test]
async fn notifiers_conform() {
    let memory = MemoryNotifier::new();
    notify_conformance("memory", memory.clone().into_arc()).await;
    let n = &memory.messages()[0];
    assert!(n.subject.len() < 100 && n.body.len() <= 256 * 1024);
    notify_conformance("tracing", TracingNotifier::new().into_arc()).await;
    let arc: Arc<dyn Executor> = Arc::new(MemoryNotifier::new());
    notify_conformance("arc<dyn>", Arc::new(arc)).await;
}

/// A flaky executor: fails `failures` times with `kind`, then succeeds.
#[derive(Debug)]
struct Flaky {
    kind: ErrorKind,
    failures: usize,
    calls: AtomicUsize,
}

#[async_trait]
impl Executor for Flaky {
    async fn execute(&self, _: &ActionRequest<'_>) -> Outcome {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            Outcome::failed(self.kind, "flaky")
        } else {
            Outcome::executed("ok")
        }
    }
}

fn flaky(kind: ErrorKind, failures: usize) -> Arc<Flaky> {
    Arc::new(Flaky {
        kind,
        failures,
        calls: AtomicUsize::new(0),
    })
}

#[tokio::test]
async fn retry_retries_only_transient_failures_of_idempotent_kinds() {
    let f = finding("IAMUser");
    let key = disable("alice", "AKIAIOSFODNN7EXAMPLE");
    let backoff = |e| {
        Retry::new(e)
            .with_max_attempts(3)
            .with_backoff(Duration::from_millis(1), Duration::from_millis(2))
    };

    let inner = flaky(ErrorKind::Throttled, 2);
    let o = exec(&backoff(Arc::clone(&inner)), &key, &f).await;
    assert!(o.is_success(), "{o}");
    assert_eq!(inner.calls.load(Ordering::SeqCst), 3);

    let inner = flaky(ErrorKind::PermissionDenied, 2);
    let o = exec(&backoff(Arc::clone(&inner)), &key, &f).await;
    assert_eq!(o.error().unwrap().kind(), ErrorKind::PermissionDenied);
    assert_eq!(inner.calls.load(Ordering::SeqCst), 1);

    // SendCommand is not idempotent: never retried unless asked.
    let inner = flaky(ErrorKind::Unavailable, 1);
    let o = exec(&backoff(Arc::clone(&inner)), &run_command(1), &f).await;
    assert!(o.error().is_some());
    assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
    let inner = flaky(ErrorKind::Unavailable, 1);
    let o = exec(
        &backoff(Arc::clone(&inner)).retry_non_idempotent(true),
        &run_command(1),
        &f,
    )
    .await;
    assert!(o.is_success());
}

#[derive(Debug)]
struct Slow;

#[async_trait]
impl Executor for Slow {
    async fn execute(&self, _: &ActionRequest<'_>) -> Outcome {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Outcome::executed("late")
    }
}

#[tokio::test]
async fn timeout_turns_a_slow_action_into_a_failure() {
    let o = exec(
        &Slow.timeout(Duration::from_millis(20)),
        &run_command(1),
        &finding("IAMUser"),
    )
    .await;
    let e = o.error().unwrap();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(
        !e.retryable(),
        "run_command's effect is unknown: not retryable"
    );
}

#[cfg(feature = "aws")]
mod moto {
    use super::*;
    use remedy::aws::{AwsSettings, DisableAccessKeyExecutor, RunCommandExecutor, SnsNotifier};

    fn endpoint() -> Option<String> {
        match std::env::var("AWS_ENDPOINT_URL") {
            Ok(url) => Some(url),
            Err(_) => {
                eprintln!(
                    "moto conformance not run: AWS_ENDPOINT_URL is not set (use scripts/test.sh)"
                );
                None
            }
        }
    }

    fn settings(url: &str) -> AwsSettings {
        AwsSettings::default()
            .with_endpoint_url(url)
            .with_region("us-east-1")
            .with_static_credentials("testing", "testing")
    }

    async fn sdk(url: &str) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .load()
            .await
    }

    struct Moto {
        iam: aws_sdk_iam::Client,
        executor: Arc<dyn Executor>,
    }

    #[async_trait]
    impl IamBackend for Moto {
        fn name(&self) -> String {
            "aws (moto)".into()
        }
        fn executor(&self) -> Arc<dyn Executor> {
            Arc::clone(&self.executor)
        }
        async fn user_with_two_keys(&self, user: &str) -> (String, String) {
            let _ = self.iam.create_user().user_name(user).send().await;
            let mut keys = Vec::new();
            for _ in 0..2 {
                let k = self
                    .iam
                    .create_access_key()
                    .user_name(user)
                    .send()
                    .await
                    .unwrap();
                keys.push(k.access_key().unwrap().access_key_id().to_owned());
            }
            (keys[0].clone(), keys[1].clone())
        }
        async fn is_active(&self, user: &str, key: &str) -> bool {
            let out = self
                .iam
                .list_access_keys()
                .user_name(user)
                .send()
                .await
                .unwrap();
            let meta = out
                .access_key_metadata()
                .iter()
                .find(|m| m.access_key_id() == Some(key))
                .unwrap();
            meta.status() == Some(&aws_sdk_iam::types::StatusType::Active)
        }
    }

    #[tokio::test]
    async fn aws_iam_executor_conforms_against_moto() {
        let Some(url) = endpoint() else { return };
        let backend = Moto {
            iam: aws_sdk_iam::Client::new(&sdk(&url).await),
            executor: DisableAccessKeyExecutor::new(&settings(&url))
                .await
                .into_arc(),
        };
        iam_conformance(&backend).await;
    }

    #[tokio::test]
    async fn aws_ssm_executor_conforms_against_moto() {
        let Some(url) = endpoint() else { return };
        let ssm = aws_sdk_ssm::Client::new(&sdk(&url).await);
        let executor = RunCommandExecutor::new(&settings(&url)).await.into_arc();
        let sent = |id: String| {
            let ssm = ssm.clone();
            async move {
                let out = ssm.list_commands().send().await.unwrap();
                out.commands()
                    .iter()
                    .filter(|c| c.comment().is_some_and(|c| c.contains(&id)))
                    .count()
            }
        };
        ssm_conformance("aws (moto)", executor, sent).await;
    }

    #[tokio::test]
    async fn aws_sns_notifier_conforms_against_moto() {
        let Some(url) = endpoint() else { return };
        let sns = aws_sdk_sns::Client::new(&sdk(&url).await);
        let topic = sns
            .create_topic()
            .name("remedy-conformance")
            .send()
            .await
            .unwrap();
        let arn = topic.topic_arn().unwrap();
        notify_conformance(
            "aws (moto)",
            SnsNotifier::new(&settings(&url), arn).await.into_arc(),
        )
        .await;
    }
}
