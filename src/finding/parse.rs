//! Shape detection and dispatch: which documents an input holds, and which shape each is in
//! (EventBridge event, bare finding, `{"Findings": [...]}`, Security Hub ASFF); the mappings
//! themselves are in [`super::guardduty`] and [`super::asff`].

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::asff;
use super::data::{Finding, FindingData};
use super::document::{Doc, DocObj, LazyJson, LocSeg, SharedDoc};
use super::error::{FindingError, FindingErrorKind, from_serde};
use super::guardduty::{self, At, Origin};
use super::product::{generic, malware, ocsf, securityhub};
use super::shape::{Envelope, Shape};

/// The largest document remedy parses: 16 MiB. A JSON Lines stream may be longer; each of its
/// lines is a document. Larger documents are rejected before parsing.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// One finding (or the error of one) of a document.
type Item = Result<FindingData, FindingError>;

/// Exactly one finding from the results of one document.
pub(super) fn single(results: Vec<Item>) -> Result<Finding, FindingError> {
    let count = results.len();
    let mut iter = results.into_iter();
    match (iter.next(), count) {
        (Some(r), 1) => r.map(Finding::from_data),
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
pub(super) fn parse_one_document(bytes: &[u8]) -> Vec<Item> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return vec![Err(FindingError::new(
            "$",
            FindingErrorKind::TooLarge {
                size: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
                limit: u64::try_from(MAX_DOCUMENT_BYTES).unwrap_or(u64::MAX),
            },
        ))];
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return vec![Err(utf16_error())];
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) if bytes.contains(&0) => return vec![Err(utf16_error())],
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
    let shared = SharedDoc::from_text(text);
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
            Err(e) => out.push(Err(syntax_error(&e, text))),
        }
    } else {
        match serde_json::from_str::<DocObj>(text) {
            Ok(DocObj(doc)) => classify(doc, &shared, Vec::new(), "$", &mut out),
            Err(e) => out.push(Err(syntax_error(&e, text))),
        }
    }
    out
}

/// The error of a document serde could not read: UTF-16 (or binary) when it holds a NUL byte.
/// Looked for only here, once parsing failed: no JSON text holds a NUL byte (not even inside a
/// string), so a document that parses has none, and the search is not paid on every finding.
fn syntax_error(e: &serde_json::Error, text: &str) -> FindingError {
    if text.as_bytes().contains(&0) {
        utf16_error()
    } else {
        from_serde(e, text)
    }
}

fn utf16_error() -> FindingError {
    FindingError::new(
        "$",
        FindingErrorKind::Syntax {
            message: "the input is UTF-16 (or binary), not UTF-8 JSON: convert it \
                      (`iconv -f UTF-16 -t UTF-8`)"
                .to_owned(),
        },
    )
}

/// Parses a document that is already a [`Value`].
pub(super) fn parse_value(value: Value) -> Vec<Item> {
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
    match docs {
        Ok(docs) => {
            let shared = SharedDoc::from_value(value);
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
    out: &mut Vec<Item>,
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
    } else if doc.class_uid.is_some() {
        out.push(ocsf::to_finding(path, None, lazy(shared, locator)));
    } else if doc.is_asff() {
        out.push(asff_finding(doc, path, None, lazy(shared, locator)));
    } else if doc.looks_like_finding() {
        let shape = if doc.type_camel.is_none() && doc.type_pascal.is_some() {
            Shape::Cli
        } else {
            Shape::Raw
        };
        let origin = Origin {
            shape,
            envelope: None,
            doc: shared,
            locator,
            path: At(path, ""),
        };
        out.push(guardduty::finding(doc, origin));
    } else {
        out.push(Err(FindingError::not_guardduty(
            path,
            "expected an EventBridge event, a GuardDuty finding, a `{\"Findings\": [...]}` \
             response, a Security Hub (ASFF) finding or an OCSF finding",
        )));
    }
}

fn eventbridge(
    doc: Doc,
    shared: &Arc<SharedDoc>,
    locator: &[LocSeg],
    path: &str,
    out: &mut Vec<Item>,
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
        let origin = Origin {
            shape: Shape::Eventbridge,
            envelope: Some(envelope),
            doc: shared,
            locator: push(locator, LocSeg::Key("detail")),
            path: detail_path,
        };
        out.push(guardduty::finding(detail.0, origin));
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
    } else if dt == malware::DETAIL_TYPE {
        let at = lazy(shared, push(locator, LocSeg::Key("detail")));
        out.push(malware::to_finding(path, envelope, at));
    } else if generic::looks_like_finding(&detail.0) {
        let at = lazy(shared, push(locator, LocSeg::Key("detail")));
        out.push(generic::to_finding(
            detail.0,
            &detail_path.to_string(),
            envelope,
            at,
        ));
    } else {
        out.push(Err(FindingError::not_guardduty(
            path,
            format!(
                "the event is `{dt}` from `{source}`, and its detail is not a finding (no id and \
                 type); expected `GuardDuty Finding`, `Security Hub Findings - Imported`, \
                 `Findings Imported V2` or `{}`",
                malware::DETAIL_TYPE
            ),
        )));
    }
}

