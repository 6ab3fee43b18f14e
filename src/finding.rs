//! The finding model: one typed [`Finding`] from every source and shape findings arrive in.
//!
//! Read a document with [`Finding::from_json_str`] / [`Finding::from_slice`] /
//! [`Finding::from_json_value`] (exactly one GuardDuty finding expected), or a whole input with
//! [`parse_documents`] (arrays, JSON Lines, `{"Findings": [...]}`, Security Hub batches).
//!
//! Shapes are detected from the document itself:
//! - an EventBridge event with `"detail-type": "GuardDuty Finding"` ([`Shape::Eventbridge`]),
//!   including hand-assembled events whose `detail` is PascalCase;
//! - a bare finding in camelCase, as the GuardDuty API and the S3 export give it ([`Shape::Raw`]);
//! - `aws guardduty get-findings` output `{"Findings": [...]}` or a bare PascalCase finding
//!   ([`Shape::Cli`]);
//! - a Security Hub (ASFF) finding produced by GuardDuty: bare, in `{"Findings": [...]}`, or in a
//!   `Security Hub Findings - Imported` EventBridge event ([`Shape::Asff`]). ASFF is mapped back to
//!   the GuardDuty model (type from `Types`, service fields from `ProductFields`, resource from
//!   `Resources[]`);
//! - Security Hub (ASFF) findings of every other product, bare or in events: findings of
//!   [`FindingSource::SecurityHub`] with their product, vulnerabilities and compliance;
//! - OCSF findings, bare or in Security Hub `Findings Imported V2` events ([`Shape::Ocsf`],
//!   [`FindingSource::Ocsf`]);
//! - GuardDuty Malware Protection for S3 scan results ([`FindingSource::GuardDutyMalwareScan`]);
//! - the `detail` of an event remedy does not know, when it reads as a finding (an id and a type
//!   or title): read generically ([`FindingSource::Other`]) with a warning once per type.
//!
//! Every finding says its [`FindingSource`]; a finding of one source never reads as another.
//!
//! Limits: a document may be at most [`MAX_DOCUMENT_BYTES`]; nesting deeper than 128 levels is a
//! syntax error (serde_json's recursion limit), so hostile input cannot exhaust the stack.

use std::net::IpAddr;

use serde_json::Value;
use time::OffsetDateTime;

mod asff;
mod batch;
mod data;
mod details;
mod document;
pub(crate) mod enrichment;
mod error;
mod guardduty;
mod kind;
mod lenient;
mod parse;
mod product;
mod resource;
mod runtime;
mod sequence;
mod service;
mod severity;
mod shape;
mod source;
mod stream;
mod text;

pub use batch::{ParsedBatch, parse_documents};
pub use data::Finding;
pub use error::{FindingError, FindingErrorKind};
pub use kind::{FindingType, MAX_TYPE_BYTES, TypeGlob};
pub use parse::MAX_DOCUMENT_BYTES;
pub use product::{
    Compliance, MalwareScan, ProductResource, SensitiveData, Vulnerability, VulnerablePackage,
};
pub use resource::{
    AccessKeyDetails, ContainerDetails, IamInstanceProfile, InstanceDetails, NamedResource,
    Resource, ResourceDetails, ResourceKind, S3BucketDetails, Tag,
};
pub use runtime::{
    KubernetesDetails, KubernetesUser, KubernetesWorkload, RuntimeDetails, RuntimeProcess,
};
pub use sequence::{
    Actor, ActorAccount, ActorProcess, ActorSession, ActorUser, AutonomousSystem, Detection,
    Endpoint, EndpointLocation, Indicator, Sequence, SequenceAccessKey, SequencePrincipal,
    SequenceResource, SequenceResourceData, SequenceS3Object, Signal,
};
pub use service::{
    AdditionalInfo, AwsApiCallAction, City, Country, DnsRequestAction, KubernetesApiCallAction,
    NetworkConnectionAction, Organization, PortDetails, PortProbeAction, PortProbeDetail,
    RdsLoginAttemptAction, RemoteIpDetails, Service, ServiceAction, ThreatIntelligenceDetail,
};
pub use severity::{Severity, SeverityBand};
pub use shape::{Envelope, Shape};
pub use source::{FindingSource, UnknownFindingSource};
pub use stream::{Documents, RawDocument};
pub use text::{Text, inert, inert_json};

