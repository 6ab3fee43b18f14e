//! The resource a finding is about: its [`ResourceKind`] and every details block it carries.
//!
//! Every struct accepts the canonical camelCase keys and their PascalCase spelling, ignores unknown
//! fields and treats `null` like a missing field. Only the fields remedy reads are typed; the whole
//! finding stays available through [`Finding::json`](super::Finding::json).

use std::fmt;

use serde::Deserialize;
use time::OffsetDateTime;

use super::lenient::{opt_id, opt_string, opt_string_loose, opt_time, vec_or_null};
use super::runtime::KubernetesDetails;
use super::text::Text;

/// A resource tag (`key` = `value`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct Tag {
    /// The tag key.
    #[serde(alias = "Key", deserialize_with = "opt_string_or_empty")]
    pub key: Text,
    /// The tag value (empty if absent).
    #[serde(alias = "Value", deserialize_with = "opt_string_or_empty")]
    pub value: Text,
}

fn opt_string_or_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
    opt_string(d).map(Option::unwrap_or_default)
}

/// The IAM principal and access key a finding names (`resource.accessKeyDetails`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct AccessKeyDetails {
    /// The access key id (`AKIA…` for IAM users, `ASIA…` for temporary credentials).
    #[serde(alias = "AccessKeyId", deserialize_with = "opt_id")]
    pub access_key_id: Option<Text>,
    /// The principal id (`AIDA…`, `AROA…:session`).
    #[serde(alias = "PrincipalId", deserialize_with = "opt_id")]
    pub principal_id: Option<Text>,
    /// The user name (or role name for assumed roles).
    #[serde(alias = "UserName", deserialize_with = "opt_id")]
    pub user_name: Option<Text>,
    /// The user type (`IAMUser`, `AssumedRole`, `Root`, `FederatedUser`, ...).
    #[serde(alias = "UserType", deserialize_with = "opt_id")]
    pub user_type: Option<Text>,
}

/// An IAM instance profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct IamInstanceProfile {
    /// The profile ARN.
    #[serde(alias = "Arn", deserialize_with = "opt_string")]
    pub arn: Option<Text>,
    /// The profile id.
    #[serde(alias = "Id", deserialize_with = "opt_string")]
    pub id: Option<Text>,
}

/// An EC2 instance (`resource.instanceDetails`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct InstanceDetails {
    /// The instance id (`i-…`).
    #[serde(alias = "InstanceId", deserialize_with = "opt_id")]
    pub instance_id: Option<Text>,
    /// The instance type (`t3.micro`).
    #[serde(alias = "InstanceType", deserialize_with = "opt_string")]
    pub instance_type: Option<Text>,
    /// The instance state (`running`).
    #[serde(alias = "InstanceState", deserialize_with = "opt_string")]
    pub instance_state: Option<Text>,
    /// The AMI id.
    #[serde(alias = "ImageId", deserialize_with = "opt_string")]
    pub image_id: Option<Text>,
    /// The availability zone.
    #[serde(alias = "AvailabilityZone", deserialize_with = "opt_string")]
    pub availability_zone: Option<Text>,
    /// The platform (`windows`), if given.
    #[serde(alias = "Platform", deserialize_with = "opt_string_loose")]
    pub platform: Option<Text>,
    /// When the instance was launched.
    #[serde(alias = "LaunchTime", deserialize_with = "opt_time")]
    pub launch_time: Option<OffsetDateTime>,
    /// The instance profile, if any.
    #[serde(alias = "IamInstanceProfile")]
    pub iam_instance_profile: Option<IamInstanceProfile>,
    /// The instance's tags.
    #[serde(alias = "Tags", deserialize_with = "vec_or_null")]
    pub tags: Vec<Tag>,
}

/// An S3 bucket (`resource.s3BucketDetails[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct S3BucketDetails {
    /// The bucket name.
    #[serde(alias = "Name", deserialize_with = "opt_string")]
    pub name: Option<Text>,
    /// The bucket ARN.
    #[serde(alias = "Arn", deserialize_with = "opt_string")]
    pub arn: Option<Text>,
    /// The bucket's role in the finding (`Destination`, `Source`).
    #[serde(rename = "type", alias = "Type", deserialize_with = "opt_string")]
    pub bucket_type: Option<Text>,
    /// The bucket's tags.
    #[serde(alias = "Tags", deserialize_with = "vec_or_null")]
    pub tags: Vec<Tag>,
}

/// A named cluster, function or database: the fields the EKS, ECS, Lambda and RDS details share.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct NamedResource {
    /// The name (`name`, `functionName`, `dbInstanceIdentifier`).
    #[serde(
        alias = "Name",
        alias = "functionName",
        alias = "FunctionName",
        alias = "dbInstanceIdentifier",
        alias = "DbInstanceIdentifier",
        deserialize_with = "opt_string"
    )]
    pub name: Option<Text>,
    /// The ARN (`arn`, `functionArn`, `dbInstanceArn`).
    #[serde(
        alias = "Arn",
        alias = "functionArn",
        alias = "FunctionArn",
        alias = "dbInstanceArn",
        alias = "DbInstanceArn",
        deserialize_with = "opt_string"
    )]
    pub arn: Option<Text>,
    /// The status, if given.
    #[serde(alias = "Status", deserialize_with = "opt_string_loose")]
    pub status: Option<Text>,
    /// The tags.
    #[serde(alias = "Tags", deserialize_with = "vec_or_null")]
    pub tags: Vec<Tag>,
}