/// The canonical JSON of the finding at `locator`, as delivered (read on first use).
fn lazy(shared: &Arc<SharedDoc>, locator: Vec<LocSeg>) -> LazyJson {
    LazyJson {
        doc: Arc::clone(shared),
        locator,
        pascal: false,
    }
}

/// One ASFF finding: GuardDuty's mapped back to GuardDuty's model, any other product's read as a
/// finding of source `securityhub`.
fn asff_finding(doc: Doc, path: &str, envelope: Option<Envelope>, at: LazyJson) -> Item {
    match asff::product_of(&doc) {
        Ok(()) => asff::to_finding(doc, path, envelope),
        Err(product) => securityhub::to_finding(doc, product, path, envelope, at),
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
    out: &mut Vec<Item>,
) {
    let total = list.len();
    for (i, DocObj(doc)) in list.into_iter().enumerate() {
        let item_path = format!("{path}.{key}[{i}]");
        let loc = push(&push(locator, LocSeg::Key(key)), LocSeg::Index(i));
        if doc.class_uid.is_some() {
            out.push(ocsf::to_finding(
                &item_path,
                envelope.cloned(),
                lazy(shared, loc),
            ));
        } else if doc.is_asff() {
            out.push(asff_finding(
                doc,
                &item_path,
                envelope.cloned(),
                lazy(shared, loc),
            ));
        } else {
            let shape = if envelope.is_some() {
                Shape::Eventbridge
            } else {
                Shape::Cli
            };
            let origin = Origin {
                shape,
                envelope: envelope.cloned(),
                doc: shared,
                locator: loc,
                path: At(&item_path, ""),
            };
            out.push(guardduty::finding(doc, origin));
        }
    }
    if total == 0 {
        out.push(Err(FindingError::not_guardduty(
            format!("{path}.{key}"),
            format!("the `{key}` array is empty"),
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_and_binary_are_named_when_parsing_fails() {
        let json = include_str!("../../tests/fixtures/policy/iam-malicious-ip.json");
        let message = |bytes: &[u8]| match parse_one_document(bytes).pop() {
            Some(Err(e)) => e.to_string(),
            other => panic!("expected an error, got {other:?}"),
        };
        // UTF-16 without a byte-order mark is valid UTF-8 (with NUL bytes); with one it is not.
        let utf16: Vec<u8> = json.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert!(message(&utf16).contains("UTF-16"));
        let mut bom = vec![0xff, 0xfe];
        bom.extend(&utf16);
        assert!(message(&bom).contains("UTF-16"));
        assert!(message(&[0xc3, 0x28, 0x00]).contains("UTF-16"));
        assert!(message(b"{\"id\": \"a\0b\"}").contains("UTF-16"));
        assert!(message(&[0xc3, 0x28]).contains("not UTF-8"));
        assert!(
            message(b"{\"id\": ").contains("EOF"),
            "{}",
            message(b"{\"id\": ")
        );
        assert!(matches!(
            parse_one_document(json.as_bytes()).as_slice(),
            [Ok(_)]
        ));
    }
}
