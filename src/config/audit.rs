//! `[audit]`: where the audit trail is written.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, SecretSource, invalid};

/// `[audit]`: the JSON Lines file of the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The audit JSON Lines file, relative to the configuration file (absent: the log, and for
    /// `remedy run --execute` the file `remedy-audit.jsonl` in the current directory).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// The environment variable holding the key of the trail's HMAC (at least 16 bytes): every
    /// line is then sealed, and `remedy audit verify` and `remedy undo` check the seals. Without
    /// it, lines are hash-chained only.
    #[serde(default)]
    pub key_env: Option<String>,
    /// Or the AWS Secrets Manager secret (ARN) holding that key, read when the pipeline is
    /// assembled (the Lambda path). One of `key_env` and `key_secret`.
    #[serde(default)]
    pub key_secret: Option<String>,
}

impl AuditConfig {
    /// Why the section cannot be used, if it cannot: a key variable that is no variable name, a
    /// secret that is no Secrets Manager ARN, or both given.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.key_source().map(|_| ())
    }

    /// Where the trail's HMAC key comes from, if one is configured.
    pub fn key_source(&self) -> Result<Option<SecretSource>, ConfigError> {
        let field = if self.key_secret.is_some() {
            "audit.key_secret"
        } else {
            "audit.key_env"
        };
        SecretSource::either(
            self.key_env.clone(),
            self.key_secret.clone(),
            ("key_env", "key_secret"),
        )
        .map_err(|message| invalid(field, message))
    }
}
