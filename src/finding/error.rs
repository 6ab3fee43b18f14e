//! [`FindingError`]: what went wrong, in which document, at which JSON path.

use std::fmt;

/// Why a document could not be read as GuardDuty findings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FindingErrorKind {
    /// The bytes are not JSON (or not UTF-8), or the nesting is deeper than the parser allows.
    Syntax {
        /// The parser's message.
        message: String,
    },
    /// A value is missing or has the wrong type or form.
    Invalid {
        /// What the value should be.
        expected: String,
        /// What was found instead (`an object`, `nothing`, `` `abc` ``, ...).
        found: String,
    },
    /// The document cannot be read for another reason (a duplicate key, nesting too deep, ...).
    Unsupported {
        /// What is wrong.
        message: String,
    },
    /// The document is JSON but holds no finding remedy reads (another event, a document of no
    /// known shape). The name is historical: findings of every source are read.
    NotGuardDuty {
        /// Why it was not recognised.
        reason: String,
    },
    /// The input is empty or holds only whitespace.
    Empty,
    /// The document is larger than the size limit.
    TooLarge {
        /// The document's size in bytes.
        size: u64,
        /// The limit in bytes (for a document: [`MAX_DOCUMENT_BYTES`](crate::finding::MAX_DOCUMENT_BYTES)).
        limit: u64,
    },
    /// The input could not be read.
    Io {
        /// The operating system's message.
        message: String,
    },
}

/// An input that could not be read as GuardDuty findings.
///
/// Says which document (source name and, for JSON Lines, the line), which JSON path (`$` is the
/// document itself) and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct FindingError {
    source_name: Option<String>,
    line: Option<u64>,
    path: String,
    kind: FindingErrorKind,
}

impl FindingError {
    pub(crate) fn new(path: impl Into<String>, kind: FindingErrorKind) -> Self {
        Self {
            source_name: None,
            line: None,
            path: path.into(),
            kind,
        }
    }

    pub(crate) fn invalid(
        path: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Self::new(
            path,
            FindingErrorKind::Invalid {
                expected: expected.into(),
                found: found.into(),
            },
        )
    }

    pub(crate) fn not_guardduty(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(
            path,
            FindingErrorKind::NotGuardDuty {
                reason: reason.into(),
            },
        )
    }

    /// An input that could not be read.
    pub fn from_io(err: &std::io::Error) -> Self {
        Self::new(
            "$",
            FindingErrorKind::Io {
                message: err.to_string(),
            },
        )
    }

    /// An input larger than `limit` bytes.
    pub fn too_large(size: usize, limit: u64) -> Self {
        Self::new(
            "$",
            FindingErrorKind::TooLarge {
                size: u64::try_from(size).unwrap_or(u64::MAX),
                limit,
            },
        )
    }

    /// Names the document the error belongs to (a file name, `-` for stdin, ...).
    #[must_use]
    pub fn with_source(mut self, source_name: impl Into<String>) -> Self {
        self.source_name = Some(source_name.into());
        self
    }

    /// Sets the line of a JSON Lines stream the document started on (1-based).
    #[must_use]
    pub fn with_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    /// Prefixes the JSON path with the path of the enclosing value (`$[3]`, `$.detail`, ...).
    #[must_use]
    pub(crate) fn within(mut self, prefix: &str) -> Self {
        if let Some(rest) = self.path.strip_prefix('$') {
            self.path = format!("{prefix}{rest}");
        }
        self
    }

    /// The name of the document's source, if one was given.
    pub fn source_name(&self) -> Option<&str> {
        self.source_name.as_deref()
    }

    /// The line of a JSON Lines stream the document started on (1-based).
    pub fn line(&self) -> Option<u64> {
        self.line
    }

    /// The JSON path of the offending value (`$` for the whole document).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What went wrong.
    pub fn kind(&self) -> &FindingErrorKind {
        &self.kind
    }
}

impl fmt::Display for FindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.source_name, self.line) {
            (Some(name), Some(line)) => write!(f, "`{name}` line {line}: ")?,
            (Some(name), None) => write!(f, "`{name}`: ")?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        match &self.kind {
            FindingErrorKind::Syntax { message } => {
                write!(f, "invalid JSON at `{}`: {message}", self.path)
            }
            FindingErrorKind::Invalid { expected, found } => {
                write!(f, "at `{}`: expected {expected}, found {found}", self.path)
            }
            FindingErrorKind::Unsupported { message } => write!(f, "at `{}`: {message}", self.path),
            FindingErrorKind::NotGuardDuty { reason } => {
                write!(f, "no finding at `{}`: {reason}", self.path)
            }
            FindingErrorKind::Empty => f.write_str("empty document: expected a finding"),
            FindingErrorKind::TooLarge { size, limit } => write!(
                f,
                "document of {size} bytes is larger than the limit of {limit} bytes"
            ),
            FindingErrorKind::Io { message } => write!(f, "cannot read: {message}"),
        }
    }
}

