//! The containment suite against moto, through `remedy::aws::router` (needs `AWS_ENDPOINT_URL`).

use super::*;
use remedy::Config;
use remedy::aws::{AwsSettings, ContainmentExecutor, router};

pub(crate) struct Moto {
    pub(crate) iam: aws_sdk_iam::Client,
    pub(crate) settings: AwsSettings,
}

/// IAM returns policy documents URL-encoded.
fn decode(document: &str) -> String {
    percent_encoding::percent_decode_str(document)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

#[async_trait]
impl ContainmentBackend for Moto {
    fn name(&self) -> String {
        "aws (moto)".into()
    }
    async fn executor(&self, quarantine_policy: Option<&str>) -> Arc<dyn Executor> {
        let mut config = Config::default();
        if let Some(p) = quarantine_policy {
            config.containment.quarantine_policy = p.into();
        }
        router(&config, &self.settings).await.into_arc()
    }
    async fn create_role(&self, role: &str) {
        self.iam
            .create_role()
            .role_name(role)
            .assume_role_policy_document(TRUST)
            .send()
            .await
            .unwrap();
    }
    async fn create_user(&self, user: &str, console_password: bool) {
        self.iam.create_user().user_name(user).send().await.unwrap();
        if console_password {
            self.iam
                .create_login_profile()
                .user_name(user)
                .password("Remedy-Conformance-1!")
                .send()
                .await
                .unwrap();
        }
    }
    async fn user_with_two_keys(&self, user: &str) -> (String, String) {
        self.iam.create_user().user_name(user).send().await.unwrap();
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
    async fn put_role_policy(&self, role: &str, name: &str, document: &str) {
        self.create_role(role).await;
        self.iam
            .put_role_policy()
            .role_name(role)
            .policy_name(name)
            .policy_document(document)
            .send()
            .await
            .unwrap();
    }
    async fn inline_policies(&self, principal: &IamPrincipal) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        match principal {
            IamPrincipal::User(u) => {
                let list = self
                    .iam
                    .list_user_policies()
                    .user_name(u.as_str())
                    .send()
                    .await
                    .unwrap();
                for name in list.policy_names() {
                    let p = self
                        .iam
                        .get_user_policy()
                        .user_name(u.as_str())
                        .policy_name(name)
                        .send()
                        .await
                        .unwrap();
                    out.insert(name.clone(), decode(p.policy_document()));
                }
            }
            IamPrincipal::Role(r) => {
                let list = self
                    .iam
                    .list_role_policies()
                    .role_name(r.as_str())
                    .send()
                    .await
                    .unwrap();
                for name in list.policy_names() {
                    let p = self
                        .iam
                        .get_role_policy()
                        .role_name(r.as_str())
                        .policy_name(name)
                        .send()
                        .await
                        .unwrap();
                    out.insert(name.clone(), decode(p.policy_document()));
                }
            }
        }
        out
    }
    async fn attached(&self, principal: &IamPrincipal) -> Vec<String> {
        match principal {
            IamPrincipal::User(u) => self
                .iam
                .list_attached_user_policies()
                .user_name(u.as_str())
                .send()
                .await
                .unwrap()
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_owned))
                .collect(),
            IamPrincipal::Role(r) => self
                .iam
                .list_attached_role_policies()
                .role_name(r.as_str())
                .send()
                .await
                .unwrap()
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_owned))
                .collect(),
        }
    }
    async fn has_console_password(&self, user: &str) -> bool {
        self.iam
            .get_login_profile()
            .user_name(user)
            .send()
            .await
            .is_ok()
    }
    async fn is_active(&self, user: &str, key: &str) -> bool {
        let out = self
            .iam
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .unwrap();
        out.access_key_metadata()
            .iter()
            .find(|m| m.access_key_id() == Some(key))
            .unwrap()
            .status()
            == Some(&aws_sdk_iam::types::StatusType::Active)
    }
}

#[tokio::test]
async fn aws_containment_executors_conform_against_moto() {
    let Ok(url) = std::env::var("AWS_ENDPOINT_URL") else {
        eprintln!(
            "moto containment conformance not run: AWS_ENDPOINT_URL is not set (use \
             scripts/test.sh)"
        );
        return;
    };
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    let backend = Moto {
        iam: aws_sdk_iam::Client::new(&sdk),
        settings: AwsSettings::default()
            .with_endpoint_url(&url)
            .with_region("us-east-1")
            .with_static_credentials("testing", "testing"),
    };
    containment_conformance(&backend).await;
    let containment = ContainmentExecutor::new(&backend.settings).await;
    refuses_other_kinds("aws containment executor", &containment).await;
}
