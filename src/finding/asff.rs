//! Security Hub (ASFF) findings produced by GuardDuty, mapped back to the GuardDuty model.
//!
//! - type: the last segment of a `Types` entry, `A:B-C` → `A:B/C`
//!   (`TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce` → `UnauthorizedAccess:EC2/SSHBruteForce`);
//! - id and arn: from `Id` (the GuardDuty finding ARN; the id is its last segment);
//! - severity: `Severity.Product` (GuardDuty's own number), else `Normalized / 10`, else `Label`;
//! - service: `ProductFields` keys `aws/guardduty/service/a/b` (or legacy `a/b`) become
//!   `service.a.b`; `"true"`/`"false"` become booleans and numeric fields numbers;
//! - resource: `Resources[]` (`AwsIamAccessKey`, `AwsEc2Instance`, `AwsS3Bucket`, ...);
//! - sample: `Sample`.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::{FindingError, describe};
use super::lenient::opt_string;
use super::model::{Envelope, ResourceDetails, Service, Shape};
use super::parse::{Doc, SeverityRaw, arn_parts, value_says_sample};
use super::{
    Finding, FindingData, FindingType, JsonSource, Resource, Severity, Text, has_placeholders,
};

/// A JSON object kept as its entries, in document order, without building a map (`ProductFields`,
/// `Tags`, `Details`). Lookups take the last entry of a key, as a map would.
#[derive(Debug)]
pub(super) struct Entries<V>(Vec<(String, V)>);

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> Entries<V> {
    fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry::<String, V>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

/// `ProductFields`: its keys and string values copied into one buffer (one allocation instead of
/// two per entry), other values as JSON. Lookups take the last entry of a key, as a map would.
#[derive(Debug, Default)]
pub(super) struct Fields {
    text: String,
    entries: Vec<(Span, FieldVal)>,
}

/// A byte range of [`Fields::text`].
#[derive(Debug, Clone, Copy)]
struct Span(usize, usize);

#[derive(Debug)]
enum FieldVal {
    Str(Span),
    Json(Value),
}

/// A value of [`Fields`].
#[derive(Debug, Clone, Copy)]
enum FieldRef<'a> {
    Str(&'a str),
    Json(&'a Value),
}

impl<'a> FieldRef<'a> {
    fn as_str(self) -> Option<&'a str> {
        match self {
            Self::Str(s) => Some(s),
            Self::Json(v) => v.as_str(),
        }
    }
}

impl Fields {
    fn span(&self, span: Span) -> &str {
        self.text.get(span.0..span.1).unwrap_or("")
    }

    fn iter(&self) -> impl Iterator<Item = (&str, FieldRef<'_>)> {
        self.entries.iter().map(|(k, v)| {
            let v = match v {
                FieldVal::Str(s) => FieldRef::Str(self.span(*s)),
                FieldVal::Json(j) => FieldRef::Json(j),
            };
            (self.span(*k), v)
        })
    }

    fn get(&self, key: &str) -> Option<FieldRef<'_>> {
        self.iter()
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, v)| v)
    }
}

/// Appends a string to the buffer and gives its span.
struct Append<'b>(&'b mut String);

impl<'de> DeserializeSeed<'de> for Append<'_> {
    type Value = Span;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Span, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Append<'_> {
    type Value = Span;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Span, E> {
        let start = self.0.len();
        self.0.push_str(v);
        Ok(Span(start, self.0.len()))
    }
}

