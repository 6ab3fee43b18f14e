//! Enrichers on the AWS SDK: [`IamEnricher`] (the principal's permissions) and
//! [`CloudTrailEnricher`] (the key's recent activity), and [`enrichers`] to make them from the
//! configuration's `[enrich]` section.

use std::sync::Arc;

use time::OffsetDateTime;

use super::AwsSettings;
use super::error::{CallError, ServiceError, map_sdk_error};
use crate::action::ErrorKind;
use crate::config::EnrichConfig;
use crate::enrich::{ContextError, ContextErrorKind, Enrichers};

mod admin;
mod cloudtrail;
mod iam;

pub use cloudtrail::CloudTrailEnricher;
pub use iam::IamEnricher;

/// The enrichers `[enrich]` turns on (IAM, CloudTrail), each under its timeout, with clients made
/// from `settings`; empty when none is on, and then no client is made.
pub async fn enrichers(config: &EnrichConfig, settings: &AwsSettings) -> Enrichers {
    let mut enrichers = Enrichers::new().with_timeout(config.timeout());
    if !config.is_enabled() {
        return enrichers;
    }
    let clients = settings.load().await;
    if config.iam {
        enrichers = enrichers.with(Arc::new(IamEnricher::from_clients(&clients)));
    }
    if config.cloudtrail_hours > 0 {
        enrichers = enrichers.with(Arc::new(CloudTrailEnricher::from_clients(
            &clients,
            config.cloudtrail_hours,
            config.max_events,
        )));
    }
    enrichers
}

/// An SDK error of `call` as a context error of `enricher`.
pub(crate) fn fail<E: ServiceError>(
    enricher: &str,
    call: &str,
    err: &CallError<E>,
) -> ContextError {
    let e = map_sdk_error(call, err);
    let kind = match e.kind() {
        ErrorKind::NotFound => ContextErrorKind::NotFound,
        ErrorKind::PermissionDenied => ContextErrorKind::PermissionDenied,
        ErrorKind::Throttled => ContextErrorKind::Throttled,
        ErrorKind::Timeout => ContextErrorKind::Timeout,
        ErrorKind::Unavailable => ContextErrorKind::Unavailable,
        ErrorKind::Unsupported => ContextErrorKind::Unsupported,
        _ => ContextErrorKind::Failed,
    };
    ContextError::new(enricher, kind, e.message())
}

/// Why an enricher could not get a client for a finding's account (not allowed, or the role
/// could not be assumed), as a context error of `enricher`.
pub(crate) fn refused(enricher: &str, outcome: &crate::action::Outcome) -> ContextError {
    let kind = match outcome.error().map(crate::action::ActionError::kind) {
        Some(ErrorKind::PermissionDenied) | None => ContextErrorKind::PermissionDenied,
        Some(ErrorKind::Throttled) => ContextErrorKind::Throttled,
        Some(ErrorKind::Timeout) => ContextErrorKind::Timeout,
        Some(ErrorKind::Unavailable) => ContextErrorKind::Unavailable,
        Some(_) => ContextErrorKind::Failed,
    };
    ContextError::new(enricher, kind, outcome.to_string())
}

/// An SDK time as a `time` one.
pub(crate) fn to_time(t: &aws_smithy_types::DateTime) -> Option<OffsetDateTime> {
    let nanos = i128::from(t.secs()) * 1_000_000_000 + i128::from(t.subsec_nanos());
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

#[cfg(test)]
mod tests;
