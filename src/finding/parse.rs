//! Shape detection and typed parsing.
//!
//! One serde pass reads any top-level shape into [`Doc`], a superset of the EventBridge envelope,
//! the GuardDuty finding (camelCase and PascalCase), the `{"Findings": [...]}` response and the
//! ASFF finding; the shape is then decided from which keys were present. The canonical JSON is not
//! built here (that would cost more than the typed parse): each finding keeps a handle on the
//! document text and builds it on first use.

use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::error::{FindingError, FindingErrorKind, from_serde};
use super::lenient::{opt_bool, opt_string, opt_time, opt_time_loose};
use super::model::{Envelope, ResourceDetails, Service, Shape};
use super::{
    Finding, FindingData, FindingType, JsonSource, LocSeg, MAX_DOCUMENT_BYTES, Resource, Severity,
    SharedDoc, Text, asff, has_placeholders,
};

/// Any top-level document (or EventBridge `detail`, or element of a `Findings` array).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Doc {
    // EventBridge envelope.
    #[serde(rename = "detail-type", deserialize_with = "opt_string")]
    pub(super) detail_type: Option<Text>,
    #[serde(deserialize_with = "opt_string")]
    pub(super) source: Option<Text>,
    #[serde(deserialize_with = "opt_time_loose")]
    pub(super) time: Option<OffsetDateTime>,
    #[serde(deserialize_with = "opt_string")]
    pub(super) account: Option<Text>,
    pub(super) detail: Option<Box<DocObj>>,
    // Batches.
    #[serde(rename = "Findings")]
    pub(super) findings_pascal: Option<Vec<DocObj>>,
    #[serde(rename = "findings")]
    pub(super) findings_camel: Option<Vec<DocObj>>,
    // The GuardDuty finding; `Id`, `Region`, `CreatedAt`, ... also serve ASFF.
    #[serde(alias = "Id", deserialize_with = "opt_string")]
    pub(super) id: Option<Text>,
    #[serde(alias = "Arn", deserialize_with = "opt_string")]
    pub(super) arn: Option<Text>,
    #[serde(
        rename = "accountId",
        alias = "AccountId",
        deserialize_with = "opt_string"
    )]
    pub(super) account_id: Option<Text>,
    #[serde(alias = "Region", deserialize_with = "opt_string")]
    pub(super) region: Option<Text>,
    #[serde(alias = "Partition", deserialize_with = "opt_string")]
    pub(super) partition: Option<Text>,
    #[serde(
        rename = "schemaVersion",
        alias = "SchemaVersion",
        deserialize_with = "opt_string"
    )]
    pub(super) schema_version: Option<Text>,
    #[serde(rename = "type")]
    pub(super) type_camel: Option<String>,
    #[serde(rename = "Type")]
    pub(super) type_pascal: Option<String>,
    #[serde(alias = "Severity")]
    pub(super) severity: Option<SeverityRaw>,
    #[serde(alias = "Title", deserialize_with = "opt_string")]
    pub(super) title: Option<String>,
    #[serde(alias = "Description", deserialize_with = "opt_string")]
    pub(super) description: Option<String>,
    // Separate fields for both spellings: some ASFF samples carry both `UpdatedAt` and `updatedAt`.
    #[serde(rename = "createdAt", deserialize_with = "opt_time")]
    pub(super) created_at_camel: Option<OffsetDateTime>,
    #[serde(rename = "CreatedAt", deserialize_with = "opt_time")]
    pub(super) created_at_pascal: Option<OffsetDateTime>,
    #[serde(rename = "updatedAt", deserialize_with = "opt_time")]
    pub(super) updated_at_camel: Option<OffsetDateTime>,
    #[serde(rename = "UpdatedAt", deserialize_with = "opt_time")]
    pub(super) updated_at_pascal: Option<OffsetDateTime>,
    #[serde(alias = "Resource")]
    pub(super) resource: Option<Box<ResourceDetails>>,
    #[serde(alias = "Service")]
    pub(super) service: Option<Box<Service>>,
    // ASFF.
    #[serde(rename = "Types")]
    pub(super) types: Option<Vec<String>>,
    #[serde(rename = "ProductArn", deserialize_with = "opt_string")]
    pub(super) product_arn: Option<Text>,
    #[serde(rename = "ProductName", deserialize_with = "opt_string")]
    pub(super) product_name: Option<Text>,
    #[serde(rename = "GeneratorId", deserialize_with = "opt_string")]
    pub(super) generator_id: Option<Text>,
    #[serde(rename = "AwsAccountId", deserialize_with = "opt_string")]
    pub(super) aws_account_id: Option<Text>,
    #[serde(rename = "ProductFields")]
    pub(super) product_fields: Option<asff::Fields>,
    #[serde(rename = "Resources")]
    pub(super) resources: Option<Vec<asff::AsffResource>>,
    #[serde(rename = "Sample", deserialize_with = "opt_bool")]
    pub(super) sample: Option<bool>,
    #[serde(rename = "FirstObservedAt", deserialize_with = "opt_time")]
    pub(super) first_observed_at: Option<OffsetDateTime>,
    #[serde(rename = "LastObservedAt", deserialize_with = "opt_time")]
    pub(super) last_observed_at: Option<OffsetDateTime>,
}

