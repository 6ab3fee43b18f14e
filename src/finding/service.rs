//! How GuardDuty saw the activity: [`Service`], the observed [`ServiceAction`] and the remote
//! end of it. Same conventions as [`super::resource`]: camelCase or PascalCase keys, unknown
//! fields ignored, `null` as missing.

use std::fmt;

use serde::Deserialize;
use time::OffsetDateTime;

use super::lenient::{opt_bool, opt_string, opt_string_loose, opt_time, opt_u64, vec_or_null};
use super::runtime::RuntimeDetails;
use super::sequence::Detection;
use super::text::Text;

/// A country.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct Country {
    /// The country name (`United States`).
    #[serde(
        rename = "countryName",
        alias = "CountryName",
        deserialize_with = "opt_string"
    )]
    pub name: Option<Text>,
    /// The ISO code (`US`), if given.
    #[serde(
        rename = "countryCode",
        alias = "CountryCode",
        deserialize_with = "opt_string"
    )]
    pub code: Option<Text>,
}

/// The network owner of an IP address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct Organization {
    /// The autonomous system number (a string in GuardDuty's format).
    #[serde(alias = "Asn", deserialize_with = "opt_string")]
    pub asn: Option<Text>,
    /// The autonomous system's organization.
    #[serde(alias = "AsnOrg", deserialize_with = "opt_string")]
    pub asn_org: Option<Text>,
    /// The ISP.
    #[serde(alias = "Isp", deserialize_with = "opt_string")]
    pub isp: Option<Text>,
    /// The organization.
    #[serde(alias = "Org", deserialize_with = "opt_string")]
    pub org: Option<Text>,
}

/// A city.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct City {
    /// The city name.
    #[serde(
        rename = "cityName",
        alias = "CityName",
        deserialize_with = "opt_string"
    )]
    pub name: Option<Text>,
}

/// The remote end of an action (`remoteIpDetails`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct RemoteIpDetails {
    /// The IPv4 address as written.
    #[serde(alias = "IpAddressV4", deserialize_with = "opt_string")]
    pub ip_address_v4: Option<Text>,
    /// The IPv6 address as written.
    #[serde(alias = "IpAddressV6", deserialize_with = "opt_string")]
    pub ip_address_v6: Option<Text>,
    /// The country.
    #[serde(alias = "Country")]
    pub country: Option<Country>,
    /// The city.
    #[serde(alias = "City")]
    pub city: Option<City>,
    /// The network owner.
    #[serde(alias = "Organization")]
    pub organization: Option<Organization>,
}

impl RemoteIpDetails {
    /// The address (IPv4 preferred), if it parses.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        [&self.ip_address_v4, &self.ip_address_v6]
            .into_iter()
            .flatten()
            .find_map(|s| s.trim().parse().ok())
    }
}

/// A port (`localPortDetails`, `remotePortDetails`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct PortDetails {
    /// The port number.
    #[serde(alias = "Port", deserialize_with = "opt_u64")]
    pub port: Option<u64>,
    /// The port's service name (`SSH`).
    #[serde(alias = "PortName", deserialize_with = "opt_string")]
    pub port_name: Option<Text>,
}

/// `awsApiCallAction`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct AwsApiCallAction {
    /// The API name (`GetParameters`).
    #[serde(alias = "Api", deserialize_with = "opt_string")]
    pub api: Option<Text>,
    /// The service (`ssm.amazonaws.com`).
    #[serde(alias = "ServiceName", deserialize_with = "opt_string")]
    pub service_name: Option<Text>,
    /// The caller type (`Remote IP`, `Remote account`).
    #[serde(alias = "CallerType", deserialize_with = "opt_string")]
    pub caller_type: Option<Text>,
    /// The error code, if the call failed.
    #[serde(alias = "ErrorCode", deserialize_with = "opt_string")]
    pub error_code: Option<Text>,
    /// The user agent.
    #[serde(alias = "UserAgent", deserialize_with = "opt_string_loose")]
    pub user_agent: Option<Text>,
    /// The caller's address.
    #[serde(alias = "RemoteIpDetails")]
    pub remote_ip_details: Option<RemoteIpDetails>,
}

