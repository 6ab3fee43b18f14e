//! `[approval]`: the actions a person approves before they run.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, TagRule, invalid, range};
use crate::plan::ActionKind;

/// `[approval]`: the destructive actions that wait for a person.
///
/// An action needs approval when its kind is in `kinds` or a policy that chose it is in
/// `policies`, and it matches `accounts` and `tags` where those are given. Notifications never
/// wait: only destructive actions are held. The request is kept in `path` (a directory), or in
/// the `[state]` DynamoDB table when one is configured.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalConfig {
    /// Action kinds that need a person, e.g. `["run_command"]`.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Policies whose destructive actions need a person.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Only in these accounts (globs); empty: every account.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Only for instances (the finding's instance tags) or principals (the enriched user's or
    /// role's tags) with a matching tag; empty: every target.
    #[serde(default)]
    pub tags: Vec<TagRule>,
    /// How long a request waits for a decision (default 3600; 1 s to 30 days).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// What `remedy expire` does with a request nobody decided on in time (default `deny`).
    #[serde(default)]
    pub on_timeout: OnTimeout,
    /// The notify channel that is asked (default `security`).
    #[serde(default = "default_channel")]
    pub notify: String,
    /// The directory requests are kept in (default `approvals`, next to the configuration);
    /// unused with `[state] dynamodb_table`, whose table keeps them.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Who may decide from Slack's buttons (`remedy serve`): Slack user ids (`U…`, `W…`) and user
    /// group ids (`S…`, resolved with `usergroups.users.list`). Empty: nobody decides from Slack.
    #[serde(default)]
    pub approvers: Vec<String>,
}

fn default_timeout() -> u64 {
    3600
}

fn default_channel() -> String {
    "security".into()
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        Self {
            kinds: Vec::new(),
            policies: Vec::new(),
            accounts: Vec::new(),
            tags: Vec::new(),
            timeout_secs: default_timeout(),
            on_timeout: OnTimeout::default(),
            notify: default_channel(),
            path: None,
            approvers: Vec::new(),
        }
    }
}

impl ApprovalConfig {
    /// Whether any action needs approval.
    pub fn is_enabled(&self) -> bool {
        !self.kinds.is_empty() || !self.policies.is_empty()
    }

    /// Why the section cannot be used, if it cannot: a kind that is not a destructive kind, an
    /// empty tag key or pattern, a timeout out of range.
    pub fn check(&self) -> Result<(), ConfigError> {
        for kind in &self.kinds {
            let built = ActionKind::new(kind.as_str())
                .map_err(|e| invalid("approval.kinds", e.to_string()))?;
            if built == ActionKind::NOTIFY {
                return Err(invalid(
                    "approval.kinds",
                    "notifications never wait for approval: `notify` cannot be listed",
                ));
            }
        }
        if self.accounts.iter().any(String::is_empty) {
            return Err(invalid("approval.accounts", "empty pattern"));
        }
        if self.tags.iter().any(|t| t.key.is_empty()) {
            return Err(invalid("approval.tags", "a tag rule needs a `key`"));
        }
        range("approval.timeout_secs", self.timeout_secs, 1, 30 * 86_400)?;
        if self.notify.is_empty() {
            return Err(invalid("approval.notify", "names no channel"));
        }
        for approver in &self.approvers {
            let ok = approver.len() >= 3
                && approver.len() <= 32
                && approver.starts_with(['U', 'W', 'S'])
                && approver
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if !ok {
                return Err(invalid(
                    "approval.approvers",
                    format!(
                        "`{approver}` is not a Slack user id (`U…`, `W…`) or user group id (`S…`)"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// What happens to a request nobody decided on before it expired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    /// The action is not carried out (the default).
    #[default]
    Deny,
    /// The action is carried out, through every guard, as if approved.
    Approve,
}

impl OnTimeout {
    /// `deny` or `approve`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Approve => "approve",
        }
    }
}

impl fmt::Display for OnTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    #[test]
    fn the_issue_form_parses_and_bad_values_are_refused() {
        let config = Config::from_toml_str(
            r#"
            [approval]
            kinds = ["run_command"]
            policies = []
            accounts = []
            tags = [{ key = "env", value = "prod*" }]
            timeout_secs = 3600
            on_timeout = "deny"
            notify = "security"
            path = "approvals"
            "#,
        )
        .unwrap();
        assert!(config.approval.is_enabled());
        assert_eq!(config.approval.on_timeout.as_str(), "deny");
        for bad in [
            "kinds = [\"notify\"]",
            "kinds = [\"Bad Kind\"]",
            "timeout_secs = 0",
            "tags = [{ key = \"\" }]",
            "on_timeout = \"maybe\"",
            "kind = [\"run_command\"]",
            "approvers = [\"alice\"]",
            "approvers = [\"U1<!channel>\"]",
        ] {
            let text = format!("[approval]\n{bad}\n");
            assert!(Config::from_toml_str(&text).is_err(), "{bad}");
        }
    }
}