impl std::fmt::Debug for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finding")
            .field("id", &self.data.id)
            .field("type", &self.data.finding_type.as_str())
            .field("severity", &self.data.severity.value())
            .field("account_id", &self.data.account_id)
            .field("region", &self.data.region)
            .field("resource_type", &self.resource_type())
            .field("source", &self.data.source)
            .field("shape", &self.data.shape)
            .field("sample", &self.data.sample)
            .field("enriched", &self.context.is_some())
            .finish_non_exhaustive()
    }
}

impl Finding {
    /// Reads one document holding exactly one finding (any source and shape).
    pub fn from_json_str(text: &str) -> Result<Self, FindingError> {
        Self::from_slice(text.as_bytes())
    }

    /// Reads one document holding exactly one finding (any source and shape) from bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, FindingError> {
        parse::single(parse::parse_one_document(bytes))
    }

    /// Reads a finding from a JSON value holding exactly one finding (any source and shape).
    pub fn from_json_value(value: Value) -> Result<Self, FindingError> {
        parse::single(parse::parse_value(value))
    }

    /// The finding id (for ASFF: the last segment of the GuardDuty finding ARN).
    pub fn id(&self) -> &str {
        &self.data.id
    }

    /// The id, shared (plans hold it without a copy).
    pub(crate) fn shared_id(&self) -> std::sync::Arc<str> {
        std::sync::Arc::clone(&self.data.id)
    }

    /// The title, shared.
    pub(crate) fn shared_title(&self) -> std::sync::Arc<str> {
        std::sync::Arc::clone(&self.data.title)
    }

    /// The finding ARN (empty if the document had none).
    pub fn arn(&self) -> &str {
        &self.data.arn
    }

    /// The account the finding belongs to.
    pub fn account_id(&self) -> &str {
        &self.data.account_id
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.data.region
    }

    /// The partition (`aws`, `aws-cn`, ...).
    pub fn partition(&self) -> &str {
        &self.data.partition
    }

    /// GuardDuty's `schemaVersion`, if given (not for ASFF).
    pub fn schema_version(&self) -> Option<&str> {
        self.data.schema_version.as_deref()
    }

    /// The title.
    pub fn title(&self) -> &str {
        &self.data.title
    }

    /// The description.
    pub fn description(&self) -> &str {
        &self.data.description
    }

    /// The finding type.
    pub fn finding_type(&self) -> &FindingType {
        &self.data.finding_type
    }

    /// Whether the finding's type matches the glob.
    pub fn type_matches(&self, glob: &TypeGlob) -> bool {
        self.data.finding_type.matches(glob)
    }

    /// The severity.
    pub fn severity(&self) -> Severity {
        self.data.severity
    }

    /// When GuardDuty created the finding.
    pub fn created_at(&self) -> Option<OffsetDateTime> {
        self.data.created_at
    }

    /// When GuardDuty last updated the finding.
    pub fn updated_at(&self) -> Option<OffsetDateTime> {
        self.data.updated_at
    }

    /// The resource.
    pub fn resource(&self) -> &Resource {
        &self.data.resource
    }

    /// The `resourceType` (`AccessKey`, `Instance`, ...; empty if missing).
    pub fn resource_type(&self) -> &str {
        self.data.resource.resource_type()
    }

    /// The service block.
    pub fn service(&self) -> &Service {
        &self.data.service
    }

    /// The observed action.
    pub fn action(&self) -> &ServiceAction {
        &self.data.service.action
    }

    /// The `actionType` (`AWS_API_CALL`, ...).
    pub fn action_type(&self) -> Option<&str> {
        self.data.service.action.action_type()
    }

    /// How many times the activity was seen.
    pub fn count(&self) -> Option<u64> {
        self.data.service.count
    }

    /// Whether the finding is archived (`false` if not said).
    pub fn archived(&self) -> bool {
        self.data.service.archived.unwrap_or(false)
    }

    /// `TARGET` or `ACTOR`.
    pub fn resource_role(&self) -> Option<&str> {
        self.data.service.resource_role.as_deref()
    }

    /// The detector id.
    pub fn detector_id(&self) -> Option<&str> {
        self.data.service.detector_id.as_deref()
    }

    fn access_key(&self) -> Option<&AccessKeyDetails> {
        self.data.resource.details().access_key.as_ref()
    }

    /// The principal's user name (role name for assumed roles).
    pub fn user_name(&self) -> Option<&str> {
        self.access_key()?.user_name.as_deref()
    }

    /// The principal's user type (`IAMUser`, `AssumedRole`, `Root`, ...).
    pub fn user_type(&self) -> Option<&str> {
        self.access_key()?.user_type.as_deref()
    }

    /// The access key id named in the finding.
    pub fn access_key_id(&self) -> Option<&str> {
        self.access_key()?.access_key_id.as_deref()
    }

    /// The principal id.
    pub fn principal_id(&self) -> Option<&str> {
        self.access_key()?.principal_id.as_deref()
    }

    fn instance(&self) -> Option<&InstanceDetails> {
        self.data.resource.details().instance.as_deref()
    }

    /// The EC2 instance id, if the finding names an instance.
    pub fn instance_id(&self) -> Option<&str> {
        self.instance()?.instance_id.as_deref()
    }

    /// All EC2 instance ids the finding names: its resource's, and an attack sequence's
    /// `EC2_INSTANCE` resources (each once).
    pub fn instance_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.instance_id().into_iter().collect();
        for id in self.sequence().into_iter().flat_map(Sequence::instance_ids) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }

    /// The instance's tags (empty without an instance).
    pub fn instance_tags(&self) -> &[Tag] {
        self.instance().map_or(&[], |i| i.tags.as_slice())
    }

    fn remote(&self) -> Option<&RemoteIpDetails> {
        self.data.service.action.remote_ip_details()
    }

    /// The remote IP address of the action (v4 or v6), if any and valid.
    pub fn remote_ip(&self) -> Option<IpAddr> {
        self.remote()?.ip()
    }

    /// The remote IP address as the finding writes it (IPv4 preferred), without parsing it.
    pub(crate) fn remote_ip_text(&self) -> Option<&str> {
        let remote = self.remote()?;
        [&remote.ip_address_v4, &remote.ip_address_v6]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .find(|s| !s.is_empty())
    }

    /// The remote address's country name.
    pub fn remote_country(&self) -> Option<&str> {
        self.remote()?.country.as_ref()?.name.as_deref()
    }

    /// The remote address's organization (`org`, else `asnOrg`).
    pub fn remote_organization(&self) -> Option<&str> {
        let org = self.remote()?.organization.as_ref()?;
        org.org.as_deref().or(org.asn_org.as_deref())
    }

    fn api_call(&self) -> Option<&AwsApiCallAction> {
        match &self.data.service.action {
            ServiceAction::AwsApiCall(a) => Some(a),
            _ => None,
        }
    }

    /// The API called (`GetParameters`), for AWS API call findings.
    pub fn api(&self) -> Option<&str> {
        self.api_call()?.api.as_deref()
    }

    /// The service of the API called (`ssm.amazonaws.com`).
    pub fn api_service(&self) -> Option<&str> {
        self.api_call()?.service_name.as_deref()
    }

    /// The names of the S3 buckets the finding names (an attack sequence's `S3_BUCKET`
    /// resources too, each once).
    pub fn bucket_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .data
            .resource
            .details()
            .s3_buckets
            .iter()
            .filter_map(|b| b.name.as_deref())
            .collect();
        for name in self.sequence().into_iter().flat_map(Sequence::bucket_names) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// The first threat list that matched, if any.
    pub fn threat_list_name(&self) -> Option<&str> {
        self.data.service.threat_list_names().next()
    }

    /// Whether this is a sample finding (GuardDuty's generated samples, ASFF `Sample`, or
    /// placeholder values such as `GeneratedFindingUserName`).
    pub fn is_sample(&self) -> bool {
        self.data.sample
    }

    /// The process of a Runtime Monitoring finding (`service.runtimeDetails.process`).
    pub fn process(&self) -> Option<&RuntimeProcess> {
        self.data.service.runtime_details.as_ref()?.process.as_ref()
    }

    /// The Kubernetes workload and user of an EKS finding (`resource.kubernetesDetails`).
    pub fn kubernetes(&self) -> Option<&KubernetesDetails> {
        self.data.resource.details().kubernetes.as_deref()
    }

    /// The container (`resource.containerDetails`).
    pub fn container(&self) -> Option<&ContainerDetails> {
        self.data.resource.details().container.as_deref()
    }

    /// The name of the EKS or ECS cluster the finding names.
    pub fn cluster_name(&self) -> Option<&str> {
        let details = self.data.resource.details();
        [&details.eks_cluster, &details.ecs_cluster]
            .into_iter()
            .flatten()
            .find_map(|c| c.name.as_deref())
    }

    /// The Lambda function's name.
    pub fn function_name(&self) -> Option<&str> {
        self.data
            .resource
            .details()
            .lambda
            .as_ref()?
            .name
            .as_deref()
    }

    /// The RDS database instance's identifier.
    pub fn db_instance_id(&self) -> Option<&str> {
        self.data
            .resource
            .details()
            .rds_db_instance
            .as_ref()?
            .name
            .as_deref()
    }

    /// Where the finding came from.
    pub fn source(&self) -> FindingSource {
        self.data.source
    }

    /// The product that made the finding: `GuardDuty` for GuardDuty's findings and scan
    /// results, the product Security Hub or OCSF names (`Inspector`, `Security Hub`, `Macie`),
    /// the event's source for events of unknown sources.
    pub fn product(&self) -> Option<&str> {
        match self.data.source {
            FindingSource::GuardDuty | FindingSource::GuardDutyMalwareScan
                if self.data.product.is_none() =>
            {
                Some("GuardDuty")
            }
            _ => self.data.product.as_deref(),
        }
    }

    /// The attack sequence of an `AttackSequence:*` finding (`service.detection.sequence`).
    pub fn sequence(&self) -> Option<&Sequence> {
        self.data.service.detection.as_ref()?.sequence.as_ref()
    }

    /// The vulnerabilities the finding reports (Inspector through Security Hub, OCSF 2002).
    pub fn vulnerabilities(&self) -> &[Vulnerability] {
        self.data
            .extra
            .as_ref()
            .map_or(&[], |e| e.vulnerabilities.as_slice())
    }

    /// The sensitive data Macie found (its `DataClassification`, one entry per detection type).
    pub fn sensitive_data(&self) -> &[SensitiveData] {
        self.data
            .extra
            .as_ref()
            .map_or(&[], |e| e.sensitive_data.as_slice())
    }

    /// The compliance result (Security Hub controls, OCSF 2003).
    pub fn compliance(&self) -> Option<&Compliance> {
        self.data.extra.as_ref()?.compliance.as_ref()
    }

    /// The ASFF `ProductArn` of a Security Hub finding (of a product other than GuardDuty).
    pub fn product_arn(&self) -> Option<&str> {
        self.data.extra.as_ref()?.product_arn.as_deref()
    }

    /// The OCSF `metadata.uid` of an OCSF finding.
    pub fn metadata_uid(&self) -> Option<&str> {
        self.data.extra.as_ref()?.metadata_uid.as_deref()
    }

    /// The scan result of a Malware Protection for S3 scan.
    pub fn malware_scan(&self) -> Option<&MalwareScan> {
        self.data.extra.as_ref()?.malware_scan.as_ref()
    }

    /// The resources as a Security Hub or OCSF finding names them (empty for GuardDuty's).
    pub fn product_resources(&self) -> &[ProductResource] {
        self.data
            .extra
            .as_ref()
            .map_or(&[], |e| e.resources.as_slice())
    }

    /// The shape the finding arrived in.
    pub fn shape(&self) -> Shape {
        self.data.shape
    }

    /// The EventBridge envelope, if the finding arrived in one.
    pub fn envelope(&self) -> Option<&Envelope> {
        self.data.envelope.as_ref()
    }

    /// The finding as canonical camelCase JSON (GuardDuty API shape), for JSONPath queries.
    ///
    /// Built on first use and kept: EventBridge, raw and CLI findings from the document text
    /// (PascalCase keys turned to camelCase), ASFF findings from the mapping.
    pub fn json(&self) -> &Value {
        self.data.json()
    }

    /// The canonical JSON, or why it cannot be built (a document nested too deeply, say): what
    /// `finding.get(...)` reads, and what `remedy parse --canonical` prints.
    pub fn json_checked(&self) -> Result<&Value, String> {
        self.data.json_checked().map_err(str::to_owned)
    }

    /// How many values the canonical JSON holds.
    pub(crate) fn json_size(&self) -> usize {
        self.data.json_size()
    }
}
