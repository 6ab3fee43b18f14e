//! Helper functions for policy authors: glob matching, IP-in-CIDR and list membership.

use std::net::IpAddr;

use super::script_finding::{MAX_JSON_NODES, from_json_bounded};
use crate::glob::{MAX_PATTERN, MAX_TEXT, glob_match};

use rhai::{Dynamic, Engine, EvalAltResult, NativeCallContext};

use super::sandbox::ScriptError;
use crate::plan::FailureKind;

/// Registers `glob_match`, `ip_in_cidr`, `in_list` and `parse_json`.
pub(crate) fn register(engine: &mut Engine) {
    engine.register_fn(
        "glob_match",
        |ctx: NativeCallContext, pattern: &str, text: &str| -> Result<bool, Box<EvalAltResult>> {
            if pattern.chars().count() > MAX_PATTERN || text.len() > MAX_TEXT {
                return Err(ScriptError::raise(
                    FailureKind::Limit,
                    format!(
                        "glob_match: patterns are at most {MAX_PATTERN} characters and texts at \
                         most {MAX_TEXT} bytes"
                    ),
                    ctx.call_position(),
                ));
            }
            Ok(glob_match(pattern, text))
        },
    );
    engine.register_fn(
        "parse_json",
        |ctx: NativeCallContext, text: &str| -> Result<Dynamic, Box<EvalAltResult>> {
            let fail = |message: String| {
                ScriptError::raise(FailureKind::Runtime, message, ctx.call_position())
            };
            if text.len() > MAX_TEXT {
                return Err(fail(format!(
                    "parse_json: the text is longer than {MAX_TEXT} bytes"
                )));
            }
            let value: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| fail(format!("parse_json: not JSON: {e}")))?;
            let mut budget = MAX_JSON_NODES;
            from_json_bounded(&value, &mut budget).ok_or_else(|| {
                fail(format!(
                    "parse_json: the document has more than {MAX_JSON_NODES} values"
                ))
            })
        },
    );
    engine.register_fn("glob_match", |_: &str, _: ()| false);
    engine.register_fn(
        "ip_in_cidr",
        |ctx: NativeCallContext, ip: Dynamic, cidr: &str| -> Result<bool, Box<EvalAltResult>> {
            let cidr: ipnet::IpNet = cidr.trim().parse().map_err(|_| {
                ScriptError::raise(
                    FailureKind::Runtime,
                    format!("ip_in_cidr: `{cidr}` is not a CIDR block such as `10.0.0.0/8`"),
                    ctx.call_position(),
                )
            })?;
            if ip.is_unit() {
                return Ok(false);
            }
            let text = ip.into_immutable_string().map_err(|t| {
                ScriptError::raise(
                    FailureKind::Runtime,
                    format!("ip_in_cidr: the address must be a string, got {t}"),
                    ctx.call_position(),
                )
            })?;
            Ok(text
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|ip| cidr.contains(&ip)))
        },
    );
    engine.register_fn("in_list", |list: rhai::Array, value: Dynamic| {
        in_list(&list, &value)
    });
    engine.register_fn("in_list", |_: (), _: Dynamic| false);
}

/// Whether `value` equals an element of `list` (strings, numbers, booleans compared by value).
fn in_list(list: &[Dynamic], value: &Dynamic) -> bool {
    if value.is_unit() {
        return false;
    }
    list.iter().any(|item| {
        if let (Some(a), Some(b)) = (
            item.read_lock::<rhai::ImmutableString>(),
            value.read_lock::<rhai::ImmutableString>(),
        ) {
            return *a == *b;
        }
        if let (Ok(a), Ok(b)) = (item.as_int(), value.as_int()) {
            return a == b;
        }
        if let (Some(a), Some(b)) = (number(item), number(value)) {
            return a == b;
        }
        matches!((item.as_bool(), value.as_bool()), (Ok(a), Ok(b)) if a == b)
    })
}

fn number(value: &Dynamic) -> Option<f64> {
    value
        .as_float()
        .ok()
        .or_else(|| value.as_int().ok().map(|i| i as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(
            "UnauthorizedAccess:IAMUser/*",
            "UnauthorizedAccess:IAMUser/MaliciousIPCaller"
        ));
        assert!(glob_match("*", ""));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("*B*", "aBc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(!glob_match("Recon:*", "UnauthorizedAccess:IAMUser/X"));
        assert!(glob_match(
            "*.Custom",
            "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom"
        ));
        assert!(glob_match("é?*", "éàbc"));
        assert!(!glob_match("é?", "é"));
        assert!(glob_match("*ü", "Grüß dich ü"));
        assert!(glob_match("abc", "abc"));
        assert!(!glob_match("abc", "abcd"));
        assert!(!glob_match("ab*", "a"));
        assert!(glob_match("ab*", "ab"));
        assert!(glob_match("a*c?e", "abbcde"));
        assert!(!glob_match("a*c?e", "abbce"));
        assert!(glob_match("", ""));
        assert!(!glob_match("", "a"));
    }

    #[test]
    fn list_membership() {
        let list = vec![
            Dynamic::from("a"),
            Dynamic::from(2_i64),
            Dynamic::from(true),
        ];
        assert!(in_list(&list, &Dynamic::from("a")));
        assert!(in_list(&list, &Dynamic::from(2_i64)));
        assert!(in_list(&list, &Dynamic::from(2.0_f64)));
        assert!(!in_list(&list, &Dynamic::from("b")));
        assert!(!in_list(&list, &Dynamic::UNIT));
    }
}
