//! GuardDuty Extended Threat Detection: the attack sequence of an `AttackSequence:*` finding
//! (`service.detection.sequence`), after the GuardDuty API reference's `Detection`, `Sequence`,
//! `Actor`, `ResourceV2`, `NetworkEndpoint`, `Signal` and `Indicator` shapes.
//!
//! Same conventions as [`super::resource`]: camelCase keys (PascalCase accepted), unknown fields
//! ignored, `null` as missing. Identifiers (user names, key ids, principal ids) are strings and
//! nothing else; other fields are read leniently.

use serde::Deserialize;
use time::OffsetDateTime;

use super::lenient::{opt_id, opt_string, opt_string_loose, opt_time_loose, vec_or_null};
use super::resource::Tag;
use super::text::Text;

/// `service.detection`: how GuardDuty detected the activity.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct Detection {
    /// The attack sequence, for `AttackSequence:*` findings.
    #[serde(alias = "Sequence")]
    pub sequence: Option<Sequence>,
}

/// An attack sequence: who acted, on what, from where, and the signals that make it up.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct Sequence {
    /// The sequence's id.
    #[serde(alias = "Uid", deserialize_with = "opt_string")]
    pub uid: Option<Text>,
    /// GuardDuty's description of the sequence.
    #[serde(alias = "Description", deserialize_with = "opt_string_loose")]
    pub description: Option<String>,
    /// The actors: the principals (and their sessions, processes) that took part.
    #[serde(alias = "Actors", deserialize_with = "vec_or_null")]
    pub actors: Vec<Actor>,
    /// The resources the sequence touched.
    #[serde(alias = "Resources", deserialize_with = "vec_or_null")]
    pub resources: Vec<SequenceResource>,
    /// The network endpoints involved.
    #[serde(alias = "Endpoints", deserialize_with = "vec_or_null")]
    pub endpoints: Vec<Endpoint>,
    /// The signals (findings, API calls, runtime events) the sequence was built from.
    #[serde(alias = "Signals", deserialize_with = "vec_or_null")]
    pub signals: Vec<Signal>,
    /// What marks the sequence (MITRE tactics and techniques, Tor or malicious IPs, high-risk APIs).
    #[serde(alias = "SequenceIndicators", deserialize_with = "vec_or_null")]
    pub sequence_indicators: Vec<Indicator>,
}

/// One actor of a sequence.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct Actor {
    /// The actor's id (signals refer to it).
    #[serde(alias = "Id", deserialize_with = "opt_string")]
    pub id: Option<Text>,
    /// The principal.
    #[serde(alias = "User")]
    pub user: Option<ActorUser>,
    /// The session the principal acted in.
    #[serde(alias = "Session")]
    pub session: Option<ActorSession>,
    /// The process that acted (runtime signals).
    #[serde(alias = "Process")]
    pub process: Option<ActorProcess>,
}

/// The principal of an actor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActorUser {
    /// The user (or role) name.
    #[serde(alias = "Name", deserialize_with = "opt_id")]
    pub name: Option<Text>,
    /// The principal id (`AIDA…`, `AROA…:session`).
    #[serde(alias = "Uid", deserialize_with = "opt_id")]
    pub uid: Option<Text>,
    /// The principal type (`IAMUser`, `AssumedRole`, `Root`, ...).
    #[serde(rename = "type", alias = "Type", deserialize_with = "opt_id")]
    pub user_type: Option<Text>,
    /// The access key id the principal used.
    #[serde(alias = "CredentialUid", deserialize_with = "opt_id")]
    pub credential_uid: Option<Text>,
    /// The principal's account.
    #[serde(alias = "Account")]
    pub account: Option<ActorAccount>,
}

/// The account of an actor's principal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActorAccount {
    /// The account id.
    #[serde(alias = "Uid", deserialize_with = "opt_id")]
    pub uid: Option<Text>,
    /// The account name.
    #[serde(alias = "Name", deserialize_with = "opt_string_loose")]
    pub name: Option<Text>,
}

/// The session of an actor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActorSession {
    /// The session id.
    #[serde(alias = "Uid", deserialize_with = "opt_string_loose")]
    pub uid: Option<Text>,
    /// Whether the session used MFA (`ENABLED`, `DISABLED`).
    #[serde(alias = "MfaStatus", deserialize_with = "opt_string_loose")]
    pub mfa_status: Option<Text>,
    /// When the session was created.
    #[serde(alias = "CreatedTime", deserialize_with = "opt_time_loose")]
    pub created_time: Option<OffsetDateTime>,
    /// Who issued the session (the role's ARN).
    #[serde(alias = "Issuer", deserialize_with = "opt_string_loose")]
    pub issuer: Option<Text>,
}

/// The process of an actor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActorProcess {
    /// The process name.
    #[serde(alias = "Name", deserialize_with = "opt_string_loose")]
    pub name: Option<Text>,
    /// The executable's path.
    #[serde(alias = "Path", deserialize_with = "opt_string_loose")]
    pub path: Option<Text>,
    /// The executable's SHA-256.
    #[serde(alias = "Sha256", deserialize_with = "opt_string_loose")]
    pub sha256: Option<Text>,
}

