//! Identifier newtypes, validated once at the boundary.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An identifier that did not have the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {what}: {expected}")]
pub struct InvalidId {
    /// What kind of identifier was expected (`access key id`, `instance id`, ...).
    pub what: &'static str,
    /// The rejected value.
    pub value: String,
    /// What the value should look like.
    pub expected: &'static str,
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $what:literal, $expected:literal, $check:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `value` and wraps it.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                let check: fn(&str) -> bool = $check;
                if check(&value) {
                    Ok(Self(value))
                } else {
                    Err(InvalidId { what: $what, value, expected: $expected })
                }
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// An IAM access key id such as `AKIAIOSFODNN7EXAMPLE` (long-term) or `ASIA…` (temporary).
    AccessKeyId,
    "access key id",
    "16 to 128 upper-case letters and digits",
    |s| (16..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
);

id_type!(
    /// An EC2 instance id such as `i-0123456789abcdef0`.
    InstanceId,
    "instance id",
    "`i-` followed by 8 or 17 lower-case hex digits",
    |s| s
        .strip_prefix("i-")
        .is_some_and(|h| matches!(h.len(), 8 | 17) && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
);

id_type!(
    /// An IAM user name (1 to 64 characters of `[A-Za-z0-9+=,.@_-]`).
    UserName,
    "user name",
    "1 to 64 characters of letters, digits and `+=,.@_-`",
    |s| (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
);

id_type!(
    /// The id of an approval request: `apr-` and 20 lower-case hex digits, derived from the
    /// action's ledger key (one request per action, however often its finding arrives).
    ApprovalId,
    "approval id",
    "`apr-` followed by 20 lower-case hex digits",
    |s| s
        .strip_prefix("apr-")
        .is_some_and(|h| h.len() == 20 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
);

impl ApprovalId {
    /// The id made of `hex`, 20 lower-case hex digits of a digest (not checked again).
    pub(crate) fn from_digest(hex: &str) -> Self {
        Self(format!("apr-{hex}"))
    }
}

id_type!(
    /// An IAM role name (1 to 64 characters of `[A-Za-z0-9+=,.@_-]`).
    RoleName,
    "role name",
    "1 to 64 characters of letters, digits and `+=,.@_-`",
    |s| (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
);

impl AccessKeyId {
    /// Whether this is a temporary (STS) credential: ids starting with `ASIA`.
    pub fn is_temporary(&self) -> bool {
        self.0.starts_with("ASIA")
    }
}

/// The first 16 hex digits of the SHA-256 of `text`: a short, stable name for a text that cannot
/// be used as a name itself (a notification's message, an odd finding id).
pub(crate) fn digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SHA-256 of `text` in the shape of a UUID (its first 16 bytes as `8-4-4-4-12` hex digits,
/// version 4 and variant bits set so that services checking the form accept it).
pub(crate) fn uuid_digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(text.as_bytes());
    let mut bytes = [0u8; 16];
    for (b, h) in bytes.iter_mut().zip(hash.iter()) {
        *b = *h;
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let part = |from: usize, to: usize| hex.get(from..to).unwrap_or_default();
    format!(
        "{}-{}-{}-{}-{}",
        part(0, 8),
        part(8, 12),
        part(12, 16),
        part(16, 20),
        part(20, 32)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_digests_are_stable_and_uuid_shaped() {
        let a = uuid_digest("key");
        assert_eq!(a, uuid_digest("key"));
        assert_ne!(a, uuid_digest("key2"));
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_eq!(a.as_bytes()[14], b'4', "{a}");
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{a}");
    }

    #[test]
    fn access_key_ids() {
        assert!(AccessKeyId::new("AKIAIOSFODNN7EXAMPLE").is_ok());
        assert!(
            AccessKeyId::new("ASIAIOSFODNN7EXAMPLE")
                .unwrap()
                .is_temporary()
        );
        assert!(AccessKeyId::new("GeneratedFindingAccessKeyId").is_err());
        assert!(AccessKeyId::new("AKIA").is_err());
    }

    #[test]
    fn instance_ids() {
        assert!(InstanceId::new("i-99999999").is_ok());
        assert!(InstanceId::new("i-0123456789abcdef0").is_ok());
        assert!(InstanceId::new("i-XYZ").is_err());
        assert!(InstanceId::new("0123456789").is_err());
    }

    #[test]
    fn user_names() {
        assert!(UserName::new("GuardDuty-Example-Compromised-Simulated").is_ok());
        assert!(UserName::new("").is_err());
        assert!(UserName::new("a b").is_err());
    }

    #[test]
    fn role_names() {
        assert!(RoleName::new("web-server-role").is_ok());
        assert!(RoleName::new("a+=,.@_-Z9").is_ok());
        assert!(RoleName::new("x".repeat(64)).is_ok());
        assert!(RoleName::new("x".repeat(65)).is_err());
        assert!(RoleName::new("").is_err());
        assert!(RoleName::new("role/with/path").is_err());
        assert_eq!(
            RoleName::new("a b").unwrap_err().to_string(),
            "`a b` is not a valid role name: 1 to 64 characters of letters, digits and `+=,.@_-`"
        );
    }
}
