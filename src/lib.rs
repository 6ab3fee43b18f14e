#![doc = include_str!("../README.md")]

mod action;
#[cfg(feature = "aws")]
pub mod aws;
mod finding;
mod glob;
mod id;
mod plan;
mod policy;
mod remediate;
pub mod testing;

pub use action::{
    ActionError, ActionRequest, ChannelRouter, DryRun, ErrorKind, Executor, ExecutorExt,
    FindingContext, MemoryIam, MemoryNotifier, MemorySsm, Notification, Outcome, PriorOutcome,
    Retry, Router, SentCommand, SkipReason, Timeout, TracingNotifier, is_idempotent,
    temporary_credentials_advice,
};
pub use finding::{
    AccessKeyDetails, AdditionalInfo, AwsApiCallAction, City, ContainerDetails, Country,
    DnsRequestAction, Envelope, Finding, FindingError, FindingErrorKind, FindingType,
    IamInstanceProfile, InstanceDetails, KubernetesApiCallAction, MAX_DOCUMENT_BYTES,
    NamedResource, NetworkConnectionAction, Organization, ParsedBatch, PortDetails,
    PortProbeAction, PortProbeDetail, RdsLoginAttemptAction, RemoteIpDetails, Resource,
    ResourceDetails, S3BucketDetails, Service, ServiceAction, Severity, SeverityBand, Shape, Tag,
    Text, ThreatIntelligenceDetail, TypeGlob, parse_documents,
};
pub use id::{AccessKeyId, InstanceId, InvalidId, UserName};
pub use plan::{
    Action, ActionKind, CustomAction, DisableAccessKey, FailureKind, Notify, Plan, PlannedAction,
    PolicyFailure, RunCommand, Source,
};
pub use policy::{
    ActionCheck, DiagnosticKind, HostActionKind, Limits, Policy, PolicyDiagnostic, PolicyError,
    PolicySet, PolicySetBuilder, PolicyStore,
};
pub use remediate::{
    ActionRecord, AuditError, AuditRecord, AuditSink, AwsConfig, BreakerConfig, Claim, Config,
    ConfigError, DecisionRecord, EnforcementConfig, EntryState, FileLedger, GuardResult,
    JsonLinesAudit, KillSwitch, Ledger, LedgerEntry, LedgerError, LedgerKey, MemoryAudit,
    MemoryLedger, Mode, NotifyConfig, PathConfig, ProtectConfig, Protection, RateLimit, Remediator,
    RemediatorBuilder, Report, TagRule, TracingAudit,
};
