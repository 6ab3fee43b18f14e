//! The one glob dialect of remedy, used for finding types, `glob_match` in policies and the
//! protection rules: `*` matches any run of characters (`/` included), `?` exactly one; everything
//! else matches itself, case-sensitively. Every string is a valid pattern.

/// Glob match on the whole text: `*` matches any run of characters, `?` exactly one.
///
/// Finding types are ASCII, so that case matches on bytes without allocating; other text is matched
/// character by character.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    if pattern.is_ascii() && text.is_ascii() {
        glob_match_units(pattern.as_bytes(), text.as_bytes(), b'*', b'?')
    } else {
        let pattern: Vec<char> = pattern.chars().collect();
        let text: Vec<char> = text.chars().collect();
        glob_match_units(&pattern, &text, '*', '?')
    }
}

fn glob_match_units<T: Copy + PartialEq>(pattern: &[T], text: &[T], any: T, one: T) -> bool {
    // The literal prefix compares at once; a glob such as `Recon:EC2/*` is then decided.
    let literal = pattern
        .iter()
        .position(|&c| c == any || c == one)
        .unwrap_or(pattern.len());
    let (Some(prefix), Some(rest)) = (pattern.get(..literal), pattern.get(literal..)) else {
        return false;
    };
    if text.get(..literal) != Some(prefix) {
        return false;
    }
    if rest.is_empty() {
        return text.len() == literal;
    }
    if rest.len() == 1 && rest.first() == Some(&any) {
        return true;
    }
    let (mut p, mut t) = (literal, literal);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(&c) if c == any => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == one || Some(&c) == text.get(t) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == any))
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
    }

    #[test]
    fn non_ascii_text_matches_by_character() {
        assert!(glob_match("gr??e", "grüße"));
        assert!(glob_match("*ß*", "grüße"));
        assert!(!glob_match("gr?e", "grüße"));
    }

    #[test]
    fn prefixes() {
        assert_eq!(literal_prefix("Recon:IAMUser/*"), "Recon:IAMUser/");
        assert_eq!(literal_prefix("a?b"), "a");
        assert_eq!(literal_prefix("exact"), "exact");
        assert_eq!(literal_prefix("*"), "");
    }
}
