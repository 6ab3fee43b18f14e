//! [`Owner`]: the run of remedy that holds a claim.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// One run of remedy: a random run id, the host, the process id and when the process started.
///
/// The process's start is what tells a live owner from a dead one whose process id was reused:
/// a claim whose owner ran on this host in a process that is gone is expired at once, so a rerun
/// after `kill -9` finishes the work without waiting for the lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// A random id, unique per run.
    pub run: String,
    /// The host name.
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// When the process started, in the kernel's clock ticks since boot (Linux), if known.
    #[serde(default)]
    pub process_start: Option<u64>,
}

impl Owner {
    /// This process's run (made once per process).
    pub fn current() -> &'static Owner {
        static CURRENT: OnceLock<Owner> = OnceLock::new();
        CURRENT.get_or_init(|| Owner::with_run(random_id()))
    }

    /// An owner of this process with another run id (tests: several runs in one process).
    pub fn with_run(run: impl Into<String>) -> Self {
        let pid = std::process::id();
        Self {
            run: run.into(),
            host: host_name(),
            pid,
            process_start: process_start(pid),
        }
    }

    /// Whether the owner's process is known to be gone: it ran on this host, and no process with
    /// its id and start time runs now. Owners on other hosts are never known to be gone (their
    /// claims expire with their lease).
    pub fn is_gone(&self) -> bool {
        if self.host != host_name() {
            return false;
        }
        if self.pid == std::process::id() {
            // This process: gone only if the record is of another incarnation with our pid.
            return self.process_start.is_some() && self.process_start != process_start(self.pid);
        }
        match (self.process_start, process_start(self.pid)) {
            (Some(then), Some(now)) => then != now,
            (Some(_), None) => std::path::Path::new("/proc/self").exists(),
            (None, _) => false,
        }
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "run {} (pid {} on {})", self.run, self.pid, self.host)
    }
}

/// The host name, as the kernel knows it.
fn host_name() -> String {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    })
    .clone()
}

/// When process `pid` started (field 22 of `/proc/PID/stat`); `None` without `/proc` or when
/// the process does not exist.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: count after it.
    let after = stat.get(stat.rfind(')')? + 1..)?;
    after.split_whitespace().nth(19)?.parse().ok()
}

/// 16 hex digits that differ between runs: the time, the process and a stack address, hashed.
fn random_id() -> String {
    use sha2::{Digest, Sha256};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let marker = 0u8;
    let seed = format!("{nanos}/{}/{:p}", std::process::id(), &marker);
    Sha256::digest(seed.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_one_is_gone() {
        let me = Owner::current();
        assert!(!me.is_gone());
        assert_eq!(me.run.len(), 16);
        assert_eq!(Owner::current().run, me.run);
        assert_ne!(Owner::with_run("x").run, me.run);
        if me.process_start.is_some() {
            let dead = Owner {
                pid: u32::MAX - 1,
                ..me.clone()
            };
            assert!(dead.is_gone());
            let reused = Owner {
                process_start: me.process_start.map(|s| s + 1),
                ..me.clone()
            };
            assert!(reused.is_gone());
        }
        let elsewhere = Owner {
            host: "another-host".into(),
            pid: u32::MAX - 1,
            ..me.clone()
        };
        assert!(!elsewhere.is_gone());
    }
}