/// `networkConnectionAction`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct NetworkConnectionAction {
    /// `INBOUND` or `OUTBOUND`.
    #[serde(alias = "ConnectionDirection", deserialize_with = "opt_string")]
    pub connection_direction: Option<Text>,
    /// `TCP`, `UDP`, ...
    #[serde(alias = "Protocol", deserialize_with = "opt_string")]
    pub protocol: Option<Text>,
    /// Whether the connection was blocked.
    #[serde(alias = "Blocked", deserialize_with = "opt_bool")]
    pub blocked: Option<bool>,
    /// The local port.
    #[serde(alias = "LocalPortDetails")]
    pub local_port_details: Option<PortDetails>,
    /// The remote port.
    #[serde(alias = "RemotePortDetails")]
    pub remote_port_details: Option<PortDetails>,
    /// The remote address.
    #[serde(alias = "RemoteIpDetails")]
    pub remote_ip_details: Option<RemoteIpDetails>,
}

/// One probe of a `portProbeAction`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct PortProbeDetail {
    /// The probed port.
    #[serde(alias = "LocalPortDetails")]
    pub local_port_details: Option<PortDetails>,
    /// The prober.
    #[serde(alias = "RemoteIpDetails")]
    pub remote_ip_details: Option<RemoteIpDetails>,
}

/// `portProbeAction`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct PortProbeAction {
    /// Whether the probes were blocked.
    #[serde(alias = "Blocked", deserialize_with = "opt_bool")]
    pub blocked: Option<bool>,
    /// The probes.
    #[serde(alias = "PortProbeDetails", deserialize_with = "vec_or_null")]
    pub port_probe_details: Vec<PortProbeDetail>,
}

/// `dnsRequestAction`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct DnsRequestAction {
    /// The domain queried.
    #[serde(alias = "Domain", deserialize_with = "opt_string")]
    pub domain: Option<Text>,
    /// The protocol.
    #[serde(alias = "Protocol", deserialize_with = "opt_string")]
    pub protocol: Option<Text>,
    /// Whether the request was blocked.
    #[serde(alias = "Blocked", deserialize_with = "opt_bool")]
    pub blocked: Option<bool>,
}

/// `kubernetesApiCallAction`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct KubernetesApiCallAction {
    /// The request URI.
    #[serde(alias = "RequestUri", deserialize_with = "opt_string")]
    pub request_uri: Option<Text>,
    /// The verb (`get`, `create`, ...).
    #[serde(alias = "Verb", deserialize_with = "opt_string")]
    pub verb: Option<Text>,
    /// The user agent.
    #[serde(alias = "UserAgent", deserialize_with = "opt_string_loose")]
    pub user_agent: Option<Text>,
    /// The HTTP status code.
    #[serde(alias = "StatusCode", deserialize_with = "opt_u64")]
    pub status_code: Option<u64>,
    /// The caller's address.
    #[serde(alias = "RemoteIpDetails")]
    pub remote_ip_details: Option<RemoteIpDetails>,
}

/// `rdsLoginAttemptAction`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct RdsLoginAttemptAction {
    /// The client's address.
    #[serde(alias = "RemoteIpDetails")]
    pub remote_ip_details: Option<RemoteIpDetails>,
}

