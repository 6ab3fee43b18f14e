//! `ProductFields` as read from the document: keys and string values in one buffer.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// A JSON object kept as its entries, in document order, without building a map (`ProductFields`,
/// `Tags`, `Details`). Lookups take the last entry of a key, as a map would.
#[derive(Debug)]
pub(crate) struct Entries<V>(pub(super) Vec<(String, V)>);
impl<V> Default for Entries<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}
impl<V> Entries<V> {
    pub(super) fn get(&self, key: &str) -> Option<&V> {
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
pub(crate) struct Fields {
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
pub(crate) enum FieldRef<'a> {
    Str(&'a str),
    Json(&'a Value),
}
impl<'a> FieldRef<'a> {
    pub(crate) fn as_str(self) -> Option<&'a str> {
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

    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, FieldRef<'_>)> {
        self.entries.iter().map(|(k, v)| {
            let v = match v {
                FieldVal::Str(s) => FieldRef::Str(self.span(*s)),
                FieldVal::Json(j) => FieldRef::Json(j),
            };
            (self.span(*k), v)
        })
    }

    pub(crate) fn get(&self, key: &str) -> Option<FieldRef<'_>> {
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
