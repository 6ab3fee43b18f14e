//! Secrets from AWS Secrets Manager: the audit key, a Slack token or signing secret, named by ARN.

use aws_sdk_secretsmanager::Client;

use super::AwsSettings;
use super::error::map_sdk_error;
use crate::config::{Secret, SecretSource};

/// Reads `source`: an environment variable, or a Secrets Manager secret through a client in the
/// secret's region (from its ARN) with remedy's own credentials. The error names the source and
/// what went wrong, never a value.
pub async fn read_secret(settings: &AwsSettings, source: &SecretSource) -> Result<Secret, String> {
    match source {
        SecretSource::SecretsManager(arn) => {
            let mut sdk = settings.load().await.sdk.to_builder();
            if let Some(region) = arn.split(':').nth(3).filter(|r| !r.is_empty()) {
                sdk.set_region(Some(aws_config::Region::new(region.to_owned())));
            }
            read_with(&Client::new(&sdk.build()), arn).await
        }
        other => other.read_env(),
    }
}

/// Reads the secret `arn` with `client`: its `SecretString` (trimmed) or its `SecretBinary`
/// (UTF-8).
pub(crate) async fn read_with(client: &Client, arn: &str) -> Result<Secret, String> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            let e = map_sdk_error("GetSecretValue", &e);
            format!("cannot read secret `{arn}`: {}", e.message())
        })?;
    let value = match (out.secret_string(), out.secret_binary()) {
        (Some(text), _) => text.trim().to_owned(),
        (None, Some(blob)) => String::from_utf8(blob.as_ref().to_vec())
            .map_err(|_| format!("secret `{arn}` is binary and not UTF-8"))?
            .trim()
            .to_owned(),
        (None, None) => String::new(),
    };
    if value.is_empty() {
        return Err(format!("secret `{arn}` is empty"));
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use aws_config::{BehaviorVersion, Region};
    use aws_sdk_secretsmanager::operation::get_secret_value::{
        GetSecretValueError, GetSecretValueOutput,
    };
    use aws_sdk_secretsmanager::types::error::ResourceNotFoundException;
    use aws_smithy_mocks::{
        MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock,
    };

    use super::*;

    fn mocked(rules: &[&Rule]) -> Client {
        let interceptor = rules.iter().fold(
            MockResponseInterceptor::new().rule_mode(RuleMode::Sequential),
            |i, r| i.with_rule(r),
        );
        let conf = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            ))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .build();
        Client::from_conf(conf)
    }

    const ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:remedy/audit-AbCdEf";

    #[tokio::test]
    async fn a_secret_is_read_by_arn_and_its_value_never_in_an_error() {
        let found = mock!(Client::get_secret_value)
            .match_requests(|r| r.secret_id() == Some(ARN))
            .then_output(|| {
                GetSecretValueOutput::builder()
                    .secret_string("  0123456789abcdef0123  \n")
                    .build()
            });
        let client = mocked(&[&found]);
        let secret = read_with(&client, ARN).await.unwrap();
        assert_eq!(secret.expose(), "0123456789abcdef0123");

        let missing = mock!(Client::get_secret_value).then_error(|| {
            GetSecretValueError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .message("Secrets Manager can't find the specified secret.")
                    .meta(
                        aws_smithy_types::error::ErrorMetadata::builder()
                            .code("ResourceNotFoundException")
                            .message("Secrets Manager can't find the specified secret.")
                            .build(),
                    )
                    .build(),
            )
        });
        let empty = mock!(Client::get_secret_value)
            .then_output(|| GetSecretValueOutput::builder().secret_string(" ").build());
        let client = mocked(&[&missing, &empty]);
        let err = read_with(&client, ARN).await.unwrap_err();
        assert!(err.contains(ARN) && err.contains("can't find"), "{err}");
        let err = read_with(&client, ARN).await.unwrap_err();
        assert!(err.contains("empty"), "{err}");
    }
}