/// A `ProductFields` value: strings into the buffer, anything else as JSON.
struct FieldSeed<'b>(&'b mut String);

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = FieldVal;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<FieldVal, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed<'_> {
    type Value = FieldVal;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldVal, E> {
        Append(self.0).visit_str(v).map(FieldVal::Str)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<FieldVal, E> {
        Ok(FieldVal::Json(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<FieldVal, E> {
        Ok(FieldVal::Json(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<FieldVal, E> {
        Ok(FieldVal::Json(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<FieldVal, E> {
        Ok(FieldVal::Json(Value::from(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<FieldVal, E> {
        Ok(FieldVal::Json(Value::Null))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FieldVal, A::Error> {
        Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(FieldVal::Json)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<FieldVal, A::Error> {
        Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(FieldVal::Json)
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut out = Fields {
                    text: String::with_capacity(2048),
                    entries: Vec::with_capacity(map.size_hint().unwrap_or(32)),
                };
                while let Some(key) = map.next_key_seed(Append(&mut out.text))? {
                    let value = map.next_value_seed(FieldSeed(&mut out.text))?;
                    out.entries.push((key, value));
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// One block of `Resources[].Details`: its string fields if it is an object (the mapping reads
/// nothing else), `None` otherwise.
#[derive(Debug, Default)]
struct DetailBlock(Option<Vec<(String, String)>>);

impl<'de> Deserialize<'de> for DetailBlock {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// A string, or `None` for any other value (skipped).
        struct OnlyStr(Option<String>);
        impl<'de> Deserialize<'de> for OnlyStr {
            fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = OnlyStr;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("any value")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<OnlyStr, E> {
                        Ok(OnlyStr(Some(v.to_owned())))
                    }
                    fn visit_string<E: de::Error>(self, v: String) -> Result<OnlyStr, E> {
                        Ok(OnlyStr(Some(v)))
                    }
                    fn visit_bool<E: de::Error>(self, _: bool) -> Result<OnlyStr, E> {
                        Ok(OnlyStr(None))
                    }
                    fn visit_i64<E: de::Error>(self, _: i64) -> Result<OnlyStr, E> {
                        Ok(OnlyStr(None))
                    }
                    fn visit_u64<E: de::Error>(self, _: u64) -> Result<OnlyStr, E> {
                        Ok(OnlyStr(None))
                    }
                    fn visit_f64<E: de::Error>(self, _: f64) -> Result<OnlyStr, E> {
                        Ok(OnlyStr(None))
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<OnlyStr, E> {
                        Ok(OnlyStr(None))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<OnlyStr, A::Error> {
                        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                        Ok(OnlyStr(None))
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<OnlyStr, A::Error> {
                        while s.next_element::<IgnoredAny>()?.is_some() {}
                        Ok(OnlyStr(None))
                    }
                }
                d.deserialize_any(V)
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DetailBlock;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DetailBlock, A::Error> {
                let mut out = Vec::new();
                while let Some((k, OnlyStr(v))) = map.next_entry::<String, OnlyStr>()? {
                    if let Some(v) = v {
                        out.push((k, v));
                    }
                }
                Ok(DetailBlock(Some(out)))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<DetailBlock, E> {
                Ok(DetailBlock(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<DetailBlock, E> {
                Ok(DetailBlock(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<DetailBlock, E> {
                Ok(DetailBlock(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<DetailBlock, E> {
                Ok(DetailBlock(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<DetailBlock, E> {
                Ok(DetailBlock(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<DetailBlock, E> {
                Ok(DetailBlock(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<DetailBlock, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(DetailBlock(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// One entry of `Resources[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct AsffResource {
    #[serde(rename = "Type", deserialize_with = "opt_string")]
    resource_type: Option<String>,
    #[serde(rename = "Id", deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(rename = "Partition", deserialize_with = "opt_string")]
    partition: Option<Text>,
    #[serde(rename = "Region", deserialize_with = "opt_string")]
    region: Option<Text>,
    #[serde(rename = "Tags")]
    tags: Option<Entries<Value>>,
    #[serde(rename = "Details")]
    details: Option<Entries<DetailBlock>>,
}

/// What the canonical JSON of an ASFF finding is built from, on first use.
#[derive(Debug)]
pub(crate) struct AsffJson {
    fields: Fields,
    resources: Vec<AsffResource>,
    first_observed_at: Option<OffsetDateTime>,
    last_observed_at: Option<OffsetDateTime>,
}

/// Leaf keys of `ProductFields` whose values GuardDuty gives as numbers.
const NUMERIC_KEYS: &[&str] = &["count", "port", "lat", "lon", "severity", "itemCount"];

/// The GuardDuty `service` and `resource` objects rebuilt from `ProductFields` and `Resources[]`
/// as a tree that borrows their text. The typed model reads it through [`TreeDe`] (the lenient
/// field deserializers turn `"3"` and `"false"` into numbers and booleans); the canonical JSON is
/// made from it with [`Tree::to_value`] only when asked for.
#[derive(Debug)]
enum Tree<'a> {
    /// A `ProductFields` string: a number or boolean in the canonical JSON if it reads as one.
    Field(&'a str),
    /// A string kept as is.
    Str(Cow<'a, str>),
    /// Any other JSON value.
    Json(Cow<'a, Value>),
    /// `FirstObservedAt`/`LastObservedAt` standing in for `eventFirstSeen`/`eventLastSeen`.
    Time(OffsetDateTime),
    /// An object, in insertion order.
    Map(Vec<(&'a str, Tree<'a>)>),
    /// An array.
    Seq(Vec<Tree<'a>>),
}

static NULL: Value = Value::Null;

type TreeMap<'a> = Vec<(&'a str, Tree<'a>)>;

fn entry_or_insert<'a>(map: &mut TreeMap<'a>, key: &'a str, value: Tree<'a>) {
    if !map.iter().any(|(k, _)| *k == key) {
        map.push((key, value));
    }
}

impl Tree<'_> {
    /// The canonical JSON; `key` is the name this value has in its parent object.
    fn to_value(&self, key: &str) -> Value {
        match self {
            Self::Field(s) => field_value(key, s),
            Self::Str(s) => Value::String(s.as_ref().to_owned()),
            Self::Json(v) => v.as_ref().clone(),
            Self::Time(t) => rfc3339(*t).map_or(Value::Null, Value::String),
            Self::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.to_value(k)))
                    .collect(),
            ),
            Self::Seq(items) => Value::Array(items.iter().map(|v| v.to_value("")).collect()),
        }
    }
}

/// Reads a [`Tree`] as a serde data source.
struct TreeDe<'t, 'a>(&'t Tree<'a>);

impl<'de, 'a: 'de> de::Deserializer<'de> for TreeDe<'de, 'a> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Tree::Field(s) => v.visit_borrowed_str(s),
            Tree::Str(s) => v.visit_str(s),
            Tree::Json(j) => de::Deserializer::deserialize_any(j.as_ref(), v),
            // Filled in after deserialization (see `typed_service`).
            Tree::Time(_) => v.visit_unit(),
            Tree::Map(entries) => v.visit_map(TreeMapDe {
                iter: entries.iter(),
                value: None,
            }),
            Tree::Seq(items) => v.visit_seq(TreeSeqDe(items.iter())),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Tree::Json(j) => de::Deserializer::deserialize_option(j.as_ref(), v),
            Tree::Time(_) => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct TreeMapDe<'de, 'a> {
    iter: std::slice::Iter<'de, (&'a str, Tree<'a>)>,
    value: Option<&'de Tree<'a>>,
}

impl<'de, 'a: 'de> MapAccess<'de> for TreeMapDe<'de, 'a> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.iter.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(de::value::BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(TreeDe(value)),
            None => Err(de::Error::custom("a map value without its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct TreeSeqDe<'de, 'a>(std::slice::Iter<'de, Tree<'a>>);

impl<'de, 'a: 'de> SeqAccess<'de> for TreeSeqDe<'de, 'a> {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.0
            .next()
            .map(|item| seed.deserialize(TreeDe(item)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// The `service` and `resource` trees of one ASFF finding.
struct Trees<'a> {
    service: TreeMap<'a>,
    resource: TreeMap<'a>,
}

/// Rebuilds `service` (from `ProductFields` and the observed times) and `resource` (from
/// `ProductFields` and `Resources[]`). `None` if `service` would not be an object.
fn build_trees<'a>(
    fields: &'a Fields,
    resources: &'a [AsffResource],
    first_observed_at: Option<OffsetDateTime>,
    last_observed_at: Option<OffsetDateTime>,
) -> Option<Trees<'a>> {
    let mut service = Vec::new();
    let mut resource = Vec::new();
    for (key, value) in fields.iter() {
        let (target, rel) = if let Some(rel) = key.strip_prefix("aws/guardduty/service/") {
            (&mut service, rel)
        } else if let Some(rel) = key.strip_prefix("aws/guardduty/resource/") {
            (&mut resource, rel)
        } else if key.starts_with("aws/") {
            continue;
        } else {
            (&mut service, key)
        };
        if let Some(v) = leaf(rel, value) {
            insert_path(target, rel, v);
        }
    }
    for (key, t) in [
        ("eventFirstSeen", first_observed_at),
        ("eventLastSeen", last_observed_at),
    ] {
        if let Some(t) = t.filter(|t| rfc3339(*t).is_some()) {
            entry_or_insert(&mut service, key, Tree::Time(t));
        }
    }
    map_resources(resources, &mut resource);
    let mut service = Tree::Map(service);
    arrayify(&mut service);
    match service {
        Tree::Map(service) => Some(Trees { service, resource }),
        _ => None,
    }
}

/// Maps one ASFF finding. `Ok(Err(reason))`: not from GuardDuty (to be skipped in a batch).
pub(super) fn to_finding(
    doc: Doc,
    path: &str,
    envelope: Option<Envelope>,
) -> Result<Result<Finding, String>, FindingError> {
    let fields = doc.product_fields.unwrap_or_default();
    if let Err(reason) = check_product(
        doc.product_arn.as_deref(),
        doc.product_name.as_deref(),
        &fields,
    ) {
        return Ok(Err(reason));
    }
    let finding_type = asff_type(doc.types.as_deref().unwrap_or(&[]), path)?;
    let asff_id = doc.id.unwrap_or_default();
    let arn = guardduty_arn(&asff_id, &fields).unwrap_or_default();
    let id = arn
        .rsplit_once("/finding/")
        .map(|(_, id)| Text::from(id))
        .or_else(|| (!asff_id.is_empty()).then(|| asff_id.clone()))
        .ok_or_else(|| {
            FindingError::invalid(format!("{path}.Id"), "the GuardDuty finding ARN", "nothing")
        })?;
    let resources = doc.resources.unwrap_or_default();
    let (arn_partition, arn_region) = arn_parts(&arn);
    let first = resources.first();
    let region = doc
        .region
        .or_else(|| first.and_then(|r| r.region.clone()))
        .or_else(|| arn_region.map(Text::from))
        .unwrap_or_default();
    let partition = first
        .and_then(|r| r.partition.clone())
        .or_else(|| arn_partition.map(Text::from))
        .unwrap_or_default();
    let severity = asff_severity(doc.severity, path)?;
    let created_at = doc.created_at_pascal.or(doc.created_at_camel);
    let updated_at = doc.updated_at_pascal.or(doc.updated_at_camel);

    let Some(trees) = build_trees(
        &fields,
        &resources,
        doc.first_observed_at,
        doc.last_observed_at,
    ) else {
        return Err(FindingError::invalid(
            format!("{path}.ProductFields"),
            "an object",
            "another value",
        ));
    };
    let service_typed = typed_service(&trees.service).map_err(|e| {
        FindingError::invalid(
            format!("{path}.ProductFields"),
            "GuardDuty service fields",
            e.to_string(),
        )
    })?;
    let resource_typed =
        ResourceDetails::deserialize(TreeMapOwnerDe(&trees.resource)).map_err(|e| {
            FindingError::invalid(
                format!("{path}.Resources"),
                "GuardDuty resources",
                e.to_string(),
            )
        })?;
    let sample = doc.sample == Some(true)
        || service_typed.additional_info.sample == Some(true)
        || value_says_sample(service_typed.additional_info.value.as_deref())
        || has_placeholders(&resource_typed, &service_typed);

    let source = AsffJson {
        fields,
        resources,
        first_observed_at: doc.first_observed_at,
        last_observed_at: doc.last_observed_at,
    };
    Ok(Ok(Finding::from_data(FindingData {
        id,
        arn: Text::from(arn),
        account_id: doc.aws_account_id.unwrap_or_default(),
        region,
        partition,
        schema_version: None,
        title: doc.title.unwrap_or_default(),
        description: doc.description.unwrap_or_default(),
        finding_type,
        severity,
        created_at,
        updated_at,
        resource: Resource::from_details(resource_typed),
        service: Box::new(service_typed),
        shape: Shape::Asff,
        envelope,
        sample,
        json_source: JsonSource::Asff(Box::new(source)),
        json: OnceLock::new(),
    })))
}

/// The typed service; the observed times stand in for missing `eventFirstSeen`/`eventLastSeen`.
fn typed_service(tree: &TreeMap<'_>) -> Result<Service, serde_json::Error> {
    let mut service = Service::deserialize(TreeMapOwnerDe(tree))?;
    for (key, value) in tree {
        match (*key, value) {
            ("eventFirstSeen", Tree::Time(t)) => service.event_first_seen = Some(*t),
            ("eventLastSeen", Tree::Time(t)) => service.event_last_seen = Some(*t),
            _ => {}
        }
    }
    Ok(service)
}

/// A [`TreeMap`] read as an object.
struct TreeMapOwnerDe<'t, 'a>(&'t TreeMap<'a>);

impl<'de, 'a: 'de> de::Deserializer<'de> for TreeMapOwnerDe<'de, 'a> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Self::Error> {
        v.visit_map(TreeMapDe {
            iter: self.0.iter(),
            value: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple option
        tuple_struct map struct enum identifier ignored_any
    }
}

/// The canonical camelCase JSON of an ASFF finding (GuardDuty API shape).
pub(crate) fn canonical(data: &FindingData, source: &AsffJson) -> Value {
    let trees = build_trees(
        &source.fields,
        &source.resources,
        source.first_observed_at,
        source.last_observed_at,
    );
    let (service, resource) = match &trees {
        Some(t) => (
            Value::Object(map_value(&t.service)),
            Value::Object(map_value(&t.resource)),
        ),
        None => (Value::Object(Map::new()), Value::Object(Map::new())),
    };
    let mut canonical = Map::new();
    canonical.insert("accountId".into(), json!(data.account_id));
    canonical.insert("arn".into(), json!(data.arn));
    if let Some(t) = data.created_at.and_then(rfc3339) {
        canonical.insert("createdAt".into(), json!(t));
    }
    canonical.insert("description".into(), json!(data.description));
    canonical.insert("id".into(), json!(data.id));
    canonical.insert("partition".into(), json!(data.partition));
    canonical.insert("region".into(), json!(data.region));
    canonical.insert("resource".into(), resource);
    canonical.insert("service".into(), service);
    canonical.insert("severity".into(), json!(data.severity.value()));
    canonical.insert("title".into(), json!(data.title));
    canonical.insert("type".into(), json!(data.finding_type.as_str()));
    if let Some(t) = data.updated_at.and_then(rfc3339) {
        canonical.insert("updatedAt".into(), json!(t));
    }
    if data.sample {
        canonical.insert("sample".into(), json!(true));
    }
    Value::Object(canonical)
}

fn map_value(map: &TreeMap<'_>) -> Map<String, Value> {
    map.iter()
        .map(|(k, v)| ((*k).to_owned(), v.to_value(k)))
        .collect()
}

fn rfc3339(t: OffsetDateTime) -> Option<String> {
    t.format(&Rfc3339).ok()
}

fn check_product(
    product_arn: Option<&str>,
    product_name: Option<&str>,
    fields: &Fields,
) -> Result<(), String> {
    let field_name = fields
        .get("aws/securityhub/ProductName")
        .and_then(FieldRef::as_str);
    let is_gd = product_arn.is_some_and(|a| a.ends_with("/aws/guardduty"))
        || product_name.is_some_and(|n| n.eq_ignore_ascii_case("GuardDuty"))
        || field_name.is_some_and(|n| n.eq_ignore_ascii_case("GuardDuty"));
    if is_gd {
        Ok(())
    } else {
        let product = product_arn
            .or(product_name)
            .or(field_name)
            .unwrap_or("unknown");
        Err(format!("its product is `{product}`, not GuardDuty"))
    }
}

/// `TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce` → `UnauthorizedAccess:EC2/SSHBruteForce`.
fn asff_type(types: &[String], path: &str) -> Result<FindingType, FindingError> {
    for t in types {
        let last = t.rsplit('/').next().unwrap_or(t);
        let Some(colon) = last.find(':') else {
            continue;
        };
        let Some(dash) = last.get(colon..).and_then(|rest| rest.find('-')) else {
            continue;
        };
        let at = colon + dash;
        let converted = format!(
            "{}/{}",
            last.get(..at).unwrap_or(""),
            last.get(at + 1..).unwrap_or("")
        );
        if let Ok(ft) = FindingType::new(converted) {
            return Ok(ft);
        }
    }
    Err(FindingError::invalid(
        format!("{path}.Types"),
        "a GuardDuty type such as `TTPs/Discovery/Recon:IAMUser-UserPermissions`",
        match types.first() {
            Some(t) => format!("`{t}`"),
            None => "nothing".to_owned(),
        },
    ))
}

/// The GuardDuty finding ARN: `Id`, or the tail of `aws/securityhub/FindingId`.
fn guardduty_arn(asff_id: &str, fields: &Fields) -> Option<String> {
    if asff_id.contains(":guardduty:") && asff_id.contains("/finding/") {
        return Some(asff_id.to_owned());
    }
    let fid = fields.get("aws/securityhub/FindingId")?.as_str()?;
    let at = fid.find("/guardduty/arn:")?;
    fid.get(at + "/guardduty/".len()..).map(str::to_owned)
}

fn asff_severity(raw: Option<SeverityRaw>, path: &str) -> Result<Severity, FindingError> {
    let p = format!("{path}.Severity");
    let from_label = |label: &str| match label.to_ascii_uppercase().as_str() {
        "INFORMATIONAL" => Some(0.0),
        "LOW" => Some(2.0),
        "MEDIUM" => Some(5.0),
        "HIGH" => Some(8.0),
        "CRITICAL" => Some(9.0),
        _ => None,
    };
    let n = match raw {
        Some(SeverityRaw::Object {
            product,
            normalized,
            label,
        }) => product
            .filter(|p| (0.0..=10.0).contains(p))
            .or_else(|| {
                normalized
                    .filter(|n| (0.0..=100.0).contains(n))
                    .map(|n| n / 10.0)
            })
            .or_else(|| label.as_deref().and_then(from_label)),
        Some(SeverityRaw::Number(n)) => Some(n),
        Some(SeverityRaw::Text(s)) => s.trim().parse().ok().or_else(|| from_label(&s)),
        Some(SeverityRaw::Other(_)) | None => None,
    };
    n.and_then(Severity::new).ok_or_else(|| {
        FindingError::invalid(
            p,
            "an object with `Product`, `Normalized` or `Label`",
            "no usable severity",
        )
    })
}

/// The tree leaf for one `ProductFields` value; `None` for values GuardDuty did not have (an
/// empty `evidence`/`additionalInfo`, an `additionalInfo` that is not valid JSON).
fn leaf<'a>(rel: &str, value: FieldRef<'a>) -> Option<Tree<'a>> {
    let s = match value {
        FieldRef::Str(s) => s,
        FieldRef::Json(Value::String(s)) => s.as_str(),
        FieldRef::Json(value) => return Some(Tree::Json(Cow::Borrowed(value))),
    };
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if s.is_empty() && matches!(name, "evidence" | "additionalInfo") {
        return None;
    }
    if name == "additionalInfo" && s.trim_start().starts_with('{') {
        return serde_json::from_str(s)
            .ok()
            .map(|v| Tree::Json(Cow::Owned(v)));
    }
    Some(Tree::Field(s))
}

/// A `ProductFields` string back to the JSON value GuardDuty had; `name` is its key.
fn field_value(name: &str, s: &str) -> Value {
    match s {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if NUMERIC_KEYS.contains(&name) || name.ends_with("Count") {
        if let Ok(n) = s.parse::<u64>() {
            return json!(n);
        }
        if let Some(n) = s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(s.to_owned())
}

/// Inserts `value` at the `/`-separated path, creating objects; the first value for a path wins
/// and conflicting paths are dropped.
fn insert_path<'a>(map: &mut TreeMap<'a>, rel: &'a str, value: Tree<'a>) {
    let mut segments = rel.split('/').filter(|s| !s.is_empty()).peekable();
    let mut node = map;
    while let Some(seg) = segments.next() {
        let at = node.iter().position(|(k, _)| *k == seg);
        if segments.peek().is_none() {
            if at.is_none() {
                node.push((seg, value));
            }
            return;
        }
        let at = at.unwrap_or_else(|| {
            node.push((seg, Tree::Map(Vec::new())));
            node.len().saturating_sub(1)
        });
        match node.get_mut(at) {
            Some((_, Tree::Map(next))) => node = next,
            _ => return,
        }
    }
}

fn index(key: &str) -> Option<usize> {
    key.strip_suffix('_').unwrap_or(key).parse::<usize>().ok()
}

/// Turns objects whose keys are all indices (`0`, `1_`) into arrays, as GuardDuty had them
/// (`evidence/threatIntelligenceDetails/0_/threatListName`).
fn arrayify(tree: &mut Tree<'_>) {
    match tree {
        Tree::Map(map) => {
            map.iter_mut().for_each(|(_, v)| arrayify(v));
            if !map.is_empty() && map.iter().all(|(k, _)| index(k).is_some()) {
                let mut items: Vec<(usize, Tree<'_>)> = std::mem::take(map)
                    .into_iter()
                    .filter_map(|(k, v)| index(k).map(|i| (i, v)))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                *tree = Tree::Seq(items.into_iter().map(|(_, v)| v).collect());
            }
        }
        Tree::Seq(items) => items.iter_mut().for_each(arrayify),
        Tree::Json(v) if v.is_object() || v.is_array() => {
            let mut owned = std::mem::replace(v, Cow::Borrowed(&NULL)).into_owned();
            arrayify_value(&mut owned);
            *v = Cow::Owned(owned);
        }
        Tree::Json(_) | Tree::Field(_) | Tree::Str(_) | Tree::Time(_) => {}
    }
}

/// [`arrayify`] for JSON values inside `ProductFields`.
fn arrayify_value(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.values_mut().for_each(arrayify_value);
            if !map.is_empty() && map.keys().all(|k| index(k).is_some()) {
                let mut items: Vec<(usize, Value)> = std::mem::take(map)
                    .into_iter()
                    .filter_map(|(k, v)| index(&k).map(|i| (i, v)))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                *value = Value::Array(items.into_iter().map(|(_, v)| v).collect());
            }
        }
        Value::Array(items) => items.iter_mut().for_each(arrayify_value),
        _ => {}
    }
}

type Block = [(String, String)];

fn details<'a>(r: &'a AsffResource, key: &str) -> Option<&'a Block> {
    r.details.as_ref()?.get(key)?.0.as_deref()
}

fn text<'a>(m: Option<&'a Block>, key: &str) -> Option<&'a str> {
    m?.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn opt_str(s: Option<&str>) -> Tree<'_> {
    s.map_or(Tree::Json(Cow::Borrowed(&NULL)), |s| {
        Tree::Str(Cow::Borrowed(s))
    })
}

fn tags(r: &AsffResource) -> Tree<'_> {
    Tree::Seq(
        r.tags
            .iter()
            .flat_map(|t| t.0.iter())
            .map(|(k, v)| {
                let value = v
                    .as_str()
                    .map_or_else(|| Cow::Owned(describe(v)), Cow::Borrowed);
                Tree::Map(vec![
                    ("key", Tree::Str(Cow::Borrowed(k))),
                    ("value", Tree::Str(value)),
                ])
            })
            .collect(),
    )
}

fn named<'a>(
    name_key: &'static str,
    name: &'a str,
    arn_key: &'static str,
    arn: &'a str,
    r: &'a AsffResource,
) -> Tree<'a> {
    Tree::Map(vec![
        (name_key, Tree::Str(Cow::Borrowed(name))),
        (arn_key, Tree::Str(Cow::Borrowed(arn))),
        ("tags", tags(r)),
    ])
}

/// `Resources[]` → `resource` (`accessKeyDetails`, `instanceDetails`, `s3BucketDetails`, ...).
fn map_resources<'a>(resources: &'a [AsffResource], out: &mut TreeMap<'a>) {
    let mut kinds: Vec<&str> = Vec::new();
    let mut buckets = Vec::new();
    for r in resources {
        let id = r.id.as_deref().unwrap_or("");
        match r.resource_type.as_deref().unwrap_or("") {
            "AwsIamAccessKey" => {
                let d = details(r, "AwsIamAccessKey");
                let key_id = text(d, "AccessKeyId").or_else(|| {
                    id.rsplit_once(':')
                        .map(|(_, k)| k)
                        .filter(|k| !k.is_empty() && *k != "null")
                });
                let mut ak = Vec::new();
                if let Some(k) = key_id {
                    ak.push(("accessKeyId", Tree::Str(Cow::Borrowed(k))));
                }
                if let Some(p) = text(d, "PrincipalId") {
                    ak.push(("principalId", Tree::Str(Cow::Borrowed(p))));
                }
                if let Some(u) = text(d, "UserName").or_else(|| text(d, "PrincipalName")) {
                    ak.push(("userName", Tree::Str(Cow::Borrowed(u))));
                }
                if let Some(t) = text(d, "PrincipalType") {
                    ak.push(("userType", Tree::Str(Cow::Borrowed(t))));
                }
                entry_or_insert(out, "accessKeyDetails", Tree::Map(ak));
                kinds.push("AccessKey");
            }
            "AwsEc2Instance" => {
                let d = details(r, "AwsEc2Instance");
                let instance_id = id.rsplit_once("instance/").map_or(id, |(_, i)| i);
                let mut inst = vec![("instanceId", Tree::Str(Cow::Borrowed(instance_id)))];
                for (from, to) in [
                    ("Type", "instanceType"),
                    ("ImageId", "imageId"),
                    ("LaunchedAt", "launchTime"),
                ] {
                    if let Some(v) = text(d, from) {
                        inst.push((to, Tree::Str(Cow::Borrowed(v))));
                    }
                }
                inst.push(("tags", tags(r)));
                entry_or_insert(out, "instanceDetails", Tree::Map(inst));
                kinds.push("Instance");
            }
            "AwsS3Bucket" => {
                let name = id
                    .strip_prefix("arn:aws:s3:::")
                    .or_else(|| id.rsplit(':').next())
                    .unwrap_or(id);
                buckets.push(named("name", name, "arn", id, r));
                kinds.push("S3Bucket");
            }
            "AwsEksCluster" => {
                let name = text(details(r, "AwsEksCluster"), "Name")
                    .unwrap_or_else(|| id.rsplit('/').next().unwrap_or(id));
                entry_or_insert(out, "eksClusterDetails", named("name", name, "arn", id, r));
                kinds.push("EKSCluster");
            }
            "AwsEcsCluster" => {
                let name = text(details(r, "AwsEcsCluster"), "ClusterName")
                    .unwrap_or_else(|| id.rsplit('/').next().unwrap_or(id));
                entry_or_insert(out, "ecsClusterDetails", named("name", name, "arn", id, r));
                kinds.push("ECSCluster");
            }
            "AwsLambdaFunction" => {
                let name = text(details(r, "AwsLambdaFunction"), "FunctionName")
                    .unwrap_or_else(|| id.rsplit(':').next().unwrap_or(id));
                entry_or_insert(
                    out,
                    "lambdaDetails",
                    named("functionName", name, "functionArn", id, r),
                );
                kinds.push("Lambda");
            }
            "AwsRdsDbInstance" => {
                let name = text(details(r, "AwsRdsDbInstance"), "DBInstanceIdentifier")
                    .unwrap_or_else(|| id.rsplit(':').next().unwrap_or(id));
                entry_or_insert(
                    out,
                    "rdsDbInstanceDetails",
                    named("dbInstanceIdentifier", name, "dbInstanceArn", id, r),
                );
                kinds.push("RDSDBInstance");
            }
            "Container" => {
                let d = details(r, "Container");
                entry_or_insert(
                    out,
                    "containerDetails",
                    Tree::Map(vec![
                        ("name", opt_str(text(d, "Name"))),
                        ("image", opt_str(text(d, "ImageName"))),
                        ("id", opt_str(text(d, "ContainerRuntime").map(|_| id))),
                    ]),
                );
                kinds.push("Container");
            }
            _ => {}
        }
    }
    if !buckets.is_empty() {
        entry_or_insert(out, "s3BucketDetails", Tree::Seq(buckets));
    }
    let order = [
        "S3Bucket",
        "EKSCluster",
        "ECSCluster",
        "Lambda",
        "RDSDBInstance",
        "Container",
        "Instance",
        "AccessKey",
    ];
    if let Some(kind) = order.iter().find(|k| kinds.contains(k)) {
        entry_or_insert(out, "resourceType", Tree::Str(Cow::Borrowed(kind)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_map_back() {
        let t = |s: &str| asff_type(&[s.to_owned()], "$").unwrap().to_string();
        assert_eq!(
            t("TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce"),
            "UnauthorizedAccess:EC2/SSHBruteForce"
        );
        assert_eq!(
            t("TTPs/Command and Control/Backdoor:EC2-C&CActivity.B!DNS"),
            "Backdoor:EC2/C&CActivity.B!DNS"
        );
        assert_eq!(
            t("Unusual Behaviors/User/UnauthorizedAccess:IAMUser-ConsoleLogin"),
            "UnauthorizedAccess:IAMUser/ConsoleLogin"
        );
        assert!(
            asff_type(
                &["Software and Configuration Checks/Vulnerabilities/CVE".to_owned()],
                "$"
            )
            .is_err()
        );
    }

    fn convert(rel: &str, value: &Value) -> Option<Value> {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        leaf(rel, FieldRef::Json(value)).map(|t| t.to_value(name))
    }

    #[test]
    fn product_fields_convert() {
        assert_eq!(convert("count", &json!("74")), Some(json!(74)));
        assert_eq!(convert("archived", &json!("false")), Some(json!(false)));
        assert_eq!(
            convert("action/x/remoteIpDetails/organization/asn", &json!("209")),
            Some(json!("209"))
        );
        assert_eq!(
            convert("action/x/remoteIpDetails/geoLocation/lat", &json!("42.5")),
            Some(json!(42.5))
        );
        assert_eq!(convert("evidence", &json!("")), None);
        assert_eq!(
            convert("additionalInfo", &json!("{\"a\":1}")),
            Some(json!({"a": 1}))
        );
    }

    #[test]
    fn index_objects_become_arrays() {
        let mut t = Tree::Map(vec![
            (
                "e",
                Tree::Map(vec![(
                    "t",
                    Tree::Map(vec![
                        ("1_", Tree::Map(vec![("n", Tree::Field("b"))])),
                        ("0_", Tree::Map(vec![("n", Tree::Field("a"))])),
                    ]),
                )]),
            ),
            (
                "k",
                Tree::Map(vec![("x", Tree::Json(Cow::Owned(json!(1))))]),
            ),
        ]);
        arrayify(&mut t);
        assert_eq!(
            t.to_value(""),
            json!({"e": {"t": [{"n": "a"}, {"n": "b"}]}, "k": {"x": 1}})
        );
    }

    #[test]
    fn insert_path_builds_objects() {
        let mut m = Vec::new();
        insert_path(&mut m, "action/actionType", Tree::Field("X"));
        insert_path(&mut m, "action/awsApiCallAction/api", Tree::Field("Y"));
        insert_path(&mut m, "action/actionType/oops", Tree::Field("Z"));
        insert_path(&mut m, "action/actionType", Tree::Field("W"));
        assert_eq!(
            Tree::Map(m).to_value(""),
            json!({"action": {"actionType": "X", "awsApiCallAction": {"api": "Y"}}})
        );
    }

    #[test]
    fn tree_reads_as_typed_service() {
        let fields: Fields = serde_json::from_value(json!({
            "aws/guardduty/service/count": "3",
            "aws/guardduty/service/archived": "true",
            "aws/guardduty/service/action/actionType": "AWS_API_CALL",
            "aws/guardduty/service/action/awsApiCallAction/api": "GetParameters",
            "aws/guardduty/service/evidence/threatIntelligenceDetails/0_/threatListName": "L",
            "aws/guardduty/service/additionalInfo": "{\"sample\": true}",
        }))
        .unwrap();
        let first = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let trees = build_trees(&fields, &[], Some(first), None).unwrap();
        let s = typed_service(&trees.service).unwrap();
        assert_eq!(s.count, Some(3));
        assert_eq!(s.archived, Some(true));
        assert_eq!(s.event_first_seen, Some(first));
        assert_eq!(s.additional_info.sample, Some(true));
        assert_eq!(s.threat_list_names().collect::<Vec<_>>(), ["L"]);
        assert!(
            matches!(&s.action, crate::ServiceAction::AwsApiCall(a) if a.api.as_deref() == Some("GetParameters"))
        );
    }
}