/// What was observed: the action of a finding, by `actionType`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "ActionRaw")]
#[non_exhaustive]
pub enum ServiceAction {
    /// `AWS_API_CALL`.
    AwsApiCall(AwsApiCallAction),
    /// `NETWORK_CONNECTION`.
    NetworkConnection(NetworkConnectionAction),
    /// `PORT_PROBE`.
    PortProbe(PortProbeAction),
    /// `DNS_REQUEST`.
    DnsRequest(DnsRequestAction),
    /// `KUBERNETES_API_CALL`.
    KubernetesApiCall(KubernetesApiCallAction),
    /// `RDS_LOGIN_ATTEMPT`.
    RdsLoginAttempt(RdsLoginAttemptAction),
    /// Another action type (`KUBERNETES_PERMISSION_CHECKED`, ...), kept by name.
    Other {
        /// The `actionType`.
        action_type: String,
    },
    /// The finding has no action (policy and attack-sequence findings).
    #[default]
    None,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ActionRaw {
    #[serde(alias = "ActionType", deserialize_with = "opt_string")]
    action_type: Option<Text>,
    #[serde(rename = "awsApiCallAction", alias = "AwsApiCallAction")]
    aws_api_call: Option<Box<AwsApiCallAction>>,
    #[serde(rename = "networkConnectionAction", alias = "NetworkConnectionAction")]
    network_connection: Option<Box<NetworkConnectionAction>>,
    #[serde(rename = "portProbeAction", alias = "PortProbeAction")]
    port_probe: Option<Box<PortProbeAction>>,
    #[serde(rename = "dnsRequestAction", alias = "DnsRequestAction")]
    dns_request: Option<Box<DnsRequestAction>>,
    #[serde(rename = "kubernetesApiCallAction", alias = "KubernetesApiCallAction")]
    kubernetes_api_call: Option<Box<KubernetesApiCallAction>>,
    #[serde(rename = "rdsLoginAttemptAction", alias = "RdsLoginAttemptAction")]
    rds_login_attempt: Option<Box<RdsLoginAttemptAction>>,
}

impl From<ActionRaw> for ServiceAction {
    fn from(mut raw: ActionRaw) -> Self {
        let ty = raw.action_type.take().unwrap_or_default();
        match (ty.as_str(), raw) {
            (
                "AWS_API_CALL" | "",
                ActionRaw {
                    aws_api_call: Some(a),
                    ..
                },
            ) => Self::AwsApiCall(*a),
            (
                "NETWORK_CONNECTION" | "",
                ActionRaw {
                    network_connection: Some(a),
                    ..
                },
            ) => Self::NetworkConnection(*a),
            (
                "PORT_PROBE" | "",
                ActionRaw {
                    port_probe: Some(a),
                    ..
                },
            ) => Self::PortProbe(*a),
            (
                "DNS_REQUEST" | "",
                ActionRaw {
                    dns_request: Some(a),
                    ..
                },
            ) => Self::DnsRequest(*a),
            (
                "KUBERNETES_API_CALL" | "",
                ActionRaw {
                    kubernetes_api_call: Some(a),
                    ..
                },
            ) => Self::KubernetesApiCall(*a),
            (
                "RDS_LOGIN_ATTEMPT" | "",
                ActionRaw {
                    rds_login_attempt: Some(a),
                    ..
                },
            ) => Self::RdsLoginAttempt(*a),
            ("AWS_API_CALL", _) => Self::AwsApiCall(AwsApiCallAction::default()),
            ("NETWORK_CONNECTION", _) => {
                Self::NetworkConnection(NetworkConnectionAction::default())
            }
            ("PORT_PROBE", _) => Self::PortProbe(PortProbeAction::default()),
            ("DNS_REQUEST", _) => Self::DnsRequest(DnsRequestAction::default()),
            ("KUBERNETES_API_CALL", _) => {
                Self::KubernetesApiCall(KubernetesApiCallAction::default())
            }
            ("RDS_LOGIN_ATTEMPT", _) => Self::RdsLoginAttempt(RdsLoginAttemptAction::default()),
            ("", _) => Self::None,
            (other, _) => Self::Other {
                action_type: other.to_owned(),
            },
        }
    }
}

impl ServiceAction {
    /// The `actionType` (`AWS_API_CALL`, `NETWORK_CONNECTION`, ...); `None` without an action.
    pub fn action_type(&self) -> Option<&str> {
        Some(match self {
            Self::AwsApiCall(_) => "AWS_API_CALL",
            Self::NetworkConnection(_) => "NETWORK_CONNECTION",
            Self::PortProbe(_) => "PORT_PROBE",
            Self::DnsRequest(_) => "DNS_REQUEST",
            Self::KubernetesApiCall(_) => "KUBERNETES_API_CALL",
            Self::RdsLoginAttempt(_) => "RDS_LOGIN_ATTEMPT",
            Self::Other { action_type } => action_type,
            Self::None => return None,
        })
    }

