//! [`Text`]: the string type of the finding model's fields.

use std::fmt;
use std::ops::Deref;

use compact_str::CompactString;

/// A string field of a finding (ids, names, addresses, ...). Strings up to 24 bytes are stored
/// inline, so parsing a finding does not allocate for most of its fields.
///
/// Reads like a `&str`: it dereferences to `str` (`text.len()`, `opt.as_deref()`), compares with
/// `str` and `String`, displays and serializes as the string.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(CompactString);

impl Text {
    /// The string.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.0.as_str(), f)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Self(CompactString::from(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Self(CompactString::from(s))
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.0.into_string()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.0.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.0.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.0.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.0.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.0.as_str()
    }
}

impl serde::Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text::from(v))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text::from(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// Whether `c` must not reach a terminal or a log line as it is: control characters (newlines,
/// escape sequences, NUL, C1 controls), bidi overrides and isolates, and invisible characters that
/// change how text looks (zero-width joiners, the BOM, line and paragraph separators).
fn is_active(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// Where the first active character of `text` starts, if it has one. Printable ASCII (space to
/// `~`, the bulk of any line) is skipped 16 bytes at a time, checked without an early exit so
/// that the check runs on vectors; only the other characters are decoded and looked at.
fn first_active(text: &str) -> Option<usize> {
    const BLOCK: usize = 16;
    let bytes = text.as_bytes();
    let printable = |b: u8| b.wrapping_sub(0x20) < 0x5f;
    let mut i = 0;
    while i < bytes.len() {
        while let Some(block) = bytes.get(i..i + BLOCK) {
            if !block.iter().fold(true, |all, &b| all & printable(b)) {
                break;
            }
            i += BLOCK;
        }
        match bytes.get(i) {
            None => return None,
            Some(&b) if printable(b) => i += 1,
            Some(_) => {
                // Not printable ASCII: a control character or the first byte of a wider one.
                let c = text.get(i..)?.chars().next()?;
                if is_active(c) {
                    return Some(i);
                }
                i += c.len_utf8();
            }
        }
    }
    None
}

/// `text` made inert for a terminal or a log line: every character that could move the cursor,
/// start a new line, recolour or reorder what follows (see above) is written as a visible escape
/// (`\n`, `\u{1b}`, `\u{202e}`); everything else stays as it is. Finding fields are chosen by
/// the attacker (user agents, domains, sometimes names): human-facing output shows them only
/// through this, so no line can be forged. JSON output needs nothing more than JSON's escaping.
///
/// ```
/// use remedy::finding::inert;
/// assert_eq!(inert("alice"), "alice");
/// assert_eq!(inert("a\nexecuted: x"), "a\\nexecuted: x");
/// assert_eq!(inert("\u{1b}[31mred"), "\\u{1b}[31mred");
/// ```
pub fn inert(text: &str) -> std::borrow::Cow<'_, str> {
    use std::fmt::Write as _;
    let Some(start) = first_active(text) else {
        return std::borrow::Cow::Borrowed(text);
    };
    let (inert, rest) = text.split_at(start);
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(inert);
    for c in rest.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_active(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Serialized JSON made inert for a terminal: the active characters JSON's own escaping leaves
/// as they are (DEL, C1 controls, bidi overrides, zero-width characters, line separators) written
/// as `\uXXXX` escapes. The result is the same JSON value; only its spelling changes. Every JSON
/// line remedy writes (stdout records, the audit trail) goes through this.
///
/// ```
/// use remedy::finding::inert_json;
/// let json = serde_json::to_string("a\u{202e}b").unwrap();
/// assert_eq!(inert_json(&json), r#""a\u202eb""#);
/// let back: String = serde_json::from_str(&inert_json(&json)).unwrap();
/// assert_eq!(back, "a\u{202e}b");
/// ```
pub fn inert_json(json: &str) -> std::borrow::Cow<'_, str> {
    use std::fmt::Write as _;
    let Some(start) = first_active(json) else {
        return std::borrow::Cow::Borrowed(json);
    };
    let (inert, rest) = json.split_at(start);
    let mut out = String::with_capacity(json.len() + 8);
    out.push_str(inert);
    for c in rest.chars() {
        if is_active(c) {
            // Every active character is in the basic multilingual plane: one `\uXXXX` each.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_stays_the_same_value_without_active_characters() {
        let value = serde_json::json!({"t": "x\u{1b}[2J\u{7f}\u{9b}\u{202e}\u{2028}\u{feff}\n\0y"});
        let json = serde_json::to_string(&value).unwrap();
        let inert = inert_json(&json);
        assert!(!inert.chars().any(is_active), "{inert}");
        let back: serde_json::Value = serde_json::from_str(&inert).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn first_active_finds_what_a_character_scan_finds() {
        let reference = |s: &str| {
            s.char_indices()
                .find(|&(_, c)| is_active(c))
                .map(|(i, _)| i)
        };
        // Every character up to U+FFFF and a few beyond, alone and after a long ASCII run (the
        // block path) and inside wider characters (the decoding path).
        let run = "x".repeat(37);
        for code in (0..=0x1_0000u32).chain([0x1_f600, 0x10_ffff]) {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            for s in [
                c.to_string(),
                format!("{run}{c}"),
                format!("é…{c}{run}"),
                format!("{run}…{run}{c}y"),
            ] {
                assert_eq!(first_active(&s), reference(&s), "U+{code:04X} in {s:?}");
            }
        }
        assert_eq!(first_active(""), None);
        let long = "a".repeat(200);
        assert_eq!(
            inert_json(&format!("{long}…\u{1b}")),
            format!("{long}…\\u001b")
        );
        assert!(matches!(
            inert_json(&format!("{long}…")),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn active_characters_are_escaped() {
        assert_eq!(inert("plain ünïcode"), "plain ünïcode");
        assert_eq!(inert("x\r\ny"), "x\\r\\ny");
        assert_eq!(inert("\u{202e}evil"), "\\u{202e}evil");
        assert_eq!(inert("a\0b"), "a\\u{0}b");
        assert_eq!(inert("\u{9b}31m"), "\\u{9b}31m");
        assert!(matches!(inert("ok"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn reads_like_a_str() {
        let t = Text::from("AKIAIOSFODNN7EXAMPLE");
        assert_eq!(t, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(t.as_str().len(), 20);
        assert_eq!(Some(t.clone()).as_deref(), Some("AKIAIOSFODNN7EXAMPLE"));
        assert_eq!(
            format!("{t}/{t:?}"),
            "AKIAIOSFODNN7EXAMPLE/\"AKIAIOSFODNN7EXAMPLE\""
        );
        let long = Text::from("x".repeat(100));
        assert_eq!(long.len(), 100);
        assert_eq!(String::from(long), "x".repeat(100));
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"AKIAIOSFODNN7EXAMPLE\""
        );
        let back: Text = serde_json::from_str("\"a\\nb\"").unwrap();
        assert_eq!(back, "a\nb");
    }
}
