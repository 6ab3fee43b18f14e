//! One conformance suite for every enricher that knows principals: the in-memory one, the same
//! behind `Box<dyn>`, `Arc<dyn>` and the `Enrichers` combinator, and the IAM one against moto
//! (when `AWS_ENDPOINT_URL` is set, see `scripts/test.sh`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use remedy::enrich::{
    Context, ContextErrorKind, Enricher, MemoryEnricher, PrincipalDetails, PrincipalKind,
};
use remedy::testing::finding_with;
use remedy::{Enrichers, Finding};
use serde_json::json;

const IAM_FINDING: &str = include_str!("../../examples/findings/01-iam-malicious-ip-custom.json");
const EC2_FINDING: &str = include_str!("../../examples/findings/03-ec2-command-and-control.json");

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    format!("{prefix}-{t}-{}", COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// A finding naming `user` of `user_type`.
fn finding_of(user: &str, user_type: &str) -> Finding {
    finding_with(
        IAM_FINDING,
        [
            ("/detail/resource/accessKeyDetails/userName", json!(user)),
            (
                "/detail/resource/accessKeyDetails/userType",
                json!(user_type),
            ),
        ],
    )
    .unwrap()
}

/// A place to create principals and an enricher reading them.
#[async_trait]
trait Backend: Send + Sync {
    fn name(&self) -> String;
    fn enricher(&self) -> Arc<dyn Enricher>;
    /// Creates a user: with `AdministratorAccess` when `admin`, else a read-only policy.
    async fn user(&self, name: &str, admin: bool);
}

struct Memory<F: Fn(MemoryEnricher) -> Arc<dyn Enricher> + Send + Sync> {
    label: &'static str,
    memory: MemoryEnricher,
    wrap: F,
}

#[async_trait]
impl<F: Fn(MemoryEnricher) -> Arc<dyn Enricher> + Send + Sync> Backend for Memory<F> {
    fn name(&self) -> String {
        self.label.into()
    }

    fn enricher(&self) -> Arc<dyn Enricher> {
        (self.wrap)(self.memory.clone())
    }

    async fn user(&self, name: &str, admin: bool) {
        let policy = if admin {
            "AdministratorAccess"
        } else {
            "remedy-read-only"
        };
        self.memory.add_principal(PrincipalDetails {
            kind: PrincipalKind::User,
            name: name.into(),
            policies: vec![policy.into()],
            is_admin: admin,
            admin_via: if admin { vec![policy.into()] } else { vec![] },
            ..PrincipalDetails::default()
        });
    }
}

fn memory_backends() -> Vec<Box<dyn Backend>> {
    fn b(
        label: &'static str,
        wrap: impl Fn(MemoryEnricher) -> Arc<dyn Enricher> + Send + Sync + 'static,
    ) -> Box<dyn Backend> {
        Box::new(Memory {
            label,
            memory: MemoryEnricher::new(),
            wrap,
        })
    }
    vec![
        b("memory", |m| Arc::new(m)),
        b("Box<dyn Enricher>", |m| {
            let boxed: Box<dyn Enricher> = Box::new(m);
            Arc::new(boxed)
        }),
        b("Arc<dyn Enricher>", |m| {
            let inner: Arc<dyn Enricher> = Arc::new(m);
            Arc::new(inner)
        }),
        b("Enrichers(memory)", |m| {
            Arc::new(Enrichers::new().with(Arc::new(m)))
        }),
    ]
}

/// The IAM enricher against moto.
#[cfg(feature = "aws")]
struct Moto {
    iam: aws_sdk_iam::Client,
    enricher: Arc<dyn Enricher>,
}

#[cfg(feature = "aws")]
impl Moto {
    async fn new(url: &str) -> Self {
        let settings = remedy::aws::AwsSettings::default()
            .with_endpoint_url(url)
            .with_region("us-east-1")
            .with_static_credentials("testing", "testing");
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .load()
            .await;
        Self {
            iam: aws_sdk_iam::Client::new(&sdk),
            enricher: Arc::new(remedy::aws::IamEnricher::new(&settings).await),
        }
    }
}

#[cfg(feature = "aws")]
#[async_trait]
impl Backend for Moto {
    fn name(&self) -> String {
        "iam (moto)".into()
    }

    fn enricher(&self) -> Arc<dyn Enricher> {
        Arc::clone(&self.enricher)
    }

    async fn user(&self, name: &str, admin: bool) {
        self.iam.create_user().user_name(name).send().await.unwrap();
        let arn = if admin {
            "arn:aws:iam::aws:policy/AdministratorAccess".to_owned()
        } else {
            let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"}]}"#;
            let created = self
                .iam
                .create_policy()
                .policy_name(unique("remedy-read-only"))
                .policy_document(doc)
                .send()
                .await
                .unwrap();
            created.policy().unwrap().arn().unwrap().to_owned()
        };
        self.iam
            .attach_user_policy()
            .user_name(name)
            .policy_arn(arn)
            .send()
            .await
            .unwrap();
    }
}

async fn backends() -> Vec<Box<dyn Backend>> {
    #[allow(unused_mut)]
    let mut all = memory_backends();
    #[cfg(feature = "aws")]
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) => all.push(Box::new(Moto::new(&url).await)),
        Err(_) => eprintln!(
            "the IAM enricher was not run against moto: AWS_ENDPOINT_URL is not set (run scripts/test.sh)"
        ),
    }
    all
}

