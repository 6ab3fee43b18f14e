//! The parsed finding: [`Finding`], a cheap-clone handle on [`FindingData`], and where its
//! canonical JSON comes from.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use time::OffsetDateTime;

use super::details::Extra;
use super::document::LazyJson;
use super::enrichment::Context;
use super::kind::FindingType;
use super::resource::Resource;
use super::service::Service;
use super::severity::Severity;
use super::shape::{Envelope, Shape};
use super::source::FindingSource;
use super::text::Text;

/// A finding of any source (GuardDuty, Security Hub, OCSF, ...), from any shape. A cheap-clone handle (`Arc` inside): clone it freely and
/// share it across threads. Its accessors are documented in [`crate::finding`].
///
/// A finding may carry the [`Context`] enrichment found about it ([`Finding::with_context`]):
/// the parsed data is shared, the context is frozen in and seen by the policies as
/// `finding.context`.
#[derive(Clone)]
pub struct Finding {
    pub(crate) data: Arc<FindingData>,
    pub(crate) context: Option<Arc<Context>>,
}

impl Finding {
    pub(crate) fn from_data(data: FindingData) -> Self {
        Self {
            data: Arc::new(data),
            context: None,
        }
    }

    /// The same finding (its data shared, nothing copied) with `context` frozen into it,
    /// replacing any context it had.
    pub fn with_context(&self, context: impl Into<Arc<Context>>) -> Self {
        Self {
            data: Arc::clone(&self.data),
            context: Some(context.into()),
        }
    }

    /// What enrichment found about the finding, if it was enriched.
    pub fn context(&self) -> Option<&Context> {
        self.context.as_deref()
    }

    /// The context, shared (plans record it without a copy).
    pub(crate) fn shared_context(&self) -> Option<Arc<Context>> {
        self.context.clone()
    }
}

/// Builds the canonical JSON of a finding that did not arrive in GuardDuty's own shape (ASFF).
pub(crate) trait CanonicalSource: Send + Sync + fmt::Debug {
    /// The finding as GuardDuty's API would give it, camelCase.
    fn canonical(&self, data: &FindingData) -> Value;
}

/// Where the canonical JSON comes from.
#[derive(Debug)]
pub(crate) enum JsonSource {
    /// A part of the document the finding was read from (keys camelized when PascalCase).
    Document(LazyJson),
    /// Rebuilt from another format on first use.
    Mapped(Box<dyn CanonicalSource>),
}

/// Everything a [`Finding`] holds.
#[derive(Debug)]
pub(crate) struct FindingData {
    pub(crate) id: Arc<str>,
    pub(crate) arn: Text,
    pub(crate) account_id: Text,
    pub(crate) region: Text,
    pub(crate) partition: Text,
    pub(crate) schema_version: Option<Text>,
    pub(crate) title: Arc<str>,
    pub(crate) description: String,
    pub(crate) finding_type: FindingType,
    pub(crate) severity: Severity,
    pub(crate) created_at: Option<OffsetDateTime>,
    pub(crate) updated_at: Option<OffsetDateTime>,
    pub(crate) resource: Resource,
    pub(crate) service: Box<Service>,
    pub(crate) shape: Shape,
    pub(crate) envelope: Option<Envelope>,
    pub(crate) sample: bool,
    /// Where the finding came from.
    pub(crate) source: FindingSource,
    /// The product that made it, for sources that say (Security Hub, OCSF).
    pub(crate) product: Option<Text>,
    /// The typed details only other sources carry (`None` for GuardDuty findings).
    pub(crate) extra: Option<Box<Extra>>,
    pub(crate) json_source: JsonSource,
    pub(crate) json: OnceLock<Result<Value, String>>,
    /// How many values the canonical JSON holds (computed on first use).
    pub(crate) json_size: OnceLock<usize>,
}

impl FindingData {
    /// The canonical JSON, built on first use and kept; the error when it cannot be built (the
    /// finding's part of the document nests deeper than the JSON parser allows).
    pub(crate) fn json_checked(&self) -> Result<&Value, &str> {
        self.json
            .get_or_init(|| match &self.json_source {
                JsonSource::Document(lazy) => lazy.build(),
                JsonSource::Mapped(source) => Ok(source.canonical(self)),
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// The canonical JSON (`null` when it cannot be built).
    pub(crate) fn json(&self) -> &Value {
        static NULL: Value = Value::Null;
        self.json_checked().unwrap_or(&NULL)
    }

    /// How many values the canonical JSON holds.
    pub(crate) fn json_size(&self) -> usize {
        fn count(v: &Value) -> usize {
            1 + match v {
                Value::Array(items) => items.iter().map(count).sum(),
                Value::Object(map) => map.values().map(count).sum(),
                _ => 0,
            }
        }
        *self.json_size.get_or_init(|| count(self.json()))
    }
}