/// A [`Doc`] that must be a JSON object (serde's derived structs also accept arrays).
#[derive(Debug, Default)]
pub(super) struct DocObj(pub(super) Doc);

thread_local! {
    /// How many [`DocObj`]s are being deserialized on this thread, one inside the other.
    static DOC_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The deepest shape is an array of Security Hub events: `[ {detail: {findings: [ {..} ]}} ]`.
const MAX_DOC_DEPTH: u32 = 4;

impl<'de> Deserialize<'de> for DocObj {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `Doc` is large, and `detail`/`Findings` nest it in itself: without this limit a hostile
        // document could use serde_json's whole recursion budget of 128 `Doc` frames and overflow
        // a 2 MiB thread stack in debug builds.
        struct Depth;
        impl Drop for Depth {
            fn drop(&mut self) {
                DOC_DEPTH.with(|c| c.set(c.get().saturating_sub(1)));
            }
        }
        let depth = DOC_DEPTH.with(|c| {
            c.set(c.get().saturating_add(1));
            c.get()
        });
        let _guard = Depth;
        if depth > MAX_DOC_DEPTH {
            return Err(serde::de::Error::custom(format!(
                "documents nested more than {MAX_DOC_DEPTH} levels deep (`detail`, `Findings`)"
            )));
        }
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = DocObj;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<DocObj, A::Error> {
                Doc::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(DocObj)
            }
        }
        d.deserialize_map(V)
    }
}

impl Doc {
    fn is_asff(&self) -> bool {
        self.types.is_some()
            || self.product_arn.is_some()
            || self.product_fields.is_some()
            || self.aws_account_id.is_some()
            || self.generator_id.is_some()
    }

    fn looks_like_finding(&self) -> bool {
        self.type_camel.is_some()
            || self.type_pascal.is_some()
            || self.arn.is_some()
            || self.account_id.is_some()
            || self.severity.is_some()
            || self.resource.is_some()
            || self.service.is_some()
            || self.schema_version.is_some()
    }
}