/// A resource of a sequence (`ResourceV2`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct SequenceResource {
    /// The resource's id (an instance id, a bucket name, an ARN, an access key id).
    #[serde(alias = "Uid", deserialize_with = "opt_id")]
    pub uid: Option<Text>,
    /// The resource's name.
    #[serde(alias = "Name", deserialize_with = "opt_string_loose")]
    pub name: Option<Text>,
    /// The account the resource is in.
    #[serde(alias = "AccountId", deserialize_with = "opt_string_loose")]
    pub account_id: Option<Text>,
    /// `EC2_INSTANCE`, `S3_BUCKET`, `S3_OBJECT`, `ACCESS_KEY`, `EKS_CLUSTER`, ...
    #[serde(alias = "ResourceType", deserialize_with = "opt_string_loose")]
    pub resource_type: Option<Text>,
    /// The region.
    #[serde(alias = "Region", deserialize_with = "opt_string_loose")]
    pub region: Option<Text>,
    /// The AWS service (`s3`, `ec2`, `iam`).
    #[serde(alias = "Service", deserialize_with = "opt_string_loose")]
    pub service: Option<Text>,
    /// The resource's tags.
    #[serde(alias = "Tags", deserialize_with = "vec_or_null")]
    pub tags: Vec<Tag>,
    /// The details of the resource by its type (only the parts remedy reads are typed; the
    /// whole object is in the canonical JSON).
    #[serde(alias = "Data")]
    pub data: Option<SequenceResourceData>,
}

/// The typed parts of a sequence resource's `data`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct SequenceResourceData {
    /// `accessKey`: the key's principal.
    #[serde(alias = "AccessKey")]
    pub access_key: Option<SequenceAccessKey>,
    /// `s3Object`: the object.
    #[serde(alias = "S3Object")]
    pub s3_object: Option<SequenceS3Object>,
}

/// The principal of an `ACCESS_KEY` resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct SequenceAccessKey {
    /// The principal id.
    #[serde(alias = "PrincipalId", deserialize_with = "opt_id")]
    pub principal_id: Option<Text>,
    /// The user (or role) name.
    #[serde(alias = "UserName", deserialize_with = "opt_id")]
    pub user_name: Option<Text>,
    /// The principal type.
    #[serde(alias = "UserType", deserialize_with = "opt_id")]
    pub user_type: Option<Text>,
}

/// An `S3_OBJECT` resource's object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct SequenceS3Object {
    /// The object key.
    #[serde(alias = "Key", deserialize_with = "opt_string_loose")]
    pub key: Option<Text>,
    /// The version id.
    #[serde(alias = "VersionId", deserialize_with = "opt_string_loose")]
    pub version_id: Option<Text>,
    /// The ETag.
    #[serde(alias = "ETag", alias = "eTag", deserialize_with = "opt_string_loose")]
    pub e_tag: Option<Text>,
}

/// A network endpoint of a sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct Endpoint {
    /// The endpoint's id (signals refer to it).
    #[serde(alias = "Id", deserialize_with = "opt_string_loose")]
    pub id: Option<Text>,
    /// The IP address.
    #[serde(alias = "Ip", deserialize_with = "opt_string_loose")]
    pub ip: Option<Text>,
    /// The domain.
    #[serde(alias = "Domain", deserialize_with = "opt_string_loose")]
    pub domain: Option<Text>,
    /// Where the address is.
    #[serde(alias = "Location")]
    pub location: Option<EndpointLocation>,
    /// The network the address belongs to.
    #[serde(alias = "AutonomousSystem")]
    pub autonomous_system: Option<AutonomousSystem>,
}

/// Where an endpoint is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct EndpointLocation {
    /// The city.
    #[serde(alias = "City", deserialize_with = "opt_string_loose")]
    pub city: Option<Text>,
    /// The country.
    #[serde(alias = "Country", deserialize_with = "opt_string_loose")]
    pub country: Option<Text>,
}

/// The autonomous system of an endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct AutonomousSystem {
    /// Its name.
    #[serde(alias = "Name", deserialize_with = "opt_string_loose")]
    pub name: Option<Text>,
    /// Its number (as text).
    #[serde(alias = "Number", deserialize_with = "opt_string_loose")]
    pub number: Option<Text>,
}

