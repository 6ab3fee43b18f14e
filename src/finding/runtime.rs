//! The details GuardDuty's Runtime Monitoring and EKS protection findings carry beyond the
//! resource: the process (`service.runtimeDetails.process`) and the Kubernetes workload and user
//! (`resource.kubernetesDetails`). Same conventions as [`super::resource`]; the text fields are
//! read leniently (an object where a name belongs is nothing).

use serde::Deserialize;

use super::lenient::{opt_string_loose, vec_or_null};
use super::text::Text;

/// `service.runtimeDetails`: what Runtime Monitoring saw on the host or in the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct RuntimeDetails {
    /// The process that acted.
    #[serde(alias = "Process")]
    pub process: Option<RuntimeProcess>,
}

/// A process Runtime Monitoring saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct RuntimeProcess {
    /// The process name.
    #[serde(alias = "Name", deserialize_with = "opt_string_loose")]
    pub name: Option<Text>,
    /// The executable's path.
    #[serde(alias = "ExecutablePath", deserialize_with = "opt_string_loose")]
    pub executable_path: Option<Text>,
    /// The executable's SHA-256.
    #[serde(alias = "ExecutableSha256", deserialize_with = "opt_string_loose")]
    pub executable_sha256: Option<Text>,
    /// The process id (as text).
    #[serde(alias = "Pid", deserialize_with = "opt_string_loose")]
    pub pid: Option<Text>,
    /// The user the process ran as.
    #[serde(alias = "User", deserialize_with = "opt_string_loose")]
    pub user: Option<Text>,
}

/// `resource.kubernetesDetails`: the workload and the Kubernetes user of an EKS finding.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct KubernetesDetails {
    /// The workload (pod, deployment, ...).
    #[serde(alias = "KubernetesWorkloadDetails")]
    pub kubernetes_workload_details: Option<KubernetesWorkload>,
    /// The Kubernetes user.
    #[serde(alias = "KubernetesUserDetails")]
    pub kubernetes_user_details: Option<KubernetesUser>,
}

/// A Kubernetes workload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct KubernetesWorkload {
    /// The workload's name.
    #[serde(alias = "Name", deserialize_with = "opt_string_loose")]
    pub name: Option<Text>,
    /// Its type (`pods`, `deployments`, ...).
    #[serde(rename = "type", alias = "Type", deserialize_with = "opt_string_loose")]
    pub workload_type: Option<Text>,
    /// Its namespace.
    #[serde(alias = "Namespace", deserialize_with = "opt_string_loose")]
    pub namespace: Option<Text>,
    /// Its uid.
    #[serde(alias = "Uid", deserialize_with = "opt_string_loose")]
    pub uid: Option<Text>,
}

/// A Kubernetes user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct KubernetesUser {
    /// The user name (`system:anonymous`).
    #[serde(alias = "Username", deserialize_with = "opt_string_loose")]
    pub username: Option<Text>,
    /// The user's uid.
    #[serde(alias = "Uid", deserialize_with = "opt_string_loose")]
    pub uid: Option<Text>,
    /// The user's groups.
    #[serde(alias = "Groups", deserialize_with = "vec_or_null")]
    pub groups: Vec<Text>,
}