/// Describes a JSON value for an error message (`an object`, `` `abc` ``, ...).
pub(crate) fn describe(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            if short.len() < s.len() {
                format!("`{short}…`")
            } else {
                format!("`{short}`")
            }
        }
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Turns a serde_json error on `text` into a [`FindingError`] with the JSON path of the position
/// the parser stopped at.
pub(crate) fn from_serde(err: &serde_json::Error, text: &str) -> FindingError {
    let path = if err.line() == 0 {
        "$".to_owned()
    } else {
        path_at(text, err.line(), err.column())
    };
    let message = strip_position(&err.to_string());
    match err.classify() {
        serde_json::error::Category::Data => match split_expected(&message) {
            Some((expected, found)) => FindingError::invalid(path, expected, found),
            None => FindingError::new(path, FindingErrorKind::Unsupported { message }),
        },
        serde_json::error::Category::Eof if text.trim().is_empty() => {
            FindingError::new("$", FindingErrorKind::Empty)
        }
        _ => FindingError::new(path, FindingErrorKind::Syntax { message }),
    }
}

/// serde_json appends " at line L column C"; the path says where, so drop it.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message.get(..i).unwrap_or(message).to_owned(),
        None => message.to_owned(),
    }
}

/// Splits serde's "invalid type: map, expected a string" into (expected, found).
fn split_expected(message: &str) -> Option<(String, String)> {
    let (head, expected) = message.split_once(", expected ")?;
    let found = head
        .strip_prefix("invalid type: ")
        .or_else(|| head.strip_prefix("invalid value: "))
        .unwrap_or(head);
    let found = match found {
        "map" => "an object".to_owned(),
        "sequence" => "an array".to_owned(),
        "null" => "null".to_owned(),
        "string" => "a string".to_owned(),
        "boolean" => "a boolean".to_owned(),
        other => other.to_owned(),
    };
    Some((expected.to_owned(), found))
}

/// The JSON path of the value at (line, column) of `text` (1-based, as serde_json reports).
///
/// A small tokenizer walks the text up to that position, keeping a stack of object keys and array
/// indices. It never fails: on text it does not understand it returns the path so far.
pub(crate) fn path_at(text: &str, line: usize, column: usize) -> String {
    let offset = byte_offset(text, line, column);
    let bytes = text.as_bytes();
    enum Seg {
        Key(String),
        Index(usize),
    }
    let mut stack: Vec<Seg> = Vec::new();
    // For each open container: is it an object, and (objects) are we before the colon?
    let mut containers: Vec<bool> = Vec::new();
    let mut expecting_key = false;
    let mut i = 0;
    while i < offset && i < bytes.len() {
        let b = bytes.get(i).copied().unwrap_or(b' ');
        match b {
            b'{' => {
                containers.push(true);
                expecting_key = true;
                stack.push(Seg::Key(String::new()));
            }
            b'[' => {
                containers.push(false);
                expecting_key = false;
                stack.push(Seg::Index(0));
            }
            b'}' | b']' => {
                containers.pop();
                stack.pop();
                expecting_key = false;
            }
            b',' => match stack.last_mut() {
                Some(Seg::Index(n)) => *n += 1,
                Some(Seg::Key(_)) => expecting_key = true,
                None => {}
            },
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() {
                    match bytes.get(j) {
                        Some(b'\\') => j += 2,
                        Some(b'"') => break,
                        _ => j += 1,
                    }
                }
                if expecting_key {
                    if let Some(Seg::Key(k)) = stack.last_mut() {
                        *k = text.get(start..j.min(bytes.len())).unwrap_or("").to_owned();
                    }
                    expecting_key = false;
                }
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
    let mut path = String::from("$");
    // Keep paths readable for absurdly deep input: the first 16 and the last 8 segments.
    let depth = stack.len();
    for (n, seg) in stack.iter().enumerate() {
        if depth > 24 && (16..depth - 8).contains(&n) {
            if n == 16 {
                path.push_str(&format!("…({} levels)…", depth - 24));
            }
            continue;
        }
        match seg {
            Seg::Key(k) if k.is_empty() => {}
            Seg::Key(k) => {
                if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    path.push('.');
                    path.push_str(k);
                } else {
                    path.push_str(&format!("[{k:?}]"));
                }
            }
            Seg::Index(n) => path.push_str(&format!("[{n}]")),
        }
    }
    path
}

fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text.get(start..).and_then(|rest| rest.find('\n')) {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    // serde_json columns point at the last byte read; keep that byte out of the walk.
    (start + column.saturating_sub(1)).min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_at_points_into_nested_values() {
        let text = r#"{"a": {"b": [1, {"c": {"x": 1}}]}}"#;
        let col = text.find("\"x\"").unwrap() + 1;
        assert_eq!(path_at(text, 1, col), "$.a.b[1].c");
        let col = text.find("1,").unwrap() + 1;
        assert_eq!(path_at(text, 1, col), "$.a.b[0]");
    }

    #[test]
    fn path_at_quotes_odd_keys() {
        let text = "{\"detail-type\": {\n \"x\": 1}}";
        assert_eq!(path_at(text, 2, 7), "$[\"detail-type\"].x");
        assert_eq!(path_at(text, 1, 16), "$[\"detail-type\"]");
    }
}
