//! Handing off to runbooks and state machines: SSM Automation ([`StartAutomation`]), Step
//! Functions ([`StartExecution`]) and the AWS containment runbook for instances
//! ([`IsolateInstance`]); the scope rule for the parameters they pass.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::FindingContext;
use crate::id::{InstanceId, digest};

/// The AWS runbook [`IsolateInstance`] starts: it moves the instance's network interfaces to a
/// containment security group (`Action=Contain`) and restores them (`Action=Release`).
pub const ISOLATION_DOCUMENT: &str = "AWSSupport-ContainEC2Instance";

/// Start an SSM Automation runbook in the finding's account and region.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartAutomation {
    /// The Automation document (runbook) name or ARN, e.g. `AWSSupport-ContainIAMPrincipal`.
    pub document: String,
    /// Runbook parameters: name to list of values, as SSM takes them.
    #[serde(default)]
    pub parameters: BTreeMap<String, Vec<String>>,
}

/// Start a Step Functions state machine; its input is the finding's context and `input`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartExecution {
    /// The state machine's name or ARN.
    pub state_machine: String,
    /// What the policy passes (the execution's input holds it as `params`, next to `finding`).
    #[serde(default)]
    pub input: Map<String, Value>,
}

/// Isolate an instance with [`ISOLATION_DOCUMENT`] (`Action=Contain`); undone by releasing it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsolateInstance {
    /// The instance to isolate.
    pub instance_id: InstanceId,
}

impl StartAutomation {
    /// The action's target: the document and a digest of its parameters (two runs of one
    /// runbook with other parameters are two actions).
    pub(crate) fn target(&self) -> String {
        let params = serde_json::to_string(&self.parameters).unwrap_or_default();
        format!("automation:{}:{}", self.document, digest(&params))
    }
}

impl StartExecution {
    /// The action's target: the state machine and a digest of the policy's input.
    pub(crate) fn target(&self) -> String {
        let input = serde_json::to_string(&self.input).unwrap_or_default();
        format!("execution:{}:{}", self.state_machine, digest(&input))
    }
}

/// ` with InstanceId=i-…, …`: a runbook's parameters in a few words (the first three).
pub(super) fn listed(parameters: &BTreeMap<String, Vec<String>>) -> String {
    let shown: Vec<String> = parameters
        .iter()
        .take(3)
        .map(|(k, v)| format!("{k}={}", v.join(",")))
        .collect();
    let more = if parameters.len() > 3 { ", …" } else { "" };
    if shown.is_empty() {
        String::new()
    } else {
        format!(" with {}{more}", shown.join(", "))
    }
}

/// What a parameter's name says its values are, when they name something remedy guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    Instance,
    Principal,
    Bucket,
}

/// What a parameter named `name` names. Parameters saying where results go (`Backup…`,
/// `Output…`, `Log…`) and the role the runbook runs as (`AutomationAssumeRole`) name nothing
/// the finding must: they are remedy's own resources.
fn named_by(name: &str) -> Option<Named> {
    let n = name.to_ascii_lowercase();
    if n == "automationassumerole" || ["backup", "output", "log"].iter().any(|p| n.starts_with(p)) {
        return None;
    }
    if n.contains("instance") {
        Some(Named::Instance)
    } else if n.contains("bucket") {
        Some(Named::Bucket)
    } else if ["username", "rolename", "principal", "userarn", "rolearn"]
        .iter()
        .any(|p| n.contains(p))
    {
        Some(Named::Principal)
    } else {
        None
    }
}

/// The last part of an ARN's resource (`arn:aws:iam::1:role/path/web` → `web`), or the value.
fn resource_name(value: &str) -> &str {
    if value.starts_with("arn:") {
        value.rsplit(['/', ':']).next().unwrap_or(value)
    } else {
        value
    }
}

/// Why the value of parameter `name` is not the finding's to touch, if it is not: an instance
/// must be one of the finding's instances, a principal the finding's principal; the finding
/// names no bucket, so a bucket is out of scope. Any value shaped like an instance id, whatever
/// its parameter's name, must be one of the finding's instances.
fn value_out_of_scope(name: &str, value: &str, finding: &FindingContext) -> Option<String> {
    let instance = |id: &str| {
        (!finding.instance_ids.iter().any(|f| f.as_str() == id))
            .then(|| format!("instance `{id}` in `{name}` (not one of the finding's instances)"))
    };
    match named_by(name) {
        Some(Named::Instance) => instance(resource_name(value)),
        Some(Named::Principal) => {
            let who = resource_name(value);
            (!finding.names().any(|n| n == who))
                .then(|| format!("principal `{who}` in `{name}` (not named by the finding)"))
        }
        Some(Named::Bucket) => Some(format!(
            "bucket `{}` in `{name}` (the finding names no bucket)",
            resource_name(value)
        )),
        None if InstanceId::new(value).is_ok() => instance(value),
        None => None,
    }
}

