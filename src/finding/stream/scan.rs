//! The byte scanning the splitter runs on: where a JSON value ends, and what a line is.

/// Whether a line is a JSON object or array on its own.
pub(super) fn stands_alone(line: &[u8]) -> bool {
    matches!(line.first(), Some(b'{' | b'['))
        && serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

/// UTF-16 or binary: no line of it is worth reading on its own.
pub(super) fn is_binary(line: &[u8]) -> bool {
    line.starts_with(b"\xFF\xFE") || line.starts_with(b"\xFE\xFF") || line.contains(&0)
}

/// Where a JSON value ends: nesting depth outside strings.
#[derive(Debug, Default)]
pub(super) struct Scanner {
    pub(super) depth: u32,
    pub(super) started: bool,
    pub(super) in_string: bool,
    escape: bool,
    /// A string ran past the end of a line (JSON strings cannot hold a raw newline).
    pub(super) broken: bool,
    pub(super) too_large: bool,
}

impl Scanner {
    pub(super) fn feed(&mut self, b: u8) {
        if self.in_string {
            if self.escape {
                self.escape = false;
            } else if b == b'\\' {
                self.escape = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            return;
        }
        match b {
            b'"' => self.in_string = true,
            b'{' | b'[' => {
                self.depth += 1;
                self.started = true;
            }
            b'}' | b']' => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
    }

    pub(super) fn closed(&self) -> bool {
        self.started && self.depth == 0
    }
}
