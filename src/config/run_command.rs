//! `[run_command]`: the SSM documents policies may run.

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};

/// `[run_command]`: the SSM documents policies may run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunCommandConfig {
    /// The allowed documents (absent: `AWS-RunShellScript`, `AWS-RunPowerShellScript` and
    /// `AWS-RunPatchBaseline`, the ones the bundled policies use): SSM
    /// document names (3 to 128 letters, digits, `_`, `-` and `.`) or document ARNs
    /// (`arn:aws:ssm:REGION:ACCOUNT:document/NAME`).
    #[serde(default)]
    pub documents: Option<Vec<String>>,
}

impl RunCommandConfig {
    /// Why the section cannot be used, if it cannot: an entry that is neither an SSM document name
    /// nor a document ARN (a path, an empty string, another service's ARN).
    pub fn check(&self) -> Result<(), ConfigError> {
        for document in self.documents.iter().flatten() {
            if !is_document(document) {
                return Err(invalid(
                    "run_command.documents",
                    format!(
                        "`{document}` is not an SSM document name (3 to 128 letters, digits, `_`, \
                         `-`, `.`) or a document ARN (`arn:aws:ssm:REGION:ACCOUNT:document/NAME`)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// An SSM document name, by SSM's naming rules.
fn is_name(name: &str) -> bool {
    (3..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.starts_with('.')
}

/// A document name, or the ARN of one: `arn:PARTITION:ssm:REGION:ACCOUNT:document/NAME`.
fn is_document(text: &str) -> bool {
    if !text.starts_with("arn:") {
        return is_name(text);
    }
    let parts: Vec<&str> = text.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, "ssm", region, account, resource] => {
            partition.starts_with("aws")
                && !region.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.strip_prefix("document/").is_some_and(is_name)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_follow_the_ssm_naming_rules() {
        for ok in [
            "AWS-RunShellScript",
            "My.Forensics_v2",
            "arn:aws:ssm:us-east-1:123456789012:document/Forensics",
        ] {
            assert!(is_document(ok), "{ok}");
        }
        for bad in [
            "../../etc/passwd",
            "",
            "ab",
            "a b",
            ".hidden",
            "arn:aws:s3:::bucket/document/x",
            "arn:aws:ssm:us-east-1:123:document/Forensics",
            "arn:aws:ssm:us-east-1:123456789012:document/../x",
        ] {
            assert!(!is_document(bad), "{bad}");
        }
        let config = RunCommandConfig {
            documents: Some(vec!["../../etc/passwd".into()]),
        };
        let err = config.check().unwrap_err().to_string();
        assert!(err.contains("run_command.documents"), "{err}");
    }
}
