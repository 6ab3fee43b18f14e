//! Secrets named in the configuration: where a token, a webhook URL or a key comes from, and the
//! value once read, which never shows itself.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a secret comes from: an environment variable, or an AWS Secrets Manager secret (the
/// Lambda path). The configuration holds only the name, never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SecretSource {
    /// The environment variable of this name.
    Env(String),
    /// The Secrets Manager secret of this ARN
    /// (`arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME`): its `SecretString` (trimmed),
    /// or its `SecretBinary`.
    SecretsManager(String),
}

impl SecretSource {
    /// The environment variable `name`, checked to be a variable name.
    pub fn env(name: impl Into<String>) -> Result<Self, String> {
        let name = name.into();
        let ok = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if ok {
            Ok(Self::Env(name))
        } else {
            Err(format!("`{name}` is not an environment variable name"))
        }
    }

    /// The Secrets Manager secret `arn`, checked to be a secret's ARN.
    pub fn secrets_manager(arn: impl Into<String>) -> Result<Self, String> {
        let arn = arn.into();
        let parts: Vec<&str> = arn.splitn(7, ':').collect();
        let ok = matches!(
            parts.as_slice(),
            ["arn", partition, "secretsmanager", region, account, "secret", name]
                if !partition.is_empty() && !region.is_empty() && !name.is_empty()
                    && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
        ) && !arn.chars().any(char::is_control);
        if ok {
            Ok(Self::SecretsManager(arn))
        } else {
            Err(format!(
                "`{arn}` is not a Secrets Manager secret ARN \
                 (`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME`)"
            ))
        }
    }

    /// One of `env` (a variable name) and `secret` (an ARN), from the two keys of a section:
    /// `Ok(None)` when neither is given, an error when both are.
    pub(crate) fn either(
        env: Option<String>,
        secret: Option<String>,
        keys: (&str, &str),
    ) -> Result<Option<Self>, String> {
        match (env, secret) {
            (Some(_), Some(_)) => Err(format!("give `{}` or `{}`, not both", keys.0, keys.1)),
            (Some(name), None) => Self::env(name).map(Some),
            (None, Some(arn)) => Self::secrets_manager(arn).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// Reads an environment variable's value (a Secrets Manager secret is read by the AWS layer:
    /// `remedy::aws::read_secret`). The error names the variable, never a value.
    pub fn read_env(&self) -> Result<Secret, String> {
        match self {
            Self::Env(name) => match std::env::var(name) {
                Ok(value) if !value.trim().is_empty() => Ok(Secret::new(value.trim())),
                Ok(_) => Err(format!("environment variable `{name}` is empty")),
                Err(_) => Err(format!("environment variable `{name}` is not set")),
            },
            Self::SecretsManager(arn) => Err(format!(
                "secret `{arn}` is in AWS Secrets Manager: this build reads it only with feature `aws`"
            )),
        }
    }
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => write!(f, "environment variable `{name}`"),
            Self::SecretsManager(arn) => write!(f, "secret `{arn}`"),
        }
    }
}

/// A secret's value. It prints as `***` (`Debug` too), so it cannot reach a log, a record or an
/// error message by accident; [`Secret::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_checked_and_values_never_print() {
        assert!(SecretSource::env("SLACK_BOT_TOKEN").is_ok());
        for bad in ["", "1X", "A-B", "A B"] {
            assert!(SecretSource::env(bad).is_err(), "{bad}");
        }
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:remedy/slack-AbCdEf";
        assert!(SecretSource::secrets_manager(arn).is_ok());
        for bad in [
            "arn:aws:ssm:us-east-1:123456789012:secret:x",
            "arn:aws:secretsmanager:us-east-1:1234:secret:x",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
            "slack",
        ] {
            assert!(SecretSource::secrets_manager(bad).is_err(), "{bad}");
        }
        assert!(SecretSource::either(Some("A".into()), Some(arn.into()), ("a", "b")).is_err());
        let secret = Secret::new("xoxb-123");
        assert_eq!(format!("{secret:?} {secret}"), "Secret(***) ***");
        assert_eq!(secret.expose(), "xoxb-123");
    }
}
