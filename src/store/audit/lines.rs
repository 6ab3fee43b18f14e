//! Reading the trail back one line at a time, each line bounded.

use std::io::{BufRead, Read, Seek, SeekFrom};

/// The longest record read back (a decision record holds one plan).
pub(super) const MAX_LINE: usize = 16 * 1024 * 1024;

pub(super) enum Line {
    Read,
    TooLong,
    End,
}

/// Reads one line into `out` (without its newline), at most [`MAX_LINE`] bytes; a longer line is
/// skipped to its end.
pub(super) fn read_line(reader: &mut impl BufRead, out: &mut Vec<u8>) -> std::io::Result<Line> {
    let mut any = false;
    let mut too_long = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(if !any {
                Line::End
            } else if too_long {
                Line::TooLong
            } else {
                Line::Read
            });
        }
        any = true;
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (available.get(..at).unwrap_or_default(), Some(at + 1)),
            None => (available, None),
        };
        if !too_long && out.len() + chunk.len() <= MAX_LINE {
            out.extend_from_slice(chunk);
        } else {
            too_long = true;
            out.clear();
        }
        let used = done.unwrap_or(available.len());
        reader.consume(used);
        if done.is_some() {
            return Ok(if too_long { Line::TooLong } else { Line::Read });
        }
    }
}

/// The line of `file` that ends at byte `end` (exclusive, its newline not included): read back
/// from `end` to the newline before it, at most [`MAX_LINE`] bytes.
pub(super) fn line_ending_at(file: &mut std::fs::File, end: u64) -> std::io::Result<Vec<u8>> {
    const CHUNK: u64 = 64 * 1024;
    let mut start = end;
    let mut line: Vec<u8> = Vec::new();
    while start > 0 {
        let from = start.saturating_sub(CHUNK);
        let mut chunk = vec![0; usize::try_from(start - from).unwrap_or(0)];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut chunk)?;
        if let Some(at) = chunk.iter().rposition(|&b| b == b'\n') {
            line.splice(
                0..0,
                chunk.get(at + 1..).unwrap_or_default().iter().copied(),
            );
            return Ok(line);
        }
        line.splice(0..0, chunk);
        if line.len() > MAX_LINE {
            return Err(std::io::Error::other("the line is too long to read back"));
        }
        start = from;
    }
    Ok(line)
}