/// A signal of a sequence.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct Signal {
    /// The signal's id.
    #[serde(alias = "Uid", deserialize_with = "opt_string_loose")]
    pub uid: Option<Text>,
    /// `FINDING`, `CLOUD_TRAIL`, `S3_DATA_EVENTS`, ...
    #[serde(rename = "type", alias = "Type", deserialize_with = "opt_string_loose")]
    pub signal_type: Option<Text>,
    /// The signal's name (a finding type, an API name).
    #[serde(alias = "Name", deserialize_with = "opt_string_loose")]
    pub name: Option<Text>,
    /// The description.
    #[serde(alias = "Description", deserialize_with = "opt_string_loose")]
    pub description: Option<String>,
    /// The signal's severity, when it is a finding.
    #[serde(alias = "Severity", deserialize_with = "opt_f64")]
    pub severity: Option<f64>,
    /// How many times it was seen.
    #[serde(alias = "Count", deserialize_with = "opt_f64")]
    pub count: Option<f64>,
    /// The ids of the actors of the signal.
    #[serde(alias = "ActorIds", deserialize_with = "vec_or_null")]
    pub actor_ids: Vec<Text>,
    /// The ids of the resources of the signal.
    #[serde(alias = "ResourceUids", deserialize_with = "vec_or_null")]
    pub resource_uids: Vec<Text>,
    /// The ids of the endpoints of the signal.
    #[serde(alias = "EndpointIds", deserialize_with = "vec_or_null")]
    pub endpoint_ids: Vec<Text>,
    /// When first seen.
    #[serde(alias = "FirstSeenAt", deserialize_with = "opt_time_loose")]
    pub first_seen_at: Option<OffsetDateTime>,
    /// When last seen.
    #[serde(alias = "LastSeenAt", deserialize_with = "opt_time_loose")]
    pub last_seen_at: Option<OffsetDateTime>,
}

/// An indicator of a sequence: a key (`ATTACK_TACTIC`, `ATTACK_TECHNIQUE`, `TOR_IP`,
/// `MALICIOUS_IP`, `HIGH_RISK_API`, `SUSPICIOUS_USER_AGENT`, ...) and its values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct Indicator {
    /// The key.
    #[serde(alias = "Key", deserialize_with = "opt_string_loose")]
    pub key: Option<Text>,
    /// The values.
    #[serde(alias = "Values", deserialize_with = "vec_or_null")]
    pub values: Vec<Text>,
    /// A title, if given.
    #[serde(alias = "Title", deserialize_with = "opt_string_loose")]
    pub title: Option<Text>,
}

/// A number, also from a numeric string; anything else is nothing.
fn opt_f64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let text: Option<String> = opt_string_loose(d)?;
    Ok(text
        .and_then(|t| t.trim().parse::<f64>().ok())
        .filter(|n| n.is_finite()))
}

/// An IAM principal an actor or an access-key resource of a sequence names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequencePrincipal<'a> {
    /// The user (or role) name.
    pub user_name: Option<&'a str>,
    /// The principal type.
    pub user_type: Option<&'a str>,
    /// The access key id.
    pub access_key_id: Option<&'a str>,
    /// The principal id.
    pub principal_id: Option<&'a str>,
}

impl Sequence {
    /// Every principal the sequence names: each actor's user, and each `ACCESS_KEY` resource
    /// (its uid is the key id, its data the principal).
    pub fn principals(&self) -> impl Iterator<Item = SequencePrincipal<'_>> {
        let actors =
            self.actors
                .iter()
                .filter_map(|a| a.user.as_ref())
                .map(|u| SequencePrincipal {
                    user_name: u.name.as_deref(),
                    user_type: u.user_type.as_deref(),
                    access_key_id: u.credential_uid.as_deref(),
                    principal_id: u.uid.as_deref(),
                });
        let keys = self
            .resources
            .iter()
            .filter(|r| r.resource_type.as_deref() == Some("ACCESS_KEY"))
            .map(|r| {
                let data = r.data.as_ref().and_then(|d| d.access_key.as_ref());
                SequencePrincipal {
                    user_name: data.and_then(|d| d.user_name.as_deref()),
                    user_type: data.and_then(|d| d.user_type.as_deref()),
                    access_key_id: r.uid.as_deref(),
                    principal_id: data.and_then(|d| d.principal_id.as_deref()),
                }
            });
        actors.chain(keys)
    }

    /// The EC2 instance ids among the sequence's resources (`EC2_INSTANCE`, by uid or name,
    /// the last segment of an ARN).
    pub fn instance_ids(&self) -> impl Iterator<Item = &str> {
        self.resources
            .iter()
            .filter(|r| r.resource_type.as_deref() == Some("EC2_INSTANCE"))
            .filter_map(|r| {
                [r.uid.as_deref(), r.name.as_deref()]
                    .into_iter()
                    .flatten()
                    .map(|s| s.rsplit('/').next().unwrap_or(s))
                    .find(|s| s.starts_with("i-"))
            })
    }

    /// The S3 bucket names among the sequence's resources.
    pub fn bucket_names(&self) -> impl Iterator<Item = &str> {
        self.resources
            .iter()
            .filter(|r| r.resource_type.as_deref() == Some("S3_BUCKET"))
            .filter_map(|r| {
                r.name
                    .as_deref()
                    .or(r.uid.as_deref())
                    .map(|s| s.rsplit(':').next().unwrap_or(s))
            })
    }
}
