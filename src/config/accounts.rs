//! `[accounts]`: where actions run: the finding's account, and only an allowed one.
//!
//! A delegated GuardDuty administrator receives the findings of every member account. Each
//! destructive action runs in its finding's account: with `[accounts] role`, under that account's
//! responder role (assumed by the AWS executors); without it, only in remedy's own account (the
//! executors learn it once with `GetCallerIdentity` and refuse every other). The `account` guard
//! checks the allowed list before anything else touches the action, in a dry run too, and says
//! which role the action runs (or would run) as.

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid};
use crate::glob::glob_match;

/// The placeholder of the finding's account id in `[accounts] role`.
pub const ACCOUNT_PLACEHOLDER: &str = "{account}";

/// `[accounts]`: the accounts remedy may act in, and the role it assumes in each.
///
/// ```toml
/// [accounts]
/// role = "arn:aws:iam::{account}:role/remedy-responder"
/// external_id = "remedy-7f3a"
/// allowed = ["111122223333", "444455556666"]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsConfig {
    /// The role assumed in the finding's account, `{account}` standing for its id. Absent: remedy
    /// acts only in its own account, with its own credentials.
    #[serde(default)]
    pub role: Option<String>,
    /// The external id passed to `AssumeRole`, when the member role's trust policy requires one.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The accounts remedy may act in: account ids or globs (`*` every account). Required with
    /// `role`; without `role`, a further restriction of remedy's own account.
    #[serde(default)]
    pub allowed: Vec<String>,
}

impl AccountsConfig {
    /// Checks the section: a role is an IAM role ARN with `{account}` where the account id goes,
    /// `allowed` names at least one account when a role is set, every entry is an account id or a
    /// glob over one.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |field: &str, message: String| invalid(format!("accounts.{field}"), message);
        if let Some(role) = &self.role {
            let shaped = role.starts_with("arn:aws")
                && role.contains(":iam::")
                && role.contains(":role/")
                && role.contains(ACCOUNT_PLACEHOLDER);
            if !shaped {
                return Err(invalid(
                    "role",
                    format!(
                        "`{role}` is not a role ARN with `{ACCOUNT_PLACEHOLDER}` for the account, \
                         e.g. arn:aws:iam::{ACCOUNT_PLACEHOLDER}:role/remedy-responder"
                    ),
                ));
            }
            if self.allowed.is_empty() {
                return Err(invalid(
                    "allowed",
                    "name the accounts remedy may act in (`[\"*\"]` for every account the role \
                     exists in)"
                        .to_owned(),
                ));
            }
        }
        if let Some(id) = &self.external_id
            && (id.len() < 2 || id.len() > 1224)
        {
            return Err(invalid(
                "external_id",
                "an external id has 2 to 1224 characters".to_owned(),
            ));
        }
        for entry in &self.allowed {
            let ok = !entry.is_empty()
                && entry.len() <= 12
                && entry
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '*' || c == '?');
            if !ok {
                return Err(invalid(
                    "allowed",
                    format!("`{entry}` is not an account id (12 digits) or a glob over one"),
                ));
            }
        }
        Ok(())
    }

    /// The role ARN for `account`, when a role is configured.
    pub fn role_for(&self, account: &str) -> Option<String> {
        self.role
            .as_ref()
            .map(|r| r.replace(ACCOUNT_PLACEHOLDER, account))
    }

    /// Whether `account` is on the allowed list (an empty list allows every account: then only
    /// remedy's own account is reachable, see the module docs).
    pub fn allows(&self, account: &str) -> bool {
        self.allowed.is_empty() || self.allowed.iter().any(|g| glob_match(g, account))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(role: Option<&str>, allowed: &[&str]) -> AccountsConfig {
        AccountsConfig {
            role: role.map(str::to_owned),
            external_id: None,
            allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn the_section_is_checked() {
        let role = "arn:aws:iam::{account}:role/remedy-responder";
        assert!(config(Some(role), &["111122223333"]).check().is_ok());
        assert!(
            config(Some(role), &[]).check().is_err(),
            "a role needs allowed"
        );
        assert!(
            config(Some("arn:aws:iam::111122223333:role/x"), &["*"])
                .check()
                .is_err(),
            "a role without the placeholder would act in one account for every finding"
        );
        assert!(config(None, &["1111-2222"]).check().is_err());
        assert!(config(None, &["4444*"]).check().is_ok());
    }
}