    /// The remote end of the action (for port probes: the first prober), if any.
    pub fn remote_ip_details(&self) -> Option<&RemoteIpDetails> {
        match self {
            Self::AwsApiCall(a) => a.remote_ip_details.as_ref(),
            Self::NetworkConnection(a) => a.remote_ip_details.as_ref(),
            Self::PortProbe(a) => a
                .port_probe_details
                .iter()
                .find_map(|p| p.remote_ip_details.as_ref()),
            Self::KubernetesApiCall(a) => a.remote_ip_details.as_ref(),
            Self::RdsLoginAttempt(a) => a.remote_ip_details.as_ref(),
            Self::DnsRequest(_) | Self::Other { .. } | Self::None => None,
        }
    }
}

/// One threat list entry of `service.evidence.threatIntelligenceDetails`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ThreatIntelligenceDetail {
    /// The threat list's name.
    #[serde(alias = "ThreatListName", deserialize_with = "opt_string")]
    pub threat_list_name: Option<Text>,
    /// The threat names.
    #[serde(alias = "ThreatNames", deserialize_with = "vec_or_null")]
    pub threat_names: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Evidence {
    #[serde(alias = "ThreatIntelligenceDetails", deserialize_with = "vec_or_null")]
    threat_intelligence_details: Vec<ThreatIntelligenceDetail>,
}

/// `service.additionalInfo`: the fields remedy reads (the rest is in the finding's JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct AdditionalInfo {
    /// `sample`: GuardDuty marks generated sample findings with `true`.
    #[serde(alias = "Sample", deserialize_with = "opt_bool")]
    pub sample: Option<bool>,
    /// `value`: a JSON document as a string (older findings carry `sample` in it).
    #[serde(alias = "Value", deserialize_with = "opt_string_loose")]
    pub value: Option<Text>,
    /// `threatListName` (older findings).
    #[serde(alias = "ThreatListName", deserialize_with = "opt_string")]
    pub threat_list_name: Option<Text>,
    /// `type` (`default`).
    #[serde(rename = "type", alias = "Type", deserialize_with = "opt_string_loose")]
    pub info_type: Option<Text>,
}

/// `service`: how GuardDuty saw the activity.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct Service {
    /// The observed action.
    #[serde(alias = "Action")]
    pub action: ServiceAction,
    /// How many times the activity was seen.
    #[serde(alias = "Count", deserialize_with = "opt_u64")]
    pub count: Option<u64>,
    /// The first time the activity was seen.
    #[serde(alias = "EventFirstSeen", deserialize_with = "opt_time")]
    pub event_first_seen: Option<OffsetDateTime>,
    /// The last time the activity was seen.
    #[serde(alias = "EventLastSeen", deserialize_with = "opt_time")]
    pub event_last_seen: Option<OffsetDateTime>,
    /// Whether the finding was archived.
    #[serde(alias = "Archived", deserialize_with = "opt_bool")]
    pub archived: Option<bool>,
    /// `TARGET` or `ACTOR`: the resource's role in the activity.
    #[serde(alias = "ResourceRole", deserialize_with = "opt_string")]
    pub resource_role: Option<Text>,
    /// The detector id.
    #[serde(alias = "DetectorId", deserialize_with = "opt_string")]
    pub detector_id: Option<Text>,
    /// The service name (`guardduty`).
    #[serde(alias = "ServiceName", deserialize_with = "opt_string")]
    pub service_name: Option<Text>,
    /// Additional information.
    #[serde(alias = "AdditionalInfo", deserialize_with = "additional_info")]
    pub additional_info: AdditionalInfo,
    #[serde(alias = "Evidence")]
    evidence: Option<Evidence>,
    /// How GuardDuty detected the activity: the attack sequence of `AttackSequence:*` findings.
    #[serde(alias = "Detection")]
    pub detection: Option<Box<Detection>>,
    /// What Runtime Monitoring saw (the process).
    #[serde(alias = "RuntimeDetails")]
    pub runtime_details: Option<Box<RuntimeDetails>>,
}

/// `additionalInfo` is an object, but ASFF and hand-made samples also give a JSON string or `""`.
fn additional_info<'de, D: serde::Deserializer<'de>>(d: D) -> Result<AdditionalInfo, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = AdditionalInfo;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            AdditionalInfo::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(serde_json::from_str(v).unwrap_or_default())
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(AdditionalInfo::default())
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(AdditionalInfo::default())
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
    }
    d.deserialize_any(V)
}

impl Service {
    /// The threat list names in `evidence.threatIntelligenceDetails`, then `additionalInfo`.
    pub fn threat_list_names(&self) -> impl Iterator<Item = &str> {
        self.evidence
            .iter()
            .flat_map(|e| e.threat_intelligence_details.iter())
            .filter_map(|t| t.threat_list_name.as_deref())
            .chain(self.additional_info.threat_list_name.as_deref())
    }

    /// The threat intelligence entries (`evidence.threatIntelligenceDetails`).
    pub fn threat_intelligence_details(&self) -> &[ThreatIntelligenceDetail] {
        self.evidence
            .as_ref()
            .map_or(&[], |e| e.threat_intelligence_details.as_slice())
    }
}
