//! Making a finding's text inert in each format: it may not mention anyone, link anywhere or add
//! structure (a block, a card element, an HTML tag).
//!
//! Every value that comes from a finding (or from a policy's message, which may quote one) goes
//! through [`defang`] first, then through the escaping of the format it lands in.

/// The most characters of one value; longer values are cut with `…`.
pub(crate) const MAX_VALUE: usize = 500;

/// Control characters become spaces, `://` becomes `[:]//` and a dot before a letter in a word
/// without `:` becomes `[.]` (`evil[.]example[.]com`), the security convention for addresses
/// that must not be clickable. Words with `:` (finding types, ARNs) keep their dots.
pub(crate) fn defang(text: &str) -> String {
    let text = text.replace("://", "[:]//");
    let mut out = String::with_capacity(text.len() + 8);
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if word.contains(':') && !word.contains("[:]//") {
            out.push_str(word);
            continue;
        }
        let mut chars = word.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '.' && chars.peek().is_some_and(char::is_ascii_alphabetic) {
                out.push_str("[.]");
            } else {
                out.push(c);
            }
        }
    }
    out.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` defanged and cut to `max` characters.
pub(crate) fn value(text: &str, max: usize) -> String {
    let text = defang(text);
    if text.chars().count() <= max {
        return text;
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(feature = "chat")]
/// For Slack's `plain_text` objects: `<` and `>` as look-alikes (`‹`, `›`), so that nothing in a
/// value reads as Slack's `<!channel>`, `<@U…>` or `<url|label>` syntax, wherever it is shown.
pub(crate) fn slack_plain(text: &str) -> String {
    text.replace('<', "‹").replace('>', "›")
}

#[cfg(feature = "chat")]
/// For Slack's `mrkdwn` and the `text` fallback: `&`, `<` and `>` as entities (Slack's own rule:
/// no `<!channel>`, `<@U…>` or `<url|label>` can form), and the formatting characters `*`, `_`,
/// `~` and `` ` `` shown as look-alikes so a value cannot open a style that spills over.
pub(crate) fn slack(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '*' => out.push('∗'),
            '_' => out.push('＿'),
            '~' => out.push('∼'),
            '`' => out.push('ˋ'),
            c => out.push(c),
        }
    }
    out
}

/// For the Markdown subset of Adaptive Cards and Chatbot's `client-markdown`: every Markdown
/// punctuation character backslash-escaped, and `<`, `>` as look-alikes (no HTML, no `<at>`
/// mention).
pub(crate) fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '`' | '~' | '|' | '!' | '+' | '-'
            | '=' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push('‹'),
            '>' => out.push('›'),
            c => out.push(c),
        }
    }
    out
}

/// For HTML text and attribute values.
pub(crate) fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_defanged_and_types_kept() {
        assert_eq!(
            defang("see http://evil.example.com/x now"),
            "see http[:]//evil[.]example[.]com/x now"
        );
        assert_eq!(
            defang("Backdoor:EC2/C&CActivity.B!DNS 10.0.0.1 v1.2"),
            "Backdoor:EC2/C&CActivity.B!DNS 10.0.0.1 v1.2"
        );
        assert_eq!(defang("a\nb\u{7}c"), "a b c");
        assert_eq!(value(&"x".repeat(10), 5), "xxxx…");
    }

    #[test]
    fn each_format_escapes_its_own_syntax() {
        let hostile = "<!channel> <@U123> <https://x|y> *b* [l](https://x) <script>";
        let s = slack(&defang(hostile));
        assert!(
            !s.contains('<') && !s.contains('>') && !s.contains('*'),
            "{s}"
        );
        let m = markdown(&defang(hostile));
        assert!(!m.contains("](") && !m.contains('<'), "{m}");
        let h = html(hostile);
        assert!(!h.contains('<'), "{h}");
    }
}