/// `severity`: a number for GuardDuty, an object for ASFF; strings are tolerated.
#[derive(Debug, Clone)]
pub(super) enum SeverityRaw {
    Number(f64),
    Text(String),
    Object {
        product: Option<f64>,
        normalized: Option<f64>,
        label: Option<String>,
    },
    Other(&'static str),
}

impl<'de> Deserialize<'de> for SeverityRaw {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, IgnoredAny, MapAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SeverityRaw;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a severity")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<SeverityRaw, E> {
                Ok(SeverityRaw::Number(v))
            }
            #[expect(clippy::cast_precision_loss, reason = "severities are small")]
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SeverityRaw, E> {
                Ok(SeverityRaw::Number(v as f64))
            }
            #[expect(clippy::cast_precision_loss, reason = "severities are small")]
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SeverityRaw, E> {
                Ok(SeverityRaw::Number(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SeverityRaw, E> {
                Ok(SeverityRaw::Text(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<SeverityRaw, E> {
                Ok(SeverityRaw::Other("a boolean"))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<SeverityRaw, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(SeverityRaw::Other("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SeverityRaw, A::Error> {
                let (mut product, mut normalized, mut label) = (None, None, None);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "Product" => {
                            product = map
                                .next_value::<Option<NumOrStr>>()?
                                .and_then(NumOrStr::num)
                        }
                        "Normalized" => {
                            normalized = map
                                .next_value::<Option<NumOrStr>>()?
                                .and_then(NumOrStr::num);
                        }
                        "Label" => label = map.next_value::<Option<String>>()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(SeverityRaw::Object {
                    product,
                    normalized,
                    label,
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrStr {
    Num(f64),
    Str(String),
}

impl NumOrStr {
    fn num(self) -> Option<f64> {
        match self {
            Self::Num(n) => Some(n),
            Self::Str(s) => s.trim().parse().ok(),
        }
    }
}

/// The findings of one input, in order; each entry is a finding or the error of one document.
///
/// Returned by [`parse_documents`]; iterate it, or split it with [`ParsedBatch::findings`] and
/// [`ParsedBatch::errors`].
#[derive(Debug, Default)]
pub struct ParsedBatch {
    items: Vec<Result<Finding, FindingError>>,
}

impl ParsedBatch {
    /// All results, in input order.
    pub fn results(&self) -> &[Result<Finding, FindingError>] {
        &self.items
    }

    /// The findings that parsed.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.items.iter().filter_map(|r| r.as_ref().ok())
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &FindingError> {
        self.items.iter().filter_map(|r| r.as_ref().err())
    }

    /// Whether every document parsed.
    pub fn is_ok(&self) -> bool {
        self.items.iter().all(Result::is_ok)
    }

    /// The number of results.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no results.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The results.
    pub fn into_results(self) -> Vec<Result<Finding, FindingError>> {
        self.items
    }
}

impl IntoIterator for ParsedBatch {
    type Item = Result<Finding, FindingError>;
    type IntoIter = std::vec::IntoIter<Self::Item>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// Reads every GuardDuty finding in `bytes`: one document of any shape, a JSON array of
/// documents, or a JSON Lines stream (one document per line). `source_name` (a file name, `-`)
/// is put in every error.
///
/// A document that fails gives one error and the rest are still read; a document with no
/// GuardDuty finding at all is an error. Each document may be at most [`MAX_DOCUMENT_BYTES`].
pub fn parse_documents(bytes: &[u8], source_name: &str) -> ParsedBatch {
    let mut items = Vec::new();
    match json_lines(bytes) {
        Some(lines) => {
            for (line_no, line) in lines {
                for r in parse_one_document(line) {
                    items.push(r.map_err(|e| e.with_source(source_name).with_line(line_no)));
                }
            }
        }
        None => {
            for r in parse_one_document(bytes) {
                items.push(r.map_err(|e| e.with_source(source_name)));
            }
        }
    }
    ParsedBatch { items }
}

/// Splits JSON Lines input: at least two non-empty lines, the first of which is a complete JSON
/// value on its own (a pretty-printed document's first line never is). Every non-empty line is
/// then a document of its own, so one broken line gives one error and the others are still read.
/// Returns (1-based line number, line).
fn json_lines(bytes: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let lines: Vec<(u64, &[u8])> = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| {
            (
                u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1),
                line.trim_ascii(),
            )
        })
        .filter(|(_, line)| !line.is_empty())
        .collect();
    let (_, first) = lines.first()?;
    let first_is_whole = matches!(first.first(), Some(b'{' | b'['))
        && serde_json::from_slice::<serde::de::IgnoredAny>(first).is_ok();
    (lines.len() >= 2 && first_is_whole).then_some(lines)
}

/// Exactly one finding from the results of one document.
pub(super) fn single(results: Vec<Result<Finding, FindingError>>) -> Result<Finding, FindingError> {
    let count = results.len();
    let mut iter = results.into_iter();
    match (iter.next(), count) {
        (Some(r), 1) => r,
        (Some(Err(e)), _) => Err(e),
        (Some(Ok(_)), n) => Err(FindingError::invalid(
            "$",
            "exactly one finding (use `parse_documents` for batches)",
            format!("{n} findings"),
        )),
        (None, _) => Err(FindingError::not_guardduty(
            "$",
            "the document holds no finding",
        )),
    }
}

/// Parses one document (any shape, or a JSON array of documents).
pub(super) fn parse_one_document(bytes: &[u8]) -> Vec<Result<Finding, FindingError>> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return vec![Err(FindingError::new(
            "$",
            FindingErrorKind::TooLarge {
                size: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
                limit: u64::try_from(MAX_DOCUMENT_BYTES).unwrap_or(u64::MAX),
            },
        ))];
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return vec![Err(FindingError::new(
                "$",
                FindingErrorKind::Syntax {
                    message: format!("not UTF-8 text: {e}"),
                },
            ))];
        }
    };
    let trimmed = text.trim_start();
    if trimmed.trim_end().is_empty() {
        return vec![Err(FindingError::new("$", FindingErrorKind::Empty))];
    }
    let shared = Arc::new(SharedDoc {
        text: text.into(),
        value: OnceLock::new(),
    });
    let mut out = Vec::new();
    if trimmed.starts_with('[') {
        match serde_json::from_str::<Vec<DocObj>>(text) {
            Ok(docs) => {
                if docs.is_empty() {
                    out.push(Err(FindingError::not_guardduty("$", "the array is empty")));
                }
                for (i, DocObj(doc)) in docs.into_iter().enumerate() {
                    let path = format!("$[{i}]");
                    classify(doc, &shared, vec![LocSeg::Index(i)], &path, &mut out);
                }
            }
            Err(e) => out.push(Err(from_serde(&e, text))),
        }
    } else {
        match serde_json::from_str::<DocObj>(text) {
            Ok(DocObj(doc)) => classify(doc, &shared, Vec::new(), "$", &mut out),
            Err(e) => out.push(Err(from_serde(&e, text))),
        }
    }
    out
}

/// Parses a document that is already a [`Value`].
pub(super) fn parse_value(value: Value) -> Vec<Result<Finding, FindingError>> {
    let mut out = Vec::new();
    let docs: Result<Vec<(Doc, Vec<LocSeg>, String)>, serde_json::Error> = match &value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                Doc::deserialize(v).map(|d| (d, vec![LocSeg::Index(i)], format!("$[{i}]")))
            })
            .collect(),
        v => DocObj::deserialize(v).map(|DocObj(d)| vec![(d, Vec::new(), "$".to_owned())]),
    };
    let shared = Arc::new(SharedDoc {
        text: "".into(),
        value: OnceLock::new(),
    });
    match docs {
        Ok(docs) => {
            let _ = shared.value.set(value);
            for (doc, loc, path) in docs {
                classify(doc, &shared, loc, &path, &mut out);
            }
        }
        Err(e) => out.push(Err(from_serde(&e, ""))),
    }
    out
}

fn push(locator: &[LocSeg], seg: LocSeg) -> Vec<LocSeg> {
    let mut l = locator.to_vec();
    l.push(seg);
    l
}

/// Decides the shape of one parsed document and turns it into findings.
fn classify(
    doc: Doc,
    shared: &Arc<SharedDoc>,
    locator: Vec<LocSeg>,
    path: &str,
    out: &mut Vec<Result<Finding, FindingError>>,
) {
    if doc.detail_type.is_some() || doc.detail.is_some() {
        eventbridge(doc, shared, &locator, path, out);
    } else if doc.findings_pascal.is_some() || doc.findings_camel.is_some() {
        let (key, list) = match (doc.findings_pascal, doc.findings_camel) {
            (Some(list), _) => ("Findings", list),
            (None, Some(list)) => ("findings", list),
            (None, None) => ("Findings", Vec::new()),
        };
        batch(list, key, None, shared, &locator, path, out);
    } else if doc.is_asff() {
        out.push(
            asff::to_finding(doc, path, None)
                .and_then(|r| r.map_err(|reason| FindingError::not_guardduty(path, reason))),
        );
    } else if doc.looks_like_finding() {
        let shape = if doc.type_camel.is_none() && doc.type_pascal.is_some() {
            Shape::Cli
        } else {
            Shape::Raw
        };
        out.push(guardduty(doc, shape, None, shared, locator, At(path, "")));
    } else {
        out.push(Err(FindingError::not_guardduty(
            path,
            "expected an EventBridge event, a GuardDuty finding, a `{\"Findings\": [...]}` \
             response or a Security Hub (ASFF) finding",
        )));
    }
}

fn eventbridge(
    doc: Doc,
    shared: &Arc<SharedDoc>,
    locator: &[LocSeg],
    path: &str,
    out: &mut Vec<Result<Finding, FindingError>>,
) {
    let envelope = Envelope {
        id: doc.id,
        time: doc.time,
        source: doc.source,
        account: doc.account,
        region: doc.region,
        detail_type: doc.detail_type,
    };
    let dt = envelope.detail_type.as_deref().unwrap_or("");
    let source = envelope.source.as_deref().unwrap_or("");
    // Formatted only when needed (errors, Security Hub batches).
    let detail_path = At(path, ".detail");
    let Some(detail) = doc.detail else {
        out.push(Err(FindingError::invalid(
            detail_path.to_string(),
            "the event's detail object",
            "nothing",
        )));
        return;
    };
    if dt == "GuardDuty Finding" || (dt.is_empty() && source == "aws.guardduty") {
        let shape = Shape::Eventbridge;
        let loc = push(locator, LocSeg::Key("detail"));
        out.push(guardduty(
            detail.0,
            shape,
            Some(envelope),
            shared,
            loc,
            detail_path,
        ));
    } else if dt.starts_with("Security Hub Findings") || source == "aws.securityhub" {
        let detail = detail.0;
        let (key, list) = match (detail.findings_camel, detail.findings_pascal) {
            (Some(list), _) => ("findings", list),
            (None, Some(list)) => ("Findings", list),
            (None, None) => {
                out.push(Err(FindingError::invalid(
                    format!("{detail_path}.findings"),
                    "an array of Security Hub findings",
                    "nothing",
                )));
                return;
            }
        };
        let loc = push(locator, LocSeg::Key("detail"));
        let detail_path = detail_path.to_string();
        batch(list, key, Some(&envelope), shared, &loc, &detail_path, out);
    } else {
        out.push(Err(FindingError::not_guardduty(
            path,
            format!(
                "the event is `{dt}` from `{source}`; expected `GuardDuty Finding` or \
                 `Security Hub Findings - Imported`"
            ),
        )));
    }
}

/// A list of findings: GuardDuty (PascalCase from the CLI, or camelCase) or ASFF.
fn batch(
    list: Vec<DocObj>,
    key: &'static str,
    envelope: Option<&Envelope>,
    shared: &Arc<SharedDoc>,
    locator: &[LocSeg],
    path: &str,
    out: &mut Vec<Result<Finding, FindingError>>,
) {
    let before = out.len();
    let total = list.len();
    let mut skipped = Vec::new();
    for (i, DocObj(doc)) in list.into_iter().enumerate() {
        let item_path = format!("{path}.{key}[{i}]");
        if doc.is_asff() {
            match asff::to_finding(doc, &item_path, envelope.cloned()) {
                Ok(Ok(f)) => out.push(Ok(f)),
                Ok(Err(reason)) => {
                    tracing::warn!(path = %item_path, "skipping a Security Hub finding: {reason}");
                    skipped.push(reason);
                }
                Err(e) => out.push(Err(e)),
            }
        } else {
            let loc = push(&push(locator, LocSeg::Key(key)), LocSeg::Index(i));
            let shape = if envelope.is_some() {
                Shape::Eventbridge
            } else {
                Shape::Cli
            };
            out.push(guardduty(
                doc,
                shape,
                envelope.cloned(),
                shared,
                loc,
                At(&item_path, ""),
            ));
        }
    }
    if out.len() == before {
        let reason = if total == 0 {
            format!("the `{key}` array is empty")
        } else {
            format!(
                "none of the {total} findings is from GuardDuty ({})",
                skipped.first().map_or("", String::as_str)
            )
        };
        out.push(Err(FindingError::not_guardduty(
            format!("{path}.{key}"),
            reason,
        )));
    }
}

/// A JSON path `base` + `suffix`, formatted only when an error needs it.
#[derive(Debug, Clone, Copy)]
struct At<'a>(&'a str, &'static str);

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)?;
        f.write_str(self.1)
    }
}

/// Resolves a GuardDuty severity (a number, or a numeric string).
fn guardduty_severity(raw: Option<SeverityRaw>, path: At<'_>) -> Result<Severity, FindingError> {
    let p = || format!("{path}.severity");
    let expected = "a number from 0 to 10";
    let n = match raw {
        None => return Err(FindingError::invalid(p(), expected, "nothing")),
        Some(SeverityRaw::Number(n)) => n,
        Some(SeverityRaw::Text(s)) => match s.trim().parse::<f64>() {
            Ok(n) => n,
            Err(_) => return Err(FindingError::invalid(p(), expected, format!("`{s}`"))),
        },
        Some(SeverityRaw::Object { .. }) => {
            return Err(FindingError::invalid(p(), expected, "an object"));
        }
        Some(SeverityRaw::Other(what)) => return Err(FindingError::invalid(p(), expected, what)),
    };
    Severity::new(n).ok_or_else(|| FindingError::invalid(p(), expected, format!("`{n}`")))
}

/// Region and partition from an ARN `arn:PARTITION:guardduty:REGION:ACCOUNT:...`.
pub(super) fn arn_parts(arn: &str) -> (Option<&str>, Option<&str>) {
    let mut parts = arn.split(':');
    if parts.next() != Some("arn") {
        return (None, None);
    }
    let partition = parts.next().filter(|s| !s.is_empty());
    let _service = parts.next();
    let region = parts.next().filter(|s| !s.is_empty());
    (partition, region)
}

/// Whether `additionalInfo.value` (a JSON string) says `"sample": true`.
pub(super) fn value_says_sample(value: Option<&str>) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, alias = "Sample", deserialize_with = "opt_bool")]
        sample: Option<bool>,
    }
    value
        .filter(|v| v.contains("ample"))
        .and_then(|v| serde_json::from_str::<Probe>(v).ok())
        .and_then(|p| p.sample)
        .unwrap_or(false)
}

