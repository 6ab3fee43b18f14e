//! Incremental splitting: the documents of an input read as they arrive, from any
//! [`BufRead`], with the size cap applied to each document rather than to the input.
//!
//! [`Documents`] only finds where each document starts and ends (cheap byte scanning); parsing
//! is [`RawDocument::parse`], so a caller can parse (and evaluate) on several threads while one
//! reads. [`parse_documents`](super::parse_documents) is the same splitter over a byte slice.
//!
//! How an input is split, decided by its first non-empty line:
//! - the line is a complete JSON object or array: **JSON Lines**, every non-empty line is a
//!   document of its own, so a broken line costs only itself;
//! - otherwise the first value spans lines (pretty-printed, or longer than the cap): a top-level
//!   **array** is streamed element by element, an **object** is read whole (up to the cap). When
//!   such a value turns out broken (a string running past the end of a line, or the input ending
//!   inside it) and a later line stands alone, the first line is reported and the rest is read as
//!   JSON Lines again (a stream whose first line was cut). After a value, the next line decides
//!   again, so concatenated pretty-printed documents (`jq .` output) work too.
//!
//! Line numbers: every document after the first names the line it starts on. The first one names
//! its line only when the input turns out to hold more documents, which is known later:
//! [`RawDocument::line_if_followed`] tells the consumer which line to give its errors then.

use std::collections::VecDeque;
use std::io::BufRead;
use std::sync::Arc;

use super::data::Finding;
use super::error::{FindingError, FindingErrorKind};
use super::parse::{MAX_DOCUMENT_BYTES, parse_one_document};

mod scan;

use scan::{Scanner, is_binary, stands_alone};

/// One document of an input, split but not parsed yet (or the error that stood in its place:
/// too large, unreadable, an unclosed array).
#[derive(Debug)]
pub struct RawDocument {
    content: Content,
    source: Arc<str>,
    line: u64,
    numbered: Numbered,
    element: Option<usize>,
}

#[derive(Debug)]
enum Content {
    Bytes(Vec<u8>),
    Error(FindingError),
}

/// Whether a document's errors name its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Numbered {
    Yes,
    No,
    /// The first line of the input: numbered once another document follows.
    IfFollowed,
}

impl RawDocument {
    /// Parses the document: its findings (an array or a batch may hold several) or the error of
    /// each part that failed, in order. Errors name the source and, when known, the line.
    pub fn parse(&self) -> Vec<Result<Finding, FindingError>> {
        let results = match &self.content {
            Content::Bytes(bytes) => parse_one_document(bytes)
                .into_iter()
                .map(|r| r.map(Finding::from_data))
                .collect(),
            Content::Error(e) => vec![Err(e.clone())],
        };
        results
            .into_iter()
            .map(|r| r.map_err(|e| self.locate(e)))
            .collect()
    }

    /// The line a consumer gives this document's errors once it knows that another document
    /// followed it (the first line of a JSON Lines input); `None` for every other document,
    /// whose errors already say where they are.
    pub fn line_if_followed(&self) -> Option<u64> {
        (self.numbered == Numbered::IfFollowed).then_some(self.line)
    }

    /// The size of the document in bytes (0 for an error).
    pub fn len(&self) -> usize {
        match &self.content {
            Content::Bytes(b) => b.len(),
            Content::Error(_) => 0,
        }
    }

    /// Whether the document is empty (an error stands in its place).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn locate(&self, e: FindingError) -> FindingError {
        let e = match self.element {
            Some(i) => e.within(&format!("$[{i}]")),
            None => e,
        };
        let e = e.with_source(&*self.source);
        match self.numbered {
            Numbered::Yes => e.with_line(self.line),
            Numbered::No | Numbered::IfFollowed => e,
        }
    }
}

/// The documents of an input, read incrementally from `R`: memory
/// stays bounded by [`MAX_DOCUMENT_BYTES`] per document, whatever the input's length, and each
/// document is returned as soon as its last byte has been read.
#[derive(Debug)]
pub struct Documents<R> {
    input: R,
    source: Arc<str>,
    /// Newlines consumed from `input`: the next byte of `input` is on line `line + 1`.
    line: u64,
    mode: Mode,
    /// Lines to read (again) before the input: what a broken value left, text after a value.
    replay: VecDeque<(u64, Vec<u8>)>,
    /// Bytes of a line already read that an array goes on reading: (line, bytes, ends the line).
    front: VecDeque<u8>,
    front_line: u64,
    front_ends_line: bool,
    queue: VecDeque<RawDocument>,
    emitted: usize,
    cap: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Start,
    Lines,
    /// Inside a top-level array: the next element's index, and whether the array is the first
    /// value of the input.
    Array(usize, bool),
    Done,
}

