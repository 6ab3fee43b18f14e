//! The GuardDuty `service` and `resource` objects rebuilt from ASFF as a tree that borrows the
//! document's text, read by the typed model through its own serde deserializer.

use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::fields::FieldRef;

/// Leaf keys of `ProductFields` whose values GuardDuty gives as numbers.
pub(super) const NUMERIC_KEYS: &[&str] = &["count", "port", "lat", "lon", "severity", "itemCount"];
/// The GuardDuty `service` and `resource` objects rebuilt from `ProductFields` and `Resources[]`
/// as a tree that borrows their text. The typed model reads it through [`TreeDe`] (the lenient
/// field deserializers turn `"3"` and `"false"` into numbers and booleans); the canonical JSON is
/// made from it with [`Tree::to_value`] only when asked for.
#[derive(Debug)]
pub(super) enum Tree<'a> {
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
pub(super) type TreeMap<'a> = Vec<(&'a str, Tree<'a>)>;
pub(super) fn entry_or_insert<'a>(map: &mut TreeMap<'a>, key: &'a str, value: Tree<'a>) {
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
/// A [`TreeMap`] read as an object.
pub(super) struct TreeMapOwnerDe<'t, 'a>(pub(super) &'t TreeMap<'a>);
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
pub(super) fn map_value(map: &TreeMap<'_>) -> Map<String, Value> {
    map.iter()
        .map(|(k, v)| ((*k).to_owned(), v.to_value(k)))
        .collect()
}
pub(super) fn rfc3339(t: OffsetDateTime) -> Option<String> {
    t.format(&Rfc3339).ok()
}

/// The tree leaf for one `ProductFields` value; `None` for values GuardDuty did not have (an
/// empty `evidence`/`additionalInfo`, an `additionalInfo` that is not valid JSON).
pub(super) fn leaf<'a>(rel: &str, value: FieldRef<'a>) -> Option<Tree<'a>> {
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
pub(super) fn insert_path<'a>(map: &mut TreeMap<'a>, rel: &'a str, value: Tree<'a>) {
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
pub(super) fn arrayify(tree: &mut Tree<'_>) {
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

/// A `null` leaf.
pub(super) fn null_tree<'a>() -> Tree<'a> {
    Tree::Json(Cow::Borrowed(&NULL))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
