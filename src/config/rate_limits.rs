//! `[rate_limits]`: how many actions of a kind may run in a window.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ConfigError, invalid, range};
use crate::plan::ActionKind;

/// A rate limit: at most `max` actions of a kind per fixed window of `per_secs` seconds, and
/// with `per_account`, at most that many of them in any one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// The most actions in a window, every account together.
    pub max: u32,
    /// The window, in seconds.
    pub per_secs: u64,
    /// The most actions in a window in one account (the finding's): a noisy account spends its
    /// own share, not the organization's. A full account window skips the action without
    /// tripping the breaker, so the other accounts are still answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_account: Option<u32>,
}

impl RateLimit {
    /// At most `max` actions per window of `per_secs` seconds, in every account together.
    pub fn new(max: u32, per_secs: u64) -> Self {
        Self {
            max,
            per_secs,
            per_account: None,
        }
    }

    /// Also at most `max` of them in any one account.
    pub fn with_per_account(mut self, max: u32) -> Self {
        self.per_account = Some(max);
        self
    }

    /// The limit of one account's window, if there is one.
    pub fn account_window(&self) -> Option<RateLimit> {
        self.per_account
            .map(|max| RateLimit::new(max, self.per_secs))
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per {} s", self.max, self.per_secs)?;
        if let Some(per_account) = self.per_account {
            write!(f, ", {per_account} per account")?;
        }
        Ok(())
    }
}

/// Checks `[rate_limits]`: every key an action kind, every number in range.
pub(super) fn check(limits: &BTreeMap<String, RateLimit>) -> Result<(), ConfigError> {
    for (kind, limit) in limits {
        ActionKind::new(kind.as_str())
            .map_err(|e| invalid(format!("rate_limits.{kind}"), e.to_string()))?;
        range(
            &format!("rate_limits.{kind}.max"),
            u64::from(limit.max),
            0,
            1_000_000,
        )?;
        range(
            &format!("rate_limits.{kind}.per_secs"),
            limit.per_secs,
            1,
            366 * 86_400,
        )?;
        if let Some(per_account) = limit.per_account {
            range(
                &format!("rate_limits.{kind}.per_account"),
                u64::from(per_account),
                0,
                u64::from(limit.max),
            )?;
        }
    }
    Ok(())
}
