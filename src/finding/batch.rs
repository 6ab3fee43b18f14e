//! Whole inputs in memory: [`parse_documents`] splits a byte slice with the streaming splitter
//! ([`super::stream::Documents`]) and parses every document, into a [`ParsedBatch`].

use super::data::Finding;
use super::error::FindingError;
use super::stream::Documents;

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
/// GuardDuty finding at all is an error. Each document may be at most
/// [`MAX_DOCUMENT_BYTES`](super::MAX_DOCUMENT_BYTES).
pub fn parse_documents(bytes: &[u8], source_name: &str) -> ParsedBatch {
    let mut items = Vec::new();
    let mut docs = Documents::new(bytes, source_name);
    let Some(first) = docs.next() else {
        return ParsedBatch { items };
    };
    items.extend(first.parse());
    let mut rest = docs.peekable();
    // The first line of a stream is numbered once the stream has a second document.
    if let (Some(line), Some(_)) = (first.line_if_followed(), rest.peek()) {
        for item in &mut items {
            if let Err(e) = item {
                *e = e.clone().with_line(line);
            }
        }
    }
    for doc in rest {
        items.extend(doc.parse());
    }
    ParsedBatch { items }
}
