//! [`RemediatorBuilder`]: everything but the executor has a safe default.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::approval::ApprovalRules;
use super::guard::EnforcementRules;
use super::limit::KillSwitch;
use super::protect::Protection;
use super::shutdown::Shutdown;
use super::{DEFAULT_CONCURRENCY, Inner, Remediator};
use crate::action::Executor;
use crate::clock::Clock;
use crate::config::{
    AccountsConfig, ApprovalConfig, BreakerConfig, Config, ConfigError, RateLimit,
};
use crate::plan::ActionKind;
use crate::store::approval::{ApprovalStore, FileApprovals, MemoryApprovals};
use crate::store::audit::{AuditKey, AuditSink, JsonLinesAudit, TracingAudit, UnavailableAudit};
use crate::store::ledger::{DEFAULT_LEASE, FileLedger, Ledger, MemoryLedger, Owner};
use crate::store::state::{MemoryState, StateStore};

/// Builds a [`Remediator`]; everything but the executor has a safe default (dry run, in-memory
/// ledger and state, audit to `tracing`, no protection, no rate limits).
#[derive(Debug)]
pub struct RemediatorBuilder {
    executor: Arc<dyn Executor>,
    ledger: Arc<dyn Ledger>,
    audit: Arc<dyn AuditSink>,
    protection: Protection,
    accounts: AccountsConfig,
    limits: BTreeMap<ActionKind, RateLimit>,
    cooldown: Duration,
    state: Arc<dyn StateStore>,
    breaker_channel: String,
    kill_switch: KillSwitch,
    enforcement: EnforcementRules,
    concurrency: usize,
    owner: Owner,
    lease: Duration,
    shutdown: Shutdown,
    approval: ApprovalRules,
    approvals: Arc<dyn ApprovalStore>,
    /// Whether the approval store outlives the process (a file or table store was given).
    approvals_kept: bool,
    audit_key: Option<AuditKey>,
    audit_file: Option<JsonLinesAudit>,
    clock: Clock,
    writeback: BTreeSet<ActionKind>,
}

impl RemediatorBuilder {
    /// A builder around `executor` (see [`Remediator::builder`]).
    pub fn new(executor: Arc<dyn Executor>) -> Self {
        let breaker = BreakerConfig::default();
        Self {
            executor,
            ledger: Arc::new(MemoryLedger::new()),
            audit: Arc::new(TracingAudit),
            protection: Protection::default(),
            accounts: AccountsConfig::default(),
            limits: BTreeMap::new(),
            cooldown: Duration::from_secs(breaker.cooldown_secs),
            state: Arc::new(MemoryState::new()),
            breaker_channel: breaker.notify,
            kill_switch: KillSwitch::new(),
            enforcement: EnforcementRules::default(),
            concurrency: DEFAULT_CONCURRENCY,
            owner: Owner::current().clone(),
            lease: DEFAULT_LEASE,
            shutdown: Shutdown::new(),
            approval: ApprovalRules::default(),
            approvals: Arc::new(MemoryApprovals::new()),
            approvals_kept: false,
            audit_key: None,
            audit_file: None,
            clock: Clock::default(),
            writeback: BTreeSet::new(),
        }
    }

    /// Seals approval requests and decisions with `key` (the audit trail's key), and refuses
    /// those whose seal does not verify.
    pub fn with_audit_key(mut self, key: AuditKey) -> Self {
        self.audit_key = Some(key);
        self
    }

    /// Applies a configuration: protection, rate limits, breaker, ledger and audit files,
    /// enforcement, concurrency and the write-back kinds that are on. Opens the ledger directory
    /// and the audit file.
    pub fn with_config(mut self, config: &Config) -> Result<Self, ConfigError> {
        self.protection = Protection::new(&config.protect)?;
        self.writeback = config.writeback.kinds.iter().cloned().collect();
        self.accounts = config.accounts.clone();
        self.limits = config.rate_limits_by_kind();
        self.cooldown = Duration::from_secs(config.breaker.cooldown_secs);
        self.breaker_channel = config.breaker.notify.clone();
        if let Some(path) = &config.ledger.path {
            let ledger = FileLedger::open(path).map_err(|e| ConfigError::Open {
                what: "ledger",
                message: e.to_string(),
            })?;
            self.ledger = Arc::new(ledger);
        }
        self.lease = Duration::from_secs(config.ledger.lease_secs);
        if let Some(path) = &config.audit.path {
            // An audit file that cannot be opened fails every record: destructive actions fail
            // closed, notifications still go out and say so.
            // A key given already (read from Secrets Manager by the assembly) wins.
            let key = match (&self.audit_key, config.audit.key_source()?) {
                (Some(key), _) => Some(key.clone()),
                (None, Some(source)) => {
                    Some(AuditKey::from_source(&source).map_err(|message| {
                        ConfigError::Invalid {
                            field: "audit.key_env".to_owned(),
                            message,
                        }
                    })?)
                }
                (None, None) => None,
            };
            if let Some(key) = &key {
                self.audit_key = Some(key.clone());
            }
            self.audit = match JsonLinesAudit::open(path) {
                Ok(audit) => {
                    let audit = match key {
                        Some(key) => audit.with_key(key),
                        None => audit,
                    };
                    self.audit_file = Some(audit.clone());
                    Arc::new(audit)
                }
                Err(e) => {
                    tracing::error!("{e}");
                    Arc::new(UnavailableAudit::new(e))
                }
            };
        }
        self.enforcement = EnforcementRules {
            enforce: config.enforcement.enforce,
            shadow: config.enforcement.shadow.iter().cloned().collect(),
            only: config
                .enforcement
                .only
                .as_ref()
                .map(|o| o.iter().cloned().collect()),
        };
        if let Some(file) = &config.enforcement.kill_switch_file {
            self.kill_switch = self.kill_switch.with_file(file);
        }
        if let Some(n) = config.concurrency {
            self.concurrency = n.max(1);
        }
        self.approval = ApprovalRules {
            config: config.approval.clone(),
        };
        // The file store whenever the configuration knows where it is. With a table, the CLI
        // puts the store there instead.
        if let Some(dir) = config.approval_dir()
            && config.state.dynamodb_table.is_none()
        {
            let store = FileApprovals::open(dir).map_err(|e| ConfigError::Open {
                what: "approval store",
                message: e.to_string(),
            })?;
            self.approvals = Arc::new(store);
            self.approvals_kept = true;
        }
        Ok(self)
    }