/// A container (`resource.containerDetails`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ContainerDetails {
    /// The container id.
    #[serde(alias = "Id", deserialize_with = "opt_string")]
    pub id: Option<Text>,
    /// The container name.
    #[serde(alias = "Name", deserialize_with = "opt_string")]
    pub name: Option<Text>,
    /// The image.
    #[serde(alias = "Image", deserialize_with = "opt_string")]
    pub image: Option<Text>,
}

/// The resource a finding is about, with every details block it carries. The blocks of
/// resource families other than access keys are boxed, which keeps this struct small to move.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ResourceDetails {
    /// `resourceType` as written in the finding.
    #[serde(alias = "ResourceType", deserialize_with = "opt_string")]
    pub resource_type: Option<Text>,
    /// `accessKeyDetails`.
    #[serde(rename = "accessKeyDetails", alias = "AccessKeyDetails")]
    pub access_key: Option<AccessKeyDetails>,
    /// `instanceDetails`.
    #[serde(rename = "instanceDetails", alias = "InstanceDetails")]
    pub instance: Option<Box<InstanceDetails>>,
    /// `s3BucketDetails`.
    #[serde(
        rename = "s3BucketDetails",
        alias = "S3BucketDetails",
        deserialize_with = "vec_or_null"
    )]
    pub s3_buckets: Vec<S3BucketDetails>,
    /// `eksClusterDetails`.
    #[serde(rename = "eksClusterDetails", alias = "EksClusterDetails")]
    pub eks_cluster: Option<Box<NamedResource>>,
    /// `ecsClusterDetails`.
    #[serde(rename = "ecsClusterDetails", alias = "EcsClusterDetails")]
    pub ecs_cluster: Option<Box<NamedResource>>,
    /// `containerDetails`.
    #[serde(rename = "containerDetails", alias = "ContainerDetails")]
    pub container: Option<Box<ContainerDetails>>,
    /// `lambdaDetails`.
    #[serde(rename = "lambdaDetails", alias = "LambdaDetails")]
    pub lambda: Option<Box<NamedResource>>,
    /// `rdsDbInstanceDetails`.
    #[serde(rename = "rdsDbInstanceDetails", alias = "RdsDbInstanceDetails")]
    pub rds_db_instance: Option<Box<NamedResource>>,
    /// `kubernetesDetails`: the workload and the Kubernetes user.
    #[serde(rename = "kubernetesDetails", alias = "KubernetesDetails")]
    pub kubernetes: Option<Box<KubernetesDetails>>,
}

/// What kind of resource a finding is about, from `resourceType`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResourceKind {
    /// `AccessKey`: an IAM principal's credentials.
    AccessKey,
    /// `Instance`: an EC2 instance.
    Instance,
    /// `S3Bucket`.
    S3Bucket,
    /// `S3Object`.
    S3Object,
    /// `EKSCluster`.
    EksCluster,
    /// `ECSCluster`.
    EcsCluster,
    /// `Container`.
    Container,
    /// `Lambda`.
    Lambda,
    /// `RDSDBInstance`.
    RdsDbInstance,
    /// `RDSLimitlessDB`.
    RdsLimitlessDb,
    /// `KubernetesCluster`.
    KubernetesCluster,
    /// `AttackSequence`: an extended threat detection sequence.
    AttackSequence,
    /// Any other (or a missing) `resourceType`, kept as written (empty if missing).
    Other(String),
}

/// The known kinds and their `resourceType` names.
const KINDS: &[(ResourceKind, &str)] = &[
    (ResourceKind::AccessKey, "AccessKey"),
    (ResourceKind::Instance, "Instance"),
    (ResourceKind::S3Bucket, "S3Bucket"),
    (ResourceKind::S3Object, "S3Object"),
    (ResourceKind::EksCluster, "EKSCluster"),
    (ResourceKind::EcsCluster, "ECSCluster"),
    (ResourceKind::Container, "Container"),
    (ResourceKind::Lambda, "Lambda"),
    (ResourceKind::RdsDbInstance, "RDSDBInstance"),
    (ResourceKind::RdsLimitlessDb, "RDSLimitlessDB"),
    (ResourceKind::KubernetesCluster, "KubernetesCluster"),
    (ResourceKind::AttackSequence, "AttackSequence"),
];

impl ResourceKind {
    /// The kind of a `resourceType` as written.
    pub fn from_name(name: &str) -> Self {
        KINDS
            .iter()
            .find(|(_, n)| *n == name)
            .map_or_else(|| Self::Other(name.to_owned()), |(k, _)| k.clone())
    }

    /// The `resourceType` name (`AccessKey`, `EKSCluster`, ...; as written for other kinds).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(name) => name,
            known => KINDS
                .iter()
                .find(|(k, _)| k == known)
                .map_or("", |(_, n)| n),
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The resource of a finding: its kind (from `resourceType`) and every details block the finding
/// carries (an S3 finding also names the access key that touched the bucket).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    kind: ResourceKind,
    details: ResourceDetails,
}

impl Resource {
    /// The resource described by `details`, its kind read from `resourceType`.
    pub fn from_details(details: ResourceDetails) -> Self {
        let kind = ResourceKind::from_name(details.resource_type.as_deref().unwrap_or(""));
        Self { kind, details }
    }

    /// The kind.
    pub fn kind(&self) -> &ResourceKind {
        &self.kind
    }

    /// The details blocks.
    pub fn details(&self) -> &ResourceDetails {
        &self.details
    }

    /// The `resourceType` as written in the finding (`AccessKey`, `Instance`, ...; empty if missing).
    pub fn resource_type(&self) -> &str {
        self.kind.as_str()
    }
}

impl Default for Resource {
    fn default() -> Self {
        Self::from_details(ResourceDetails::default())
    }
}
