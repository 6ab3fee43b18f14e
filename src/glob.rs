//! The one glob dialect of remedy, used for finding types, `glob_match` in policies and the
//! protection rules: `*` matches any run of characters (`/` included), `?` exactly one; everything
//! else matches itself, case-sensitively. Every string is a valid pattern.
//!
//! Matching never backtracks: the pattern is cut at its `*`s into segments, the first must start
//! the text, the last must end it, and each one between is found at its leftmost place after the
//! one before (which is always right for `*`). A match costs at most the text's length times the
//! pattern's; callers bound both ([`MAX_PATTERN`], [`MAX_TEXT`] for policies).

/// The longest pattern policies may match with (characters).
pub(crate) const MAX_PATTERN: usize = 256;
/// The longest text policies may match against (bytes).
pub(crate) const MAX_TEXT: usize = 64 * 1024;

/// Glob match on the whole text: `*` matches any run of characters, `?` exactly one.
///
/// ASCII is matched on bytes without allocating; other text character by character.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        matches(pattern.as_bytes(), text.as_bytes(), b'*', b'?')
    } else {
        let pattern: Vec<char> = pattern.chars().collect();
        let text: Vec<char> = text.chars().collect();
        matches(&pattern, &text, '*', '?')
    }
}

/// Whether `segment` (no `*`, `?` any one unit) matches `text` exactly.
fn segment_eq<T: Copy + PartialEq>(segment: &[T], text: &[T], one: T) -> bool {
    segment.len() == text.len() && segment.iter().zip(text).all(|(&p, &t)| p == one || p == t)
}

/// The leftmost position of `segment` in `text`. A segment without `?` of ASCII text is found
/// with the standard library's linear substring search; one with `?` by trying each position.
fn find<T: Copy + PartialEq + AsciiUnit>(segment: &[T], text: &[T], one: T) -> Option<usize> {
    if segment.is_empty() {
        return Some(0);
    }
    if !segment.contains(&one)
        && let (Some(needle), Some(haystack)) = (T::as_str(segment), T::as_str(text))
    {
        return haystack.find(needle);
    }
    let last = text.len().checked_sub(segment.len())?;
    (0..=last).find(|&at| {
        text.get(at..at + segment.len())
            .is_some_and(|window| segment_eq(segment, window, one))
    })
}

/// Units that may be viewed as a `str` (ASCII bytes) for a fast substring search.
trait AsciiUnit: Sized {
    fn as_str(units: &[Self]) -> Option<&str>;
}

impl AsciiUnit for u8 {
    fn as_str(units: &[u8]) -> Option<&str> {
        std::str::from_utf8(units).ok()
    }
}

impl AsciiUnit for char {
    fn as_str(_: &[char]) -> Option<&str> {
        None
    }
}

fn matches<T: Copy + PartialEq + AsciiUnit>(pattern: &[T], text: &[T], any: T, one: T) -> bool {
    // The segments before the first `*` and after the last, and the `*`-separated ones between
    // (found without collecting them: the prefilter matches a glob per candidate policy).
    let (Some(first_star), Some(last_star)) = (
        pattern.iter().position(|&c| c == any),
        pattern.iter().rposition(|&c| c == any),
    ) else {
        // No `*`: the pattern is one segment that must be the whole text.
        return segment_eq(pattern, text, one);
    };
    let (Some(first), Some(last)) = (pattern.get(..first_star), pattern.get(last_star + 1..))
    else {
        return false;
    };
    if first.len() + last.len() > text.len() {
        return false;
    }
    let (Some(head), Some(tail)) = (text.get(..first.len()), text.get(text.len() - last.len()..))
    else {
        return false;
    };
    if !segment_eq(first, head, one) || !segment_eq(last, tail, one) {
        return false;
    }
    let mut window = text
        .get(first.len()..text.len() - last.len())
        .unwrap_or(&[]);
    let middle = pattern.get(first_star + 1..last_star).unwrap_or(&[]);
    for segment in middle.split(|&c| c == any) {
        match find(segment, window, one) {
            Some(at) => window = window.get(at + segment.len()..).unwrap_or(&[]),
            None => return false,
        }
    }
    true
}

/// The text of a glob before its first wildcard (the whole pattern if it has none).
pub(crate) fn literal_prefix(glob: &str) -> &str {
    glob.find(['*', '?'])
        .and_then(|i| glob.get(..i))
        .unwrap_or(glob)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "Recon:IAMUser/X"));
        assert!(glob_match(
            "UnauthorizedAccess:IAMUser/*",
            "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom"
        ));
        assert!(!glob_match(
            "UnauthorizedAccess:IAMUser/*",
            "UnauthorizedAccess:EC2/SSHBruteForce"
        ));
        assert!(glob_match(
            "Backdoor:EC2/C&CActivity.B*",
            "Backdoor:EC2/C&CActivity.B!DNS"
        ));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(!glob_match("a*b*c", "aXbY"));
        assert!(glob_match("a*b*c", "aXbYc"));
        assert!(glob_match("break-glass-*", "break-glass-admin"));
        assert!(!glob_match("exact", "exactly"));
        assert!(glob_match("a[", "a["), "brackets are plain characters");
        assert!(glob_match(
            "*.Custom",
            "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"
        ));
        assert!(glob_match("a*c?e", "abbcde"));
        assert!(!glob_match("a*c?e", "abbce"));
        assert!(glob_match("", ""));
        assert!(!glob_match("", "a"));
        assert!(!glob_match("ab*", "a"));
        assert!(glob_match("ab*", "ab"));
        assert!(glob_match("*a*a*", "aa"));
        assert!(!glob_match("*a*a*", "a"));
        assert!(glob_match("?*?", "ab"));
        assert!(
            !glob_match("a*a", "a"),
            "first and last segments do not overlap"
        );
    }

    #[test]
    fn non_ascii_text_matches_by_character() {
        assert!(glob_match("gr??e", "grüße"));
        assert!(glob_match("*ß*", "grüße"));
        assert!(!glob_match("gr?e", "grüße"));
        assert!(glob_match("é?*", "éàbc"));
        assert!(!glob_match("é?", "é"));
    }

    #[test]
    fn the_worst_case_stays_small() {
        // Exponential for a backtracking matcher; here at most text × pattern steps.
        let text = "a".repeat(MAX_TEXT);
        let pattern = format!("*{}b*", "a".repeat(MAX_PATTERN - 3));
        let started = std::time::Instant::now();
        assert!(!glob_match(&pattern, &text));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn prefixes() {
        assert_eq!(literal_prefix("Recon:IAMUser/*"), "Recon:IAMUser/");
        assert_eq!(literal_prefix("a?b"), "a");
        assert_eq!(literal_prefix("exact"), "exact");
        assert_eq!(literal_prefix("*"), "");
    }
}
