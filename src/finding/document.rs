//! The raw document layer: one serde pass reads any top-level shape into [`Doc`], a superset of
//! the EventBridge envelope, the GuardDuty finding (camelCase and PascalCase), the
//! `{"Findings": [...]}` response and the ASFF finding. The canonical JSON is not built here; a
//! finding keeps a handle on the document text ([`LazyJson`]) and builds it on first use.

use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::asff::fields::Fields;
use super::asff::resources::AsffResource;
use super::lenient::{opt_bool, opt_id, opt_string, opt_time, opt_time_loose};
use super::resource::ResourceDetails;
use super::service::Service;
use super::text::Text;

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
    #[serde(alias = "Id", deserialize_with = "opt_id")]
    pub(super) id: Option<Text>,
    #[serde(alias = "Arn", deserialize_with = "opt_string")]
    pub(super) arn: Option<Text>,
    #[serde(rename = "accountId", alias = "AccountId", deserialize_with = "opt_id")]
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
    pub(super) title: Option<std::sync::Arc<str>>,
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
    #[serde(rename = "AwsAccountId", deserialize_with = "opt_id")]
    pub(super) aws_account_id: Option<Text>,
    #[serde(rename = "ProductFields")]
    pub(super) product_fields: Option<Fields>,
    #[serde(rename = "Resources")]
    pub(super) resources: Option<Vec<AsffResource>>,
    #[serde(rename = "Sample", deserialize_with = "opt_bool")]
    pub(super) sample: Option<bool>,
    #[serde(rename = "FirstObservedAt", deserialize_with = "opt_time")]
    pub(super) first_observed_at: Option<OffsetDateTime>,
    #[serde(rename = "LastObservedAt", deserialize_with = "opt_time")]
    pub(super) last_observed_at: Option<OffsetDateTime>,
    // OCSF: only detected here, read by its own mapping.
    pub(super) class_uid: Option<serde::de::IgnoredAny>,
}

impl Doc {
    /// Whether the document has any ASFF key.
    pub(super) fn is_asff(&self) -> bool {
        self.types.is_some()
            || self.product_arn.is_some()
            || self.product_fields.is_some()
            || self.aws_account_id.is_some()
            || self.generator_id.is_some()
    }