impl<R: BufRead> Documents<R> {
    /// The documents of `input`; `source_name` (a file name, `-`) is put in every error.
    pub fn new(input: R, source_name: &str) -> Self {
        Self::with_limit(input, source_name, MAX_DOCUMENT_BYTES)
    }

    /// Like [`Documents::new`], with documents of at most `limit` bytes (capped at
    /// [`MAX_DOCUMENT_BYTES`]).
    pub fn with_limit(input: R, source_name: &str, limit: usize) -> Self {
        Self {
            input,
            source: Arc::from(source_name),
            line: 0,
            mode: Mode::Start,
            replay: VecDeque::new(),
            front: VecDeque::new(),
            front_line: 0,
            front_ends_line: false,
            queue: VecDeque::new(),
            emitted: 0,
            cap: limit.min(MAX_DOCUMENT_BYTES),
        }
    }

    /// The reader (to look at what it has buffered, say).
    pub fn get_ref(&self) -> &R {
        &self.input
    }

    /// Whether a document is queued already, so that the next call returns without reading.
    pub fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    fn nothing_yet(&self) -> bool {
        self.emitted + self.queue.len() == 0
    }

    fn numbered(&self, one_line: bool) -> Numbered {
        match (self.nothing_yet(), one_line) {
            (true, true) => Numbered::IfFollowed,
            (true, false) => Numbered::No,
            (false, _) => Numbered::Yes,
        }
    }

    fn push(&mut self, content: Content, line: u64, numbered: Numbered, element: Option<usize>) {
        self.queue.push_back(RawDocument {
            content,
            source: Arc::clone(&self.source),
            line,
            numbered,
            element,
        });
    }

    fn cap_u64(&self) -> u64 {
        u64::try_from(self.cap).unwrap_or(u64::MAX)
    }

    /// The next line (from the replay queue first), at most `cap` bytes; `true` when it was cut
    /// there, the rest of the line left unread.
    fn next_line(&mut self) -> std::io::Result<Option<(u64, Vec<u8>, bool)>> {
        if let Some((n, text)) = self.replay.pop_front() {
            return Ok(Some((n, text, false)));
        }
        let mut buf = Vec::new();
        let mut read_any = false;
        loop {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            read_any = true;
            let room = self.cap.saturating_add(1).saturating_sub(buf.len());
            let window = chunk.get(..room.min(chunk.len())).unwrap_or(chunk);
            if let Some(i) = window.iter().position(|&b| b == b'\n') {
                buf.extend_from_slice(window.get(..i).unwrap_or_default());
                self.input.consume(i + 1);
                self.line += 1;
                return Ok(Some((self.line, buf, false)));
            }
            let n = window.len();
            buf.extend_from_slice(window);
            self.input.consume(n);
            if buf.len() > self.cap {
                return Ok(Some((self.line + 1, buf, true)));
            }
        }
        if !read_any {
            return Ok(None);
        }
        self.line += 1;
        Ok(Some((self.line, buf, false)))
    }

