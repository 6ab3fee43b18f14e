//! `[runbooks]`: the SSM Automation runbooks and Step Functions state machines policies may
//! start, and how the isolation preset runs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ACCOUNT_PLACEHOLDER, ConfigError, invalid};
use crate::glob::glob_match;

/// `[runbooks]`: what `start_automation` and `start_execution` may start (nothing by default),
/// and the settings of `isolate_instance` (`AWSSupport-ContainEC2Instance`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunbooksConfig {
    /// The Automation documents policies may start: names (`AWSSupport-ContainIAMPrincipal`),
    /// ARNs, or globs of either (`Remedy-*`). A policy's document must match one as written.
    #[serde(default)]
    pub documents: Vec<String>,
    /// The state machines policies may start: names, ARNs, or globs of either.
    #[serde(default)]
    pub state_machines: Vec<String>,
    /// The role Automation runs as (`AutomationAssumeRole`), passed to every runbook remedy
    /// starts unless the policy gives one; `{account}` is replaced by the finding's account.
    #[serde(default)]
    pub automation_role: Option<String>,
    /// Further parameters of `AWSSupport-ContainEC2Instance` (e.g. `BackupS3BucketName`);
    /// remedy sets `InstanceId`, `Action` and `DryRun` itself.
    #[serde(default)]
    pub isolation_parameters: BTreeMap<String, String>,
    /// Rehearse isolation: enforced `isolate_instance` actions start the runbook with
    /// `DryRun=true` (it checks, changes nothing), and no undo is recorded. Default false.
    #[serde(default)]
    pub isolation_dry_run: bool,
}

/// The parameters remedy sets on the isolation runbook itself.
const OWN_ISOLATION_PARAMETERS: [&str; 3] = ["InstanceId", "Action", "DryRun"];

impl RunbooksConfig {
    /// Why the section cannot be used, if it cannot: an entry that is neither a name nor an ARN
    /// of its service, an automation role that is not an IAM role ARN, an isolation parameter
    /// remedy sets itself.
    pub fn check(&self) -> Result<(), ConfigError> {
        for document in &self.documents {
            if !is_entry(document, "ssm", ":document/") {
                return Err(invalid(
                    "runbooks.documents",
                    format!(
                        "`{document}` is not an Automation document name, ARN or glob (letters, \
                         digits, `_-.`, `*`, `?`; ARNs `arn:aws:ssm:REGION:ACCOUNT:document/NAME`)"
                    ),
                ));
            }
        }
        for machine in &self.state_machines {
            if !is_entry(machine, "states", ":stateMachine:") {
                return Err(invalid(
                    "runbooks.state_machines",
                    format!(
                        "`{machine}` is not a state machine name, ARN or glob (letters, digits, \
                         `_-`, `*`, `?`; ARNs `arn:aws:states:REGION:ACCOUNT:stateMachine:NAME`)"
                    ),
                ));
            }
        }
        if let Some(role) = &self.automation_role {
            let shaped = role.starts_with("arn:aws")
                && role.contains(":iam::")
                && role.contains(":role/")
                && !role.contains(char::is_whitespace);
            if !shaped {
                return Err(invalid(
                    "runbooks.automation_role",
                    format!(
                        "`{role}` is not an IAM role ARN (`arn:aws:iam::{ACCOUNT_PLACEHOLDER}:role/NAME`)"
                    ),
                ));
            }
        }
        if let Some(own) = self
            .isolation_parameters
            .keys()
            .find(|k| OWN_ISOLATION_PARAMETERS.contains(&k.as_str()))
        {
            return Err(invalid(
                "runbooks.isolation_parameters",
                format!("`{own}` is set by remedy (`isolate_instance` and its undo)"),
            ));
        }
        Ok(())
    }

    /// Whether policies may start the Automation document `document` (as written).
    pub fn allows_document(&self, document: &str) -> bool {
        self.documents.iter().any(|p| glob_match(p, document))
    }

    /// Whether policies may start the state machine `machine` (as written).
    pub fn allows_state_machine(&self, machine: &str) -> bool {
        self.state_machines.iter().any(|p| glob_match(p, machine))
    }

    /// The automation role for a finding in `account`.
    pub fn automation_role_in(&self, account: &str) -> Option<String> {
        self.automation_role
            .as_ref()
            .map(|r| r.replace(ACCOUNT_PLACEHOLDER, account))
    }
}

/// A name, an ARN of `service` whose resource follows `marker`, or a glob of either.
fn is_entry(text: &str, service: &str, marker: &str) -> bool {
    let name_ok = |n: &str| {
        (1..=128).contains(&n.len())
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.*?".contains(&b))
            && !n.contains("..")
    };
    match text.strip_prefix("arn:") {
        Some(rest) => {
            let head_ok = |h: &str| {
                h.split(':').nth(1) == Some(service)
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-:*?".contains(&b))
            };
            rest.split_once(marker)
                .is_some_and(|(head, name)| head_ok(head) && name_ok(name))
        }
        None => name_ok(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_names_arns_or_globs_and_match_as_written() {
        let config = RunbooksConfig {
            documents: vec![
                "AWSSupport-ContainIAMPrincipal".into(),
                "Remedy-*".into(),
                "arn:aws:ssm:us-east-1:123456789012:document/Shared".into(),
            ],
            state_machines: vec!["arn:aws:states:*:123456789012:stateMachine:respond-*".into()],
            ..RunbooksConfig::default()
        };
        config.check().unwrap();
        assert!(config.allows_document("AWSSupport-ContainIAMPrincipal"));
        assert!(config.allows_document("Remedy-Forensics"));
        assert!(!config.allows_document("AWS-DeleteStack"));
        assert!(config.allows_state_machine(
            "arn:aws:states:eu-west-1:123456789012:stateMachine:respond-ec2"
        ));
        assert!(!config.allows_state_machine("respond-ec2"));
        for bad in ["../x", "", "arn:aws:s3:::b/document/x", "a b"] {
            let c = RunbooksConfig {
                documents: vec![bad.into()],
                ..RunbooksConfig::default()
            };
            assert!(c.check().is_err(), "{bad}");
        }
        let c = RunbooksConfig {
            state_machines: vec!["arn:aws:ssm:us-east-1:1:stateMachine:x".into()],
            ..RunbooksConfig::default()
        };
        assert!(
            c.check()
                .unwrap_err()
                .to_string()
                .contains("state_machines")
        );
        let c = RunbooksConfig {
            isolation_parameters: [("Action".to_owned(), "Release".to_owned())].into(),
            ..RunbooksConfig::default()
        };
        assert!(c.check().is_err());
        let c = RunbooksConfig {
            automation_role: Some("arn:aws:iam::{account}:role/remedy-automation".into()),
            ..RunbooksConfig::default()
        };
        c.check().unwrap();
        assert_eq!(
            c.automation_role_in("123456789012").as_deref(),
            Some("arn:aws:iam::123456789012:role/remedy-automation")
        );
    }
}
