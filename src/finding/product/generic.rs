//! Findings of a source remedy does not know (an EventBridge event of another `detail-type` whose
//! `detail` reads as a finding): id, type, severity, account, region and `resource` read
//! generically, of source `other`, with a warning once per type. Never dropped silently.

use super::super::asff::asff_severity;
use super::super::document::{Doc, LazyJson};
use super::super::error::FindingError;
use super::super::kind::FindingType;
use super::super::service::ServiceAction;
use super::super::shape::{Envelope, Shape};
use super::super::source::FindingSource;
use super::super::text::Text;
use super::{Extra, Parts};
use crate::finding::data::FindingData;

/// Whether `doc` (an event's `detail`) looks like a finding: it has an id and a type or a title.
pub(in super::super) fn looks_like_finding(doc: &Doc) -> bool {
    doc.id.as_deref().is_some_and(|id| !id.is_empty())
        && (doc.type_camel.is_some() || doc.type_pascal.is_some() || doc.title.is_some())
}

/// Maps the `detail` of an event of an unknown `detail-type`.
pub(in super::super) fn to_finding(
    doc: Doc,
    path: &str,
    envelope: Envelope,
    lazy: LazyJson,
) -> Result<FindingData, FindingError> {
    let finding_type = [
        doc.type_camel.as_deref(),
        doc.type_pascal.as_deref(),
        doc.title.as_deref(),
        envelope.detail_type.as_deref(),
    ]
    .into_iter()
    .flatten()
    .find_map(|t| FindingType::of_product(t).ok())
    .ok_or_else(|| {
        FindingError::invalid(
            format!("{path}.type"),
            "a finding type or a title",
            "nothing",
        )
    })?;
    let severity = asff_severity(doc.severity, path).map_err(|_| {
        FindingError::invalid(
            format!("{path}.severity"),
            "a severity (a number from 0 to 10 or a band name)",
            "no usable severity",
        )
    })?;
    let id = doc
        .id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| FindingError::invalid(format!("{path}.id"), "a finding id", "nothing"))?;
    let product = envelope.source.clone();
    super::warn_generic(
        FindingSource::Other,
        finding_type.as_str(),
        &format!(
            "remedy does not know events `{}` from `{}`",
            envelope.detail_type.as_deref().unwrap_or(""),
            product.as_deref().unwrap_or("")
        ),
    );
    let parts = Parts {
        id,
        arn: doc.arn.unwrap_or_default(),
        account_id: doc
            .account_id
            .or(doc.aws_account_id)
            .or_else(|| envelope.account.clone())
            .unwrap_or_default(),
        region: doc
            .region
            .or_else(|| envelope.region.clone())
            .unwrap_or_default(),
        partition: doc.partition.unwrap_or_default(),
        title: doc.title,
        description: doc.description,
        finding_type,
        severity,
        created_at: doc.created_at_camel.or(doc.created_at_pascal),
        updated_at: doc.updated_at_camel.or(doc.updated_at_pascal),
        resource: doc.resource.map(|r| *r).unwrap_or_default(),
        source: FindingSource::Other,
        product: product.or_else(|| Some(Text::from("unknown"))),
        extra: Extra::default(),
        action: ServiceAction::None,
        shape: Shape::Eventbridge,
        envelope: Some(envelope),
        sample: doc.sample == Some(true),
    };
    Ok(parts.into_data(None, lazy))
}