async fn enrich(backend: &dyn Backend, finding: &Finding) -> Context {
    backend.enricher().enrich(finding).await
}

#[tokio::test]
async fn an_administrator_is_recognized() {
    for backend in backends().await {
        let name = unique("admin");
        backend.user(&name, true).await;
        let context = enrich(&*backend, &finding_of(&name, "IAMUser")).await;
        let who = backend.name();
        let p = context
            .principal
            .as_ref()
            .unwrap_or_else(|| panic!("{who}: {context:?}"));
        assert_eq!(
            (p.kind, p.name.as_str()),
            (PrincipalKind::User, name.as_str()),
            "{who}"
        );
        assert!(p.is_admin, "{who}: {p:?}");
        assert!(
            p.policies.iter().any(|n| n == "AdministratorAccess"),
            "{who}: {p:?}"
        );
        assert!(
            p.admin_via.iter().any(|n| n == "AdministratorAccess"),
            "{who}: {p:?}"
        );
    }
}

#[tokio::test]
async fn a_user_without_admin_rights_is_not_an_administrator() {
    for backend in backends().await {
        let name = unique("reader");
        backend.user(&name, false).await;
        let context = enrich(&*backend, &finding_of(&name, "IAMUser")).await;
        let who = backend.name();
        let p = context
            .principal
            .as_ref()
            .unwrap_or_else(|| panic!("{who}: {context:?}"));
        assert!(!p.is_admin, "{who}: {p:?}");
        assert!(p.admin_via.is_empty(), "{who}: {p:?}");
        assert_eq!(p.policies.len(), 1, "{who}: {p:?}");
    }
}

#[tokio::test]
async fn an_unknown_user_is_a_not_found_entry_without_a_principal() {
    for backend in backends().await {
        let context = enrich(&*backend, &finding_of(&unique("nobody"), "IAMUser")).await;
        let who = backend.name();
        assert_eq!(context.principal, None, "{who}");
        assert_eq!(context.errors.len(), 1, "{who}: {:?}", context.errors);
        assert_eq!(context.errors[0].kind, ContextErrorKind::NotFound, "{who}");
    }
}

#[tokio::test]
async fn root_is_an_administrator_and_other_principals_are_unsupported() {
    for backend in backends().await {
        let who = backend.name();
        let root = enrich(&*backend, &finding_of("Root", "Root")).await;
        let p = root
            .principal
            .as_ref()
            .unwrap_or_else(|| panic!("{who}: {root:?}"));
        assert_eq!(p.kind, PrincipalKind::Root, "{who}");
        assert!(p.is_admin && root.errors.is_empty(), "{who}: {root:?}");

        let federated = enrich(&*backend, &finding_of("alice", "FederatedUser")).await;
        assert_eq!(federated.principal, None, "{who}");
        assert_eq!(
            federated.errors[0].kind,
            ContextErrorKind::Unsupported,
            "{who}"
        );
    }
}

#[tokio::test]
async fn a_finding_without_a_principal_gets_an_empty_context() {
    let ec2 = Finding::from_json_str(EC2_FINDING).unwrap();
    assert!(ec2.user_name().is_none() && ec2.access_key_id().is_none());
    for backend in backends().await {
        let context = enrich(&*backend, &ec2).await;
        assert!(context.is_empty(), "{}: {context:?}", backend.name());
    }
}

#[tokio::test]
async fn every_answer_round_trips_as_json() {
    for backend in backends().await {
        let name = unique("json");
        backend.user(&name, true).await;
        for finding in [
            finding_of(&name, "IAMUser"),
            finding_of(&unique("no"), "IAMUser"),
        ] {
            let context = enrich(&*backend, &finding).await;
            let json = serde_json::to_string(&context).unwrap();
            let back: Context = serde_json::from_str(&json).unwrap();
            assert_eq!(back, context, "{}", backend.name());
        }
    }
}