    /// Sets which actions wait for a person (`[approval]`; default: none).
    pub fn with_approval(mut self, config: ApprovalConfig) -> Self {
        self.approval = ApprovalRules { config };
        self
    }

    /// Sets where approval requests are kept (default: in memory; with a configuration,
    /// `[approval] path`). Give every worker, and `remedy approve`, the same store.
    pub fn with_approval_store(mut self, store: Arc<dyn ApprovalStore>) -> Self {
        self.approvals = store;
        self.approvals_kept = true;
        self
    }

    /// Turns on the write-back kinds `kinds` (`update_finding`, `archive_finding`,
    /// `suppress_similar`; default: none, as `[writeback] kinds`). A write-back action of a kind
    /// that is off is skipped (`not_enabled`), its record naming the configuration line to add.
    pub fn with_writeback_kinds<I>(mut self, kinds: I) -> Self
    where
        I: IntoIterator<Item = ActionKind>,
    {
        self.writeback = kinds.into_iter().collect();
        self
    }

    /// Sets the idempotency ledger (default: in memory).
    pub fn with_ledger(mut self, ledger: Arc<dyn Ledger>) -> Self {
        self.ledger = ledger;
        self
    }

    /// Sets the shared state: rate windows, the circuit breaker and the shared kill switch
    /// (default: [`MemoryState`], this process only). Give several workers one store and they
    /// share one rate budget, one breaker and one kill switch. A dry run counts its actions
    /// against the windows too: give dry runs a store of their own.
    pub fn with_state(mut self, state: Arc<dyn StateStore>) -> Self {
        // The audit file of the configuration records its chain's head there too.
        if let Some(trail) = &self.audit_file {
            trail.record_heads_in(Arc::clone(&state));
        }
        self.state = state;
        self
    }

    /// Sets the audit sink (default: [`TracingAudit`]).
    pub fn with_audit(mut self, audit: Arc<dyn AuditSink>) -> Self {
        self.audit = audit;
        self.audit_file = None;
        self
    }

    /// Sets the accounts destructive actions may run in (the `account` guard; see
    /// [`AccountsConfig`]).
    pub fn with_accounts(mut self, accounts: AccountsConfig) -> Self {
        self.accounts = accounts;
        self
    }

    /// Sets the protection rules.
    pub fn with_protection(mut self, protection: Protection) -> Self {
        self.protection = protection;
        self
    }

    /// Limits actions of `kind`.
    pub fn with_rate_limit(mut self, kind: ActionKind, limit: RateLimit) -> Self {
        self.limits.insert(kind, limit);
        self
    }

    /// Sets how long the breaker stays open and which channel it tells.
    pub fn with_breaker(mut self, cooldown: Duration, channel: impl Into<String>) -> Self {
        self.cooldown = cooldown;
        self.breaker_channel = channel.into();
        self
    }

    /// Sets the kill switch (keep a clone to engage it).
    pub fn with_kill_switch(mut self, kill_switch: KillSwitch) -> Self {
        self.kill_switch = kill_switch;
        self
    }

    /// Executes enforced policies' actions (default false: dry run).
    pub fn enforce(mut self, enforce: bool) -> Self {
        self.enforcement.enforce = enforce;
        self
    }

    /// Keeps `policy` in shadow mode.
    pub fn with_shadow_policy(mut self, policy: impl Into<String>) -> Self {
        self.enforcement.shadow.insert(policy.into());
        self
    }

    /// Enforces only these policies; every other policy is in shadow mode.
    pub fn with_only_policies<I, S>(mut self, policies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let only: BTreeSet<String> = policies.into_iter().map(Into::into).collect();
        self.enforcement.only = Some(only);
        self
    }

    /// Sets the run that holds the claims (default: this process's run, [`Owner::current`]).
    pub fn with_owner(mut self, owner: Owner) -> Self {
        self.owner = owner;
        self
    }

    /// Sets how long a claim holds before another run may take it over (default 900 s).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets the shutdown handle (keep a clone to stop the run).
    pub fn with_shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Sets how many plans are carried out at once (at least 1).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Counts rate windows, the breaker and approval expiry by `clock` (default: the system's);
    /// a replay gives a virtual one.
    pub(crate) fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the remediator.
    pub fn build(self) -> Remediator {
        Remediator {
            inner: Arc::new(Inner {
                executor: self.executor,
                ledger: self.ledger,
                audit: self.audit,
                protection: self.protection,
                accounts: self.accounts,
                limits: self.limits,
                cooldown: self.cooldown,
                state: self.state,
                breaker_channel: self.breaker_channel,
                kill_switch: self.kill_switch,
                enforcement: self.enforcement,
                concurrency: self.concurrency,
                owner: self.owner,
                lease: self.lease,
                shutdown: self.shutdown,
                approval: self.approval,
                approvals: self.approvals,
                approvals_kept: self.approvals_kept,
                audit_key: self.audit_key,
                locks: super::lock::LocalLocks::default(),
                clock: self.clock,
                writeback: self.writeback,
            }),
        }
    }
}