fn guardduty(
    doc: Doc,
    shape: Shape,
    envelope: Option<Envelope>,
    shared: &Arc<SharedDoc>,
    locator: Vec<LocSeg>,
    path: At<'_>,
) -> Result<Finding, FindingError> {
    let pascal = doc.type_camel.is_none() && doc.type_pascal.is_some();
    let type_text = doc.type_camel.or(doc.type_pascal).ok_or_else(|| {
        FindingError::invalid(format!("{path}.type"), "a finding type string", "nothing")
    })?;
    let finding_type = FindingType::new(type_text).map_err(|e| e.within(&path.to_string()))?;
    let severity = guardduty_severity(doc.severity, path)?;
    let id = doc
        .id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| FindingError::invalid(format!("{path}.id"), "a finding id", "nothing"))?;
    let arn = doc.arn.unwrap_or_default();
    let (arn_partition, arn_region) = arn_parts(&arn);
    let region = doc
        .region
        .or_else(|| arn_region.map(Text::from))
        .unwrap_or_default();
    let partition = doc
        .partition
        .or_else(|| arn_partition.map(Text::from))
        .unwrap_or_default();
    let resource = doc.resource.unwrap_or_default();
    let service = doc.service.unwrap_or_default();
    let sample = service.additional_info.sample == Some(true)
        || value_says_sample(service.additional_info.value.as_deref())
        || has_placeholders(&resource, &service);
    Ok(Finding::from_data(FindingData {
        id,
        arn,
        account_id: doc.account_id.unwrap_or_default(),
        region,
        partition,
        schema_version: doc.schema_version,
        title: doc.title.unwrap_or_default(),
        description: doc.description.unwrap_or_default(),
        finding_type,
        severity,
        created_at: doc.created_at_camel.or(doc.created_at_pascal),
        updated_at: doc.updated_at_camel.or(doc.updated_at_pascal),
        resource: Resource::from_details(*resource),
        service,
        shape,
        envelope,
        sample,
        json_source: JsonSource::Lazy {
            doc: Arc::clone(shared),
            locator,
            pascal,
        },
        json: OnceLock::new(),
    }))
}
