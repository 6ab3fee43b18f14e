//! `[breaker]`: the circuit breaker tripped by rate limits.

use serde::{Deserialize, Serialize};

use super::{ConfigError, range};

/// `[breaker]`: the circuit breaker.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// How long destructive actions stay stopped after a rate limit is exceeded (default 3600).
    #[serde(default = "default_cooldown")]
    pub cooldown_secs: u64,
    /// The channel told when the breaker trips (default `security`).
    #[serde(default = "default_breaker_channel")]
    pub notify: String,
}

fn default_cooldown() -> u64 {
    3600
}

fn default_breaker_channel() -> String {
    "security".into()
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            cooldown_secs: default_cooldown(),
            notify: default_breaker_channel(),
        }
    }
}

impl BreakerConfig {
    /// Why the section cannot be used, if it cannot: a cooldown out of range.
    pub fn check(&self) -> Result<(), ConfigError> {
        range("breaker.cooldown_secs", self.cooldown_secs, 1, 30 * 86_400)
    }
}
