//! Reading a trail back for people: its records one at a time, as JSON, whatever else the file
//! holds.
//!
//! A trail may begin with lines written before its chain began, and may end with a line torn by a
//! crash; a line that is not a record is skipped and counted, never an error. Each line is bounded
//! (see [`read_line`]), so one huge line cannot exhaust memory, and the file is read as a stream.

use std::io::BufRead;
use std::path::Path;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::lines::{Line, read_line};

/// One record read back from a trail: its line number and its JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailRecord {
    /// The line it was read from (1-based).
    pub line: u64,
    /// The record as written (with its chain fields `prev` and `mac`).
    pub fields: Map<String, Value>,
}

impl TrailRecord {
    /// What the record is: `decision`, `intent`, `action`, `policy_failure` or `approval`.
    pub fn kind(&self) -> &str {
        self.str("record").unwrap_or_default()
    }

    /// When it was written (RFC 3339, as recorded).
    pub fn time(&self) -> Option<&str> {
        self.str("time")
    }

    /// The finding it is about (an intent record names it inside `finding`).
    pub fn finding_id(&self) -> Option<&str> {
        self.str("finding_id").or_else(|| {
            self.fields
                .get("finding")
                .and_then(|f| f.get("finding_id"))
                .and_then(Value::as_str)
        })
    }

    /// The string field `key`, when the record has one.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }
}

/// Which records to read back: those about one finding, those written since a time.
#[derive(Debug, Clone, Default)]
pub struct TrailFilter {
    finding: Option<String>,
    since: Option<OffsetDateTime>,
}

impl TrailFilter {
    /// Every record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only the records about the finding `id`.
    pub fn with_finding(mut self, id: impl Into<String>) -> Self {
        self.finding = Some(id.into());
        self
    }

    /// Only the records written at or after `since` (RFC 3339); an error names what is wrong with
    /// the time.
    pub fn with_since(mut self, since: &str) -> Result<Self, String> {
        let at = OffsetDateTime::parse(since, &Rfc3339)
            .map_err(|e| format!("`{since}` is not an RFC 3339 time: {e}"))?;
        self.since = Some(at);
        Ok(self)
    }

    /// Whether `record` is one to read back (a record without a readable time is not, once a
    /// time is given).
    pub fn accepts(&self, record: &TrailRecord) -> bool {
        if let Some(id) = &self.finding
            && record.finding_id() != Some(id.as_str())
        {
            return false;
        }
        match self.since {
            None => true,
            Some(since) => record
                .time()
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                .is_some_and(|t| t >= since),
        }
    }
}

/// The records of a trail, one at a time, lines that are not records skipped and counted.
#[derive(Debug)]
pub struct TrailReader<R> {
    reader: R,
    filter: TrailFilter,
    buffer: Vec<u8>,
    lines: u64,
    unreadable: Vec<u64>,
    failed: bool,
}

impl TrailReader<std::io::BufReader<std::fs::File>> {
    /// Reads the trail at `path`.
    pub fn open(path: impl AsRef<Path>, filter: TrailFilter) -> std::io::Result<Self> {
        let file = std::fs::File::open(path.as_ref())?;
        if !file.metadata()?.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        Ok(Self::from_reader(std::io::BufReader::new(file), filter))
    }
}

impl<R: BufRead> TrailReader<R> {
    /// Reads a trail from `reader`.
    pub fn from_reader(reader: R, filter: TrailFilter) -> Self {
        Self {
            reader,
            filter,
            buffer: Vec::new(),
            lines: 0,
            unreadable: Vec::new(),
            failed: false,
        }
    }

    /// The lines read so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The lines read so far that were not records (a torn last line, text that is not JSON, a
    /// line too long to read), by number.
    pub fn unreadable(&self) -> &[u64] {
        &self.unreadable
    }
}

impl<R: BufRead> Iterator for TrailReader<R> {
    type Item = std::io::Result<TrailRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed {
            self.buffer.clear();
            match read_line(&mut self.reader, &mut self.buffer) {
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
                Ok(Line::End) => return None,
                Ok(Line::TooLong) => {
                    self.lines += 1;
                    self.unreadable.push(self.lines);
                    continue;
                }
                Ok(Line::Read) => self.lines += 1,
            }
            if self.buffer.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let record = match serde_json::from_slice::<Value>(&self.buffer) {
                Ok(Value::Object(fields)) if fields.get("record").is_some_and(Value::is_string) => {
                    TrailRecord {
                        line: self.lines,
                        fields,
                    }
                }
                _ => {
                    self.unreadable.push(self.lines);
                    continue;
                }
            };
            if self.filter.accepts(&record) {
                return Some(Ok(record));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRAIL: &str = concat!(
        "{\"record\":\"decision\",\"time\":\"2026-01-01T10:00:00Z\",\"finding_id\":\"a\"}\n",
        "not json at all\n",
        "\n",
        "{\"prev\":\"start\",\"record\":\"intent\",\"time\":\"2026-01-01T11:00:00Z\",",
        "\"finding\":{\"finding_id\":\"b\"}}\n",
        "[1,2]\n",
        "{\"record\":\"action\",\"time\":\"2026-01-01T12:00:00Z\",\"finding_id\":\"a\"}\n",
        "{\"record\":\"action\",\"ti",
    );

    fn read(filter: TrailFilter) -> (Vec<(u64, String)>, Vec<u64>, u64) {
        let mut reader = TrailReader::from_reader(TRAIL.as_bytes(), filter);
        let records = reader
            .by_ref()
            .map(|r| {
                let r = r.unwrap();
                (r.line, r.finding_id().unwrap_or("-").to_owned())
            })
            .collect();
        (records, reader.unreadable().to_vec(), reader.lines())
    }

    #[test]
    fn skips_and_counts_what_is_not_a_record() {
        let (records, unreadable, lines) = read(TrailFilter::new());
        assert_eq!(
            records,
            [
                (1, "a".to_owned()),
                (4, "b".to_owned()),
                (6, "a".to_owned())
            ]
        );
        assert_eq!(unreadable, [2, 5, 7]);
        assert_eq!(lines, 7);
    }

    #[test]
    fn filters_by_finding_and_time() {
        let (records, ..) = read(TrailFilter::new().with_finding("a"));
        assert_eq!(records, [(1, "a".to_owned()), (6, "a".to_owned())]);
        let since = TrailFilter::new()
            .with_since("2026-01-01T11:30:00+01:00")
            .unwrap();
        let (records, ..) = read(since);
        assert_eq!(records, [(4, "b".to_owned()), (6, "a".to_owned())]);
        assert!(TrailFilter::new().with_since("yesterday").is_err());
    }
}