    /// Reads on to the end of a line cut at the cap; returns the number of bytes skipped.
    fn skip_line(&mut self) -> std::io::Result<usize> {
        let mut skipped = 0;
        loop {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                return Ok(skipped);
            }
            if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
                self.input.consume(i + 1);
                self.line += 1;
                return Ok(skipped + i);
            }
            let n = chunk.len();
            skipped += n;
            self.input.consume(n);
        }
    }

    /// The next byte (of `front` first) and its line.
    fn next_byte(&mut self) -> std::io::Result<Option<(u8, u64)>> {
        if let Some(b) = self.front.pop_front() {
            return Ok(Some((b, self.front_line)));
        }
        let chunk = self.input.fill_buf()?;
        let Some(&b) = chunk.first() else {
            return Ok(None);
        };
        self.input.consume(1);
        let line = self.line + 1;
        if b == b'\n' {
            self.line += 1;
        }
        Ok(Some((b, line)))
    }

    /// The rest of the line the last byte read was on.
    fn rest_of_line(&mut self) -> std::io::Result<Option<(u64, Vec<u8>)>> {
        if !self.front.is_empty() {
            let mut rest: Vec<u8> = self.front.drain(..).collect();
            if self.front_ends_line {
                rest.pop();
                return Ok(Some((self.front_line, rest)));
            }
            if let Some((_, more, _)) = self.next_line()? {
                rest.extend(more);
            }
            return Ok(Some((self.front_line, rest)));
        }
        Ok(self.next_line()?.map(|(n, text, _)| (n, text)))
    }

    /// The text after a value on the line it closed on, read as a line of its own.
    fn replay_rest_of_line(&mut self) -> std::io::Result<()> {
        if let Some((line, rest)) = self.rest_of_line()?
            && !rest.trim_ascii().is_empty()
        {
            self.replay.push_front((line, rest));
        }
        Ok(())
    }

    /// Reads until at least one document is queued or the input ends.
    fn fill(&mut self) -> std::io::Result<()> {
        while self.queue.is_empty() {
            match self.mode {
                Mode::Done => return Ok(()),
                Mode::Array(index, first) => self.element(index, first)?,
                Mode::Start | Mode::Lines => self.line_step()?,
            }
        }
        Ok(())
    }

    /// One line of JSON Lines, or the start of a value that spans lines.
    fn line_step(&mut self) -> std::io::Result<()> {
        let Some((n, mut text, cut)) = self.next_line()? else {
            if self.nothing_yet() {
                let e = FindingError::new("$", FindingErrorKind::Empty);
                self.push(Content::Error(e), self.line, Numbered::No, None);
            }
            self.mode = Mode::Done;
            return Ok(());
        };
        if n == 1
            && self.nothing_yet()
            && let Some(rest) = text.strip_prefix(b"\xEF\xBB\xBF")
        {
            text = rest.to_vec();
        }
        let trimmed = text.trim_ascii_start();
        let opens = trimmed.first().copied();
        if cut && (self.mode == Mode::Lines || !matches!(opens, Some(b'{' | b'['))) {
            let size = text.len() + self.skip_line()?;
            let numbered = self.numbered(false);
            let e = FindingError::too_large(size, self.cap_u64());
            self.push(Content::Error(e), n, numbered, None);
            return Ok(());
        }
        let trimmed = trimmed.trim_ascii_end();
        if trimmed.is_empty() {
            return Ok(());
        }
        if !cut && (self.mode == Mode::Lines || stands_alone(trimmed)) {
            let numbered = self.numbered(true);
            self.mode = Mode::Lines;
            self.push(Content::Bytes(trimmed.to_vec()), n, numbered, None);
            return Ok(());
        }
        if n == 1 && is_binary(trimmed) {
            self.push(Content::Bytes(trimmed.to_vec()), n, Numbered::No, None);
            self.mode = Mode::Done;
            return Ok(());
        }
        match opens {
            Some(b'[') => {
                let start = text.len() - text.trim_ascii_start().len();
                self.front = text
                    .get(start + 1..)
                    .unwrap_or_default()
                    .iter()
                    .copied()
                    .collect();
                if !cut {
                    self.front.push_back(b'\n');
                }
                self.front_line = n;
                self.front_ends_line = !cut;
                self.mode = Mode::Array(0, self.nothing_yet());
            }
            Some(b'{') => self.object(text, n, cut)?,
            _ => {
                let numbered = self.numbered(true);
                self.push(Content::Bytes(trimmed.to_vec()), n, numbered, None);
            }
        }
        Ok(())
    }

    /// Feeds input bytes to `scan` until its value closes, the value breaks or the input ends,
    /// keeping them in `keep` up to the cap. Returns the number of bytes read.
    fn scan_on(&mut self, scan: &mut Scanner, keep: &mut Vec<u8>) -> std::io::Result<usize> {
        let mut read = 0;
        while !scan.closed() && !scan.broken {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            let mut used = chunk.len();
            for (i, &b) in chunk.iter().enumerate() {
                if b == b'\n' {
                    self.line += 1;
                    if scan.in_string {
                        scan.broken = true;
                    }
                }
                scan.feed(b);
                if scan.closed() || scan.broken {
                    used = i + 1;
                    break;
                }
            }
            let room = self.cap.saturating_sub(keep.len());
            if used > room {
                scan.too_large = true;
            }
            if !scan.too_large {
                keep.extend_from_slice(chunk.get(..used).unwrap_or_default());
            }
            read += used;
            self.input.consume(used);
        }
        Ok(read)
    }

    /// An object that starts on line `n` and does not end there: read whole (up to the cap).
    fn object(&mut self, first: Vec<u8>, n: u64, cut: bool) -> std::io::Result<()> {
        let numbered = self.numbered(false);
        let mut scan = Scanner::default();
        for &b in &first {
            scan.feed(b);
        }
        if scan.in_string && !cut {
            // A string running past the end of its line: the line is broken; what follows is
            // read on its own.
            let numbered = self.numbered(true);
            self.push(Content::Bytes(first), n, numbered, None);
            return Ok(());
        }
        let mut buf = first;
        scan.too_large = buf.len() > self.cap;
        if !cut {
            buf.push(b'\n');
        }
        let first_len = buf.len();
        let read = self.scan_on(&mut scan, &mut buf)?;
        if scan.too_large {
            let e = FindingError::too_large(first_len + read, self.cap_u64());
            self.push(Content::Error(e), n, numbered, None);
            self.mode = Mode::Start;
            return Ok(());
        }
        if scan.closed() {
            self.push(Content::Bytes(buf), n, numbered, None);
            self.replay_rest_of_line()?;
            self.mode = Mode::Start;
            return Ok(());
        }
        // Broken, or cut short by the end of the input: a stream whose first line was cut when a
        // later line stands alone; one broken document otherwise.
        let lines: Vec<(u64, Vec<u8>)> = buf
            .split(|&b| b == b'\n')
            .zip(n..)
            .map(|(l, i)| (i, l.to_vec()))
            .collect();
        let later_alone = lines
            .iter()
            .skip(1)
            .any(|(_, l)| stands_alone(l.trim_ascii()));
        let mut lines = lines.into_iter();
        match (later_alone, lines.next()) {
            (true, Some((_, head))) => {
                self.push(Content::Bytes(head), n, Numbered::Yes, None);
                for l in lines.rev() {
                    self.replay.push_front(l);
                }
                self.mode = Mode::Lines;
            }
            _ => {
                self.push(Content::Bytes(buf), n, numbered, None);
                self.mode = Mode::Start;
            }
        }
        Ok(())
    }

    /// The next element of a top-level array (or its end).
    fn element(&mut self, index: usize, first: bool) -> std::io::Result<()> {
        let numbered = if first { Numbered::No } else { Numbered::Yes };
        let mut element = Vec::new();
        let mut size = 0usize;
        let mut scan = Scanner::default();
        let mut start = None;
        let mut line = self.front_line.max(self.line);
        let end = loop {
            let Some((b, at)) = self.next_byte()? else {
                break None;
            };
            line = at;
            if scan.depth == 0 && !scan.in_string && (b == b',' || b == b']') {
                break Some(b);
            }
            if start.is_none() && !b.is_ascii_whitespace() {
                start = Some(at);
            }
            if start.is_some() {
                scan.feed(b);
                size += 1;
                if size <= self.cap {
                    element.push(b);
                }
            }
        };
        let at = start.unwrap_or(line);
        let Some(end) = end else {
            let e = FindingError::new(
                "$",
                FindingErrorKind::Syntax {
                    message: "the input ends inside the array".into(),
                },
            );
            self.push(Content::Error(e), at, numbered, Some(index));
            self.mode = Mode::Done;
            return Ok(());
        };
        let trimmed_len = element.trim_ascii_end().len();
        element.truncate(trimmed_len);
        if size > self.cap {
            let e = FindingError::too_large(size, self.cap_u64());
            self.push(Content::Error(e), at, numbered, Some(index));
        } else if start.is_some() {
            self.push(Content::Bytes(element), at, numbered, Some(index));
        } else if end == b',' || index == 0 {
            // `[,` or `[]`: nothing where an element should be.
            let e = if index == 0 && end == b']' {
                FindingError::not_guardduty("$", "the array is empty")
            } else {
                FindingError::new(
                    "$",
                    FindingErrorKind::Syntax {
                        message: "expected a value before `,`".into(),
                    },
                )
            };
            let element = (end == b',').then_some(index);
            self.push(Content::Error(e), at, numbered, element);
        }
        if end == b']' {
            self.mode = Mode::Start;
            self.replay_rest_of_line()?;
        } else {
            self.mode = Mode::Array(index + 1, first);
        }
        Ok(())
    }
}

impl<R: BufRead> Iterator for Documents<R> {
    type Item = RawDocument;

    fn next(&mut self) -> Option<RawDocument> {
        if self.queue.is_empty()
            && let Err(e) = self.fill()
        {
            let e = FindingError::from_io(&e);
            let numbered = self.numbered(false);
            self.push(Content::Error(e), self.line + 1, numbered, None);
            self.mode = Mode::Done;
        }
        let doc = self.queue.pop_front()?;
        self.emitted += 1;
        Some(doc)
    }
}
