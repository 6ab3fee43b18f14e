//! Reading the trail back one line at a time, each line bounded.

use std::io::BufRead;

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
