//! Email: a MIME message with a text and an HTML part, threaded with `In-Reply-To` and
//! `References`.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::escape;
use super::message::Message;

/// A raw email, ready for SES v2 `SendEmail` (`Content.Raw`).
///
/// Headers hold only remedy's own ASCII (addresses are checked when the configuration is read,
/// the subject keeps printable ASCII only), so no value can add a header.
pub fn render(message: &Message, from: &str, to: &[String], in_reply_to: Option<&str>) -> String {
    let subject: String = message
        .summary()
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(180)
        .collect();
    let subject = match in_reply_to {
        Some(_) => format!("Re: remedy: {subject}"),
        None => format!("remedy: {subject}"),
    };
    let boundary = format!(
        "remedy-{}",
        Sha256::digest(message.finding_id.as_bytes())
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let mut mime = String::new();
    let _ = write!(
        mime,
        "From: {from}\r\nTo: {}\r\nSubject: {subject}\r\n",
        to.join(", ")
    );
    if let Some(parent) = in_reply_to.filter(|p| is_message_id(p)) {
        let _ = write!(mime, "In-Reply-To: {parent}\r\nReferences: {parent}\r\n");
    }
    let _ = write!(
        mime,
        "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n"
    );
    for (kind, body) in [("plain", text(message)), ("html", html(message))] {
        let _ = write!(
            mime,
            "--{boundary}\r\nContent-Type: text/{kind}; charset=UTF-8\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            base64_lines(body.as_bytes())
        );
    }
    let _ = write!(mime, "--{boundary}--\r\n");
    mime
}

/// `<local@domain>` of printable ASCII without spaces: what may stand in a threading header.
pub fn is_message_id(text: &str) -> bool {
    text.len() <= 512
        && text.starts_with('<')
        && text.ends_with('>')
        && text.contains('@')
        && text.bytes().all(|b| b.is_ascii_graphic())
}

fn text(message: &Message) -> String {
    message.plain_lines().join("\n")
}

fn html(message: &Message) -> String {
    let h = |t: &str| escape::html(&escape::value(t, escape::MAX_VALUE));
    let mut out = String::from("<!doctype html><html><body style=\"font-family:sans-serif\">");
    let _ = write!(
        out,
        "<h2>{}</h2><p>{}</p><table>",
        h(&message.summary()),
        h(&message.text)
    );
    let mut row = |label: &str, value: &str| {
        let _ = write!(
            out,
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            escape::html(label),
            h(value)
        );
    };
    row(
        "severity",
        &format!("{} ({})", message.severity, message.band),
    );
    row("type", &message.finding_type);
    row("account", &message.account);
    row("region", &message.region);
    for (label, value) in &message.facts {
        row(label, value);
    }
    if let Some(n) = message.count {
        row("seen", &format!("{n} times"));
    }
    out.push_str("</table><h3>What remedy did</h3><ul>");
    if message.done.is_empty() {
        out.push_str("<li>nothing but this notification</li>");
    }
    for line in message.done.iter().chain(&message.why) {
        let _ = write!(out, "<li>{}</li>", h(line));
    }
    for (approve, deny) in &message.decide {
        let _ = write!(
            out,
            "<li>approve: <code>{}</code>; deny: <code>{}</code></li>",
            h(approve),
            h(deny)
        );
    }
    let _ = write!(out, "</ul><p>finding id: {}</p>", h(&message.finding_id));
    if let Some(url) = &message.console_url {
        let _ = write!(
            out,
            "<p><a href=\"{}\">Open the finding in GuardDuty</a></p>",
            escape::html(url)
        );
    }
    out.push_str("</body></html>");
    out
}

/// Base64 in lines of 76 characters (RFC 2045).
fn base64_lines(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + bytes.len() / 57 * 2 + 4);
    for (i, chunk) in bytes.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push_str("\r\n");
        }
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (j, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if j <= chunk.len() {
                let index = usize::try_from((n >> shift) & 63).unwrap_or(0);
                out.push(char::from(TABLE.get(index).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_lines(plain.as_bytes()), encoded);
        }
        let long = base64_lines(&[0u8; 120]);
        assert!(long.split("\r\n").all(|l| l.len() <= 76));
    }
}
