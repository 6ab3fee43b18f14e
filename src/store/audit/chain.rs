//! The audit trail's hash chain and HMAC: every line names the SHA-256 of the line before it
//! (`"prev"`; `"start"` for the first line of a file), and, with a key, ends with an HMAC-SHA256
//! of everything before it (`"mac"`). An inserted, edited, reordered or removed line breaks the
//! chain at the line after it; without the key, a line cannot be made to verify.
//!
//! What it does not protect against: an attacker who holds the key, and one who deletes the whole
//! file, or (without a key) one who rewrites the whole chain from the edited line on.

use std::fmt;
use std::io::BufRead;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::lines::{Line, line_ending_at, read_line};
use crate::config::{Secret, SecretSource};
use crate::store::state::ChainHead;

/// The `prev` of the first line of a file (a new trail, or the first after rotation).
pub const CHAIN_START: &str = "start";

/// `,"mac":"` + 64 hex digits + `"}`: the fixed-length end of a line with an HMAC.
const MAC_SUFFIX_LEN: usize = 8 + 64 + 2;

/// The key of the audit trail's HMAC. Never printed.
#[derive(Clone)]
pub struct AuditKey(Vec<u8>);

impl AuditKey {
    /// A key of these bytes (at least 16).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, String> {
        let bytes = bytes.into();
        if bytes.len() < 16 {
            return Err("an audit key has at least 16 bytes".to_owned());
        }
        Ok(Self(bytes))
    }

    /// The key held by `secret` (read from `source`, which errors name).
    pub fn from_secret(secret: &Secret, source: &SecretSource) -> Result<Self, String> {
        Self::new(secret.expose().as_bytes().to_vec()).map_err(|e| format!("{source}: {e}"))
    }

    /// The key of `source` when it is an environment variable (a Secrets Manager key is read by
    /// the assembly, which then gives it with `RemediatorBuilder::with_audit_key`).
    pub fn from_source(source: &SecretSource) -> Result<Self, String> {
        Self::from_secret(&source.read_env()?, source)
    }

    /// The key in the environment variable `name`, trimmed.
    pub fn from_env(name: &str) -> Result<Self, String> {
        match std::env::var(name) {
            Ok(value) => Self::new(value.trim().as_bytes().to_vec())
                .map_err(|e| format!("environment variable `{name}`: {e}")),
            Err(_) => Err(format!(
                "environment variable `{name}` (`[audit] key_env`) is not set"
            )),
        }
    }

    /// The HMAC of `bytes` under this key, in hex.
    pub(crate) fn seal_hex(&self, bytes: &[u8]) -> String {
        hex(&self.mac(bytes).finalize().into_bytes())
    }

    /// Whether `seal` (hex) is the HMAC of `bytes` under this key, compared in constant time.
    pub(crate) fn verifies(&self, bytes: &[u8], seal: &str) -> bool {
        unhex(seal.as_bytes()).is_some_and(|mac| self.mac(bytes).verify_slice(&mac).is_ok())
    }

    fn mac(&self, bytes: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        mac.update(bytes);
        mac
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

/// The SHA-256 of a line (without its newline), in hex: the next line's `prev`.
pub fn line_hash(line: &[u8]) -> String {
    hex(&Sha256::digest(line))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `record` (one JSON object) chained after `prev` and, with `key`, sealed with its HMAC.
pub(super) fn seal(record: &[u8], prev: &str, key: Option<&AuditKey>) -> Vec<u8> {
    let body = record.strip_prefix(b"{").unwrap_or(record);
    let mut line = Vec::with_capacity(record.len() + 160);
    line.extend_from_slice(b"{\"prev\":\"");
    line.extend_from_slice(prev.as_bytes());
    line.extend_from_slice(b"\",");
    line.extend_from_slice(body);
    if let Some(key) = key
        && line.last() == Some(&b'}')
    {
        line.pop();
        let mac = hex(&key.mac(&line).finalize().into_bytes());
        line.extend_from_slice(b",\"mac\":\"");
        line.extend_from_slice(mac.as_bytes());
        line.extend_from_slice(b"\"}");
    }
    line
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Lines read (torn ones included).
    pub lines: u64,
    /// Whether every line's HMAC was checked (a key was given).
    pub hmac: bool,
    /// The first line that breaks the trail, and why; `None`: the trail verifies.
    pub first_bad: Option<(u64, String)>,
    /// The SHA-256 of the last line: the chain's head.
    pub head: String,
    /// Lines at the start of the file written before the chain began (by a remedy without it):
    /// hashed into the chain that follows them, but not covered by it.
    pub legacy: u64,
}

impl Verification {
    /// Whether the trail verifies.
    pub fn is_intact(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Checks the trail at `path` line by line, up to line `until` (1-based, inclusive; `None`: to
/// the end): each line's `prev` is the hash of the line before it (`start` on the first), and with
/// `key`, each line's HMAC. A line left incomplete by a crash is hashed like any other: the chain
/// goes on across it.
pub fn verify(
    path: impl AsRef<Path>,
    key: Option<&AuditKey>,
    until: Option<u64>,
) -> std::io::Result<Verification> {
    let file = std::fs::File::open(path.as_ref())?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    verify_reader(std::io::BufReader::new(file), key, until)
}

pub(super) fn verify_reader(
    mut reader: impl BufRead,
    key: Option<&AuditKey>,
    until: Option<u64>,
) -> std::io::Result<Verification> {
    let mut result = Verification {
        lines: 0,
        hmac: key.is_some(),
        first_bad: None,
        head: CHAIN_START.to_owned(),
        legacy: 0,
    };
    let mut chained = false;
    let mut line = Vec::new();
    let mut expected = CHAIN_START.to_owned();
    loop {
        if until.is_some_and(|n| result.lines >= n) {
            break;
        }
        line.clear();
        match read_line(&mut reader, &mut line)? {
            Line::End => break,
            Line::TooLong => {
                result.lines += 1;
                result.first_bad = Some((result.lines, "the line is too long to check".into()));
                break;
            }
            Line::Read => result.lines += 1,
        }
        match check_line(&line, &expected, key) {
            Ok(Kind::Chained) => chained = true,
            Ok(Kind::Torn) => {}
            Ok(Kind::Unchained) if !chained => result.legacy = result.lines,
            Ok(Kind::Unchained) => {
                result.first_bad = Some((
                    result.lines,
                    "the line carries no chain (`prev`): inserted, or written without it".into(),
                ));
                break;
            }
            Err(why) => {
                result.first_bad = Some((result.lines, why));
                break;
            }
        }
        expected = line_hash(&line);
        result.head.clone_from(&expected);
    }
    Ok(result)
}

/// What a line that does not break the chain is.
enum Kind {
    /// It names the line before it (and carries its HMAC when a key is given).
    Chained,
    /// A complete record without a chain: before the chain began, or inserted.
    Unchained,
    /// Cut short by a crash.
    Torn,
}

/// Why `line` does not follow a line of hash `expected`, if it does not.
fn check_line(line: &[u8], expected: &str, key: Option<&AuditKey>) -> Result<Kind, String> {
    // A line cut short by a crash (no complete JSON object) is not a forgery: it is hashed like
    // any other, and the next line must name it.
    if serde_json::from_slice::<serde::de::IgnoredAny>(line).is_err() {
        return Ok(Kind::Torn);
    }
    let Some(rest) = line.strip_prefix(b"{\"prev\":\"") else {
        return Ok(Kind::Unchained);
    };
    let named = rest
        .iter()
        .position(|&b| b == b'"')
        .and_then(|end| rest.get(..end))
        .unwrap_or_default();
    if named != expected.as_bytes() {
        return Err(if expected == CHAIN_START {
            "the first line does not start the chain: lines before it were removed".into()
        } else {
            "its `prev` is not the hash of the line before it: a line was inserted, edited, \
             removed or moved here"
                .into()
        });
    }
    if let Some(key) = key {
        let cut = line.len().checked_sub(MAC_SUFFIX_LEN);
        let (signed, suffix) = match cut {
            Some(at) => line.split_at(at),
            None => return Err("the line has no HMAC (`mac`)".into()),
        };
        let Some(mac_hex) = suffix
            .strip_prefix(b",\"mac\":\"")
            .and_then(|s| s.strip_suffix(b"\"}"))
        else {
            return Err("the line has no HMAC (`mac`)".into());
        };
        let mac_bytes = unhex(mac_hex).ok_or("its `mac` is not hex")?;
        if key.mac(signed).verify_slice(&mac_bytes).is_err() {
            return Err(
                "its HMAC does not match: the line was edited or written without the key".into(),
            );
        }
    }
    Ok(Kind::Chained)
}

/// Why the trail at `path` does not end as `head` says it did, if it does not: it must be at least
/// `head.bytes` long, and the line that ended there must be the one `head` names. Lines written
/// after the head was recorded are fine (the chain vouches for them).
pub fn verify_head(
    path: impl AsRef<Path>,
    head: &ChainHead,
) -> std::io::Result<Result<(), String>> {
    let mut file = std::fs::File::open(path.as_ref())?;
    let len = file.metadata()?.len();
    if len < head.bytes {
        return Ok(Err(format!(
            "the trail is {len} bytes long, but was {} when its head was last recorded: lines were \
             removed from its end",
            head.bytes
        )));
    }
    // The line that ended at `head.bytes`, its newline aside.
    let line = line_ending_at(&mut file, head.bytes.saturating_sub(1))?;
    Ok(if line_hash(&line) == head.hash {
        Ok(())
    } else {
        Err(format!(
            "the line that ended the trail at byte {} when its head was recorded is not there any \
             more: the trail's end was rewritten",
            head.bytes
        ))
    })
}

fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    text.chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail(records: &[&str], key: Option<&AuditKey>) -> Vec<Vec<u8>> {
        let mut prev = CHAIN_START.to_owned();
        records
            .iter()
            .map(|r| {
                let line = seal(r.as_bytes(), &prev, key);
                prev = line_hash(&line);
                line
            })
            .collect()
    }

    fn check(lines: &[Vec<u8>], key: Option<&AuditKey>) -> Verification {
        let text: Vec<u8> = lines
            .iter()
            .flat_map(|l| [l.as_slice(), b"\n"].concat())
            .collect();
        verify_reader(text.as_slice(), key, None).unwrap()
    }

    #[test]
    fn edits_inserts_removals_and_reorders_break_the_chain() {
        let records = [
            r#"{"record":"a","n":1}"#,
            r#"{"record":"b","n":2}"#,
            r#"{"record":"c","n":3}"#,
        ];
        let lines = trail(&records, None);
        assert!(check(&lines, None).is_intact());
        assert!(serde_json::from_slice::<serde_json::Value>(&lines[1]).is_ok());

        let mut edited = lines.clone();
        edited[1] = String::from_utf8(edited[1].clone())
            .unwrap()
            .replace("\"n\":2", "\"n\":9")
            .into_bytes();
        assert_eq!(check(&edited, None).first_bad.unwrap().0, 3);

        let mut removed = lines.clone();
        removed.remove(1);
        assert_eq!(check(&removed, None).first_bad.unwrap().0, 2);

        let mut reordered = lines.clone();
        reordered.swap(1, 2);
        assert_eq!(check(&reordered, None).first_bad.unwrap().0, 2);

        let mut inserted = lines.clone();
        inserted.insert(2, br#"{"record":"action","kind":"undo"}"#.to_vec());
        assert_eq!(check(&inserted, None).first_bad.unwrap().0, 3);

        let mut head_cut = lines.clone();
        head_cut.remove(0);
        let why = check(&head_cut, None).first_bad.unwrap();
        assert_eq!(why.0, 1);
        assert!(why.1.contains("removed"), "{}", why.1);
    }

    #[test]
    fn with_a_key_a_recomputed_chain_does_not_verify() {
        let key = AuditKey::new(b"0123456789abcdef0123".to_vec()).unwrap();
        let records = [r#"{"record":"a"}"#, r#"{"record":"b"}"#];
        let lines = trail(&records, Some(&key));
        let verified = check(&lines, Some(&key));
        assert!(verified.is_intact() && verified.hmac, "{verified:?}");
        // A forger who knows the scheme but not the key recomputes every hash.
        let forged = trail(&[records[0], records[1], r#"{"record":"forged"}"#], None);
        assert_eq!(check(&forged, Some(&key)).first_bad.unwrap().0, 1);
        let wrong = AuditKey::new(b"another key of 16+ bytes".to_vec()).unwrap();
        assert!(!check(&lines, Some(&wrong)).is_intact());
        assert!(AuditKey::new(b"short".to_vec()).is_err());
        assert_eq!(format!("{key:?}"), "AuditKey(..)");
    }

    #[test]
    fn lines_written_before_the_chain_are_a_prefix_only() {
        let legacy = br#"{"record":"action","kind":"notify"}"#.to_vec();
        let first = seal(br#"{"record":"a"}"#, &line_hash(&legacy), None);
        let verified = check(&[legacy.clone(), first.clone()], None);
        assert!(verified.is_intact(), "{verified:?}");
        assert_eq!(verified.legacy, 1);
        // An unchained line after the chain began is inserted.
        let bad = check(&[legacy.clone(), first, legacy], None);
        assert_eq!(bad.first_bad.unwrap().0, 3);
    }

    #[test]
    fn a_torn_line_is_carried_by_the_chain() {
        let key = AuditKey::new(b"0123456789abcdef0123".to_vec()).unwrap();
        let first = seal(br#"{"record":"a"}"#, CHAIN_START, Some(&key));
        let torn = [
            b"{\"prev\":\"".as_slice(),
            line_hash(&first).as_bytes(),
            b"\",\"rec",
        ]
        .concat();
        let next = seal(br#"{"record":"c"}"#, &line_hash(&torn), Some(&key));
        assert!(check(&[first.clone(), torn.clone(), next.clone()], Some(&key)).is_intact());
        // The line after a torn one must name it, not the line before it.
        let skipping = seal(br#"{"record":"c"}"#, &line_hash(&first), Some(&key));
        assert_eq!(
            check(&[first, torn, skipping], Some(&key))
                .first_bad
                .unwrap()
                .0,
            3
        );
    }
}