/// The names the values of parameter `name` give (ARNs cut to their last part), when its name
/// says it names a target or a value is shaped like an instance id.
fn named_values<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let by_name = named_by(name).is_some();
    values
        .filter(|v| by_name || InstanceId::new(*v).is_ok())
        .map(|v| resource_name(v).to_owned())
        .collect()
}

impl StartAutomation {
    /// What the parameters name (instances, principals, buckets), for protection rules.
    pub(crate) fn named(&self) -> Vec<String> {
        self.parameters
            .iter()
            .flat_map(|(k, v)| named_values(k, v.iter().map(String::as_str)))
            .collect()
    }

    /// Why a parameter names something the finding does not, if one does.
    pub(crate) fn out_of_scope(&self, finding: &FindingContext) -> Option<String> {
        self.parameters.iter().find_map(|(name, values)| {
            values
                .iter()
                .find_map(|v| value_out_of_scope(name, v, finding))
        })
    }
}

impl StartExecution {
    /// What the input names (instances, principals, buckets), for protection rules.
    pub(crate) fn named(&self) -> Vec<String> {
        fn walk(name: &str, value: &Value, out: &mut Vec<String>, depth: usize) {
            match value {
                Value::String(s) => out.extend(named_values(name, std::iter::once(s.as_str()))),
                Value::Array(items) if depth < 32 => {
                    items.iter().for_each(|v| walk(name, v, out, depth + 1));
                }
                Value::Object(map) if depth < 32 => {
                    map.iter().for_each(|(k, v)| walk(k, v, out, depth + 1));
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        self.input.iter().for_each(|(k, v)| walk(k, v, &mut out, 0));
        out
    }

    /// Why a field of the input names something the finding does not, if one does (nested
    /// objects and lists included).
    pub(crate) fn out_of_scope(&self, finding: &FindingContext) -> Option<String> {
        fn walk(
            name: &str,
            value: &Value,
            finding: &FindingContext,
            depth: usize,
        ) -> Option<String> {
            match value {
                Value::String(s) => value_out_of_scope(name, s, finding),
                Value::Array(items) if depth < 32 => {
                    items.iter().find_map(|v| walk(name, v, finding, depth + 1))
                }
                Value::Object(map) if depth < 32 => {
                    map.iter().find_map(|(k, v)| walk(k, v, finding, depth + 1))
                }
                _ => None,
            }
        }
        self.input.iter().find_map(|(k, v)| walk(k, v, finding, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{FindingType, Severity};
    use crate::plan::Principal;

    fn finding() -> FindingContext {
        let mut f = FindingContext::new(
            "f",
            FindingType::new("UnauthorizedAccess:EC2/SSHBruteForce").unwrap(),
            Severity::MIN,
        );
        f.instance_ids = vec!["i-0abc1234".into()];
        f.principal = Some(Principal {
            user_name: Some("alice".into()),
            user_type: Some("IAMUser".into()),
            ..Principal::default()
        });
        f
    }

    fn automation(params: &[(&str, &str)]) -> StartAutomation {
        StartAutomation {
            document: "Doc".into(),
            parameters: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()]))
                .collect(),
        }
    }

    #[test]
    fn parameters_naming_targets_stay_in_the_findings_scope() {
        let f = finding();
        assert_eq!(
            automation(&[("InstanceId", "i-0abc1234")]).out_of_scope(&f),
            None
        );
        assert!(
            automation(&[("InstanceId", "i-0def5678")])
                .out_of_scope(&f)
                .unwrap()
                .contains("i-0def5678")
        );
        // An instance id under any name is still an instance.
        assert!(
            automation(&[("Target", "i-0def5678")])
                .out_of_scope(&f)
                .is_some()
        );
        assert_eq!(automation(&[("UserName", "alice")]).out_of_scope(&f), None);
        assert_eq!(
            automation(&[("PrincipalArn", "arn:aws:iam::123456789012:user/alice")])
                .out_of_scope(&f),
            None
        );
        assert!(
            automation(&[("RoleName", "admin")])
                .out_of_scope(&f)
                .is_some()
        );
        assert!(
            automation(&[("BucketName", "data")])
                .out_of_scope(&f)
                .is_some()
        );
        // remedy's own resources are not targets.
        for own in [
            (
                "AutomationAssumeRole",
                "arn:aws:iam::123456789012:role/automation",
            ),
            ("BackupS3BucketName", "forensics"),
            ("Comment", "anything"),
        ] {
            assert_eq!(automation(&[own]).out_of_scope(&f), None, "{own:?}");
        }
        let nested = StartExecution {
            state_machine: "m".into(),
            input: serde_json::json!({"targets": [{"instanceId": "i-0def5678"}]})
                .as_object()
                .cloned()
                .unwrap(),
        };
        assert!(nested.out_of_scope(&f).unwrap().contains("i-0def5678"));
    }

    #[test]
    fn targets_tell_parameters_apart() {
        let a = automation(&[("InstanceId", "i-0abc1234")]);
        let b = automation(&[("InstanceId", "i-0abc1235")]);
        assert!(a.target().starts_with("automation:Doc:"));
        assert_ne!(a.target(), b.target());
        assert_eq!(a.target(), a.clone().target());
    }
}