    /// Whether the document has any key of a bare GuardDuty finding.
    pub(super) fn looks_like_finding(&self) -> bool {
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

/// The text of one document, parsed into a [`Value`] at most once for all its findings (`None`:
/// the whole document does not parse as a value, e.g. one finding nests deeper than serde_json
/// allows; each finding's part is then parsed on its own).
#[derive(Debug)]
pub(super) struct SharedDoc {
    pub(super) text: Box<str>,
    pub(super) value: OnceLock<Option<Value>>,
    /// Why the document is too deep or too large to build as a tree, once checked.
    pub(super) too_large: OnceLock<Option<String>>,
}

impl SharedDoc {
    /// A document to be parsed into a value when first needed.
    pub(super) fn from_text(text: &str) -> Arc<Self> {
        Arc::new(Self {
            text: text.into(),
            value: OnceLock::new(),
            too_large: OnceLock::new(),
        })
    }

    /// A document that is a value already.
    pub(super) fn from_value(value: Value) -> Arc<Self> {
        let value = OnceLock::from(Some(value));
        Arc::new(Self {
            text: "".into(),
            value,
            too_large: OnceLock::new(),
        })
    }
}

/// One step into a JSON document.
#[derive(Debug, Clone)]
pub(super) enum LocSeg {
    Key(&'static str),
    Index(usize),
}

/// The canonical JSON of a finding read from its document: the part at `locator`, its keys
/// turned to camelCase when the finding was PascalCase.
#[derive(Debug)]
pub(crate) struct LazyJson {
    pub(super) doc: Arc<SharedDoc>,
    pub(super) locator: Vec<LocSeg>,
    pub(super) pascal: bool,
}

impl LazyJson {
    /// Builds the JSON (parsing the document on the first call for any of its findings). When
    /// the whole document cannot be parsed as a value, only this finding's part is: a deeply
    /// nested field in one finding of a batch leaves the others' JSON intact.
    pub(crate) fn build(&self) -> Result<Value, String> {
        // Refused before anything is built: a document made to cost seconds and hundreds of
        // megabytes as a tree (deep nesting, millions of tiny values).
        if let Some(why) = self.doc.too_large.get_or_init(|| too_large(&self.doc.text)) {
            return Err(why.clone());
        }
        let root = self
            .doc
            .value
            .get_or_init(|| serde_json::from_str(&self.doc.text).ok());
        let mut value = match root {
            Some(root) => {
                let mut node = root;
                for seg in &self.locator {
                    node = match seg {
                        LocSeg::Key(k) => node.get(*k),
                        LocSeg::Index(i) => node.get(*i),
                    }
                    .unwrap_or(&Value::Null);
                }
                node.clone()
            }
            None => part(&self.doc.text, &self.locator)?,
        };
        if self.pascal {
            camelize(&mut value);
        }
        Ok(value)
    }
}

/// The deepest nesting the canonical JSON of a document may have.
const MAX_JSON_DEPTH: usize = 64;

/// The most JSON values a document's canonical JSON may hold.
const MAX_JSON_VALUES: usize = 500_000;

/// Why `text` is too deep or holds too many values to build as a tree, if it does: one pass over
/// its bytes, counting containers and separators outside strings.
fn too_large(text: &str) -> Option<String> {
    let (mut depth, mut deepest, mut values) = (0usize, 0usize, 0usize);
    let (mut in_string, mut escape) = (false, false);
    for &b in text.as_bytes() {
        if in_string {
            if escape {
                escape = false;
            } else if b == b'\\' {
                escape = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
                values += 1;
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' | b':' => values += 1,
            _ => {}
        }
    }
    if deepest > MAX_JSON_DEPTH {
        Some(format!(
            "the document nests {deepest} levels deep (at most {MAX_JSON_DEPTH} are queried)"
        ))
    } else if values > MAX_JSON_VALUES {
        Some(format!(
            "the document holds about {values} values (at most {MAX_JSON_VALUES} are queried)"
        ))
    } else {
        None
    }
}

/// The value at `locator` in `text`, parsed on its own (the rest is only skipped).
fn part(text: &str, locator: &[LocSeg]) -> Result<Value, String> {
    use serde_json::value::RawValue;
    use std::borrow::Cow;
    use std::collections::HashMap;
    let unreadable = |e: serde_json::Error| format!("the finding's JSON cannot be read: {e}");
    let mut raw: &RawValue = serde_json::from_str(text).map_err(unreadable)?;
    for seg in locator {
        raw = match seg {
            LocSeg::Key(k) => {
                let map: HashMap<Cow<'_, str>, &RawValue> =
                    serde_json::from_str(raw.get()).map_err(unreadable)?;
                *map.get(*k)
                    .ok_or_else(|| format!("the finding's JSON has no `{k}`"))?
            }
            LocSeg::Index(i) => {
                let items: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(unreadable)?;
                *items
                    .get(*i)
                    .ok_or_else(|| format!("the finding's JSON has no element {i}"))?
            }
        };
    }
    serde_json::from_str(raw.get()).map_err(unreadable)
}

/// Lower-cases the first letter of every object key, recursively (`AccountId` → `accountId`).
pub(super) fn camelize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (key, mut v) in old {
                camelize(&mut v);
                map.insert(camel_key(&key), v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(camelize),
        _ => {}
    }
}

fn camel_key(key: &str) -> String {
    let mut chars = key.chars();
    match chars.next() {
        Some(c) if c.is_ascii_uppercase() => {
            let mut out = String::with_capacity(key.len());
            out.push(c.to_ascii_lowercase());
            out.push_str(chars.as_str());
            out
        }
        _ => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_or_huge_documents_are_refused_before_they_are_built() {
        let example = include_str!("../../examples/findings/01-iam-malicious-ip-custom.json");
        assert_eq!(too_large(example), None);
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        assert!(too_large(&deep).is_some_and(|why| why.contains("nests")));
        let wide = format!("[{}]", vec!["1"; 600_000].join(","));
        assert!(too_large(&wide).is_some_and(|why| why.contains("values")));
        // Brackets and commas inside strings are text, not structure.
        let quoted = format!(
            "{{\"a\":\"{}\\\"{}\"}}",
            "[".repeat(100),
            ",".repeat(600_000)
        );
        assert_eq!(too_large(&quoted), None);
    }
}
