//! The pipeline's front door: policies decide, the remediator acts.

use std::sync::Arc;

use crate::finding::Finding;
use crate::plan::{ActionKind, Plan};
use crate::policy::{PolicySet, PolicyStore};
use crate::remediate::{Remediator, Report};

mod delivery;

pub use delivery::{Delivery, Disposition};

/// Where an [`Engine`]'s policies come from: a fixed set, or a store that can be reloaded while
/// the engine runs.
#[derive(Debug, Clone)]
pub enum Policies {
    /// A compiled set.
    Set(Arc<PolicySet>),
    /// A reloadable store; each finding is evaluated against its current set.
    Store(Arc<PolicyStore>),
}

impl From<PolicySet> for Policies {
    fn from(set: PolicySet) -> Self {
        Self::Set(Arc::new(set))
    }
}

impl From<Arc<PolicySet>> for Policies {
    fn from(set: Arc<PolicySet>) -> Self {
        Self::Set(set)
    }
}

impl From<PolicyStore> for Policies {
    fn from(store: PolicyStore) -> Self {
        Self::Store(Arc::new(store))
    }
}

impl From<Arc<PolicyStore>> for Policies {
    fn from(store: Arc<PolicyStore>) -> Self {
        Self::Store(store)
    }
}

/// Findings in, reports out: evaluates each finding against the policies (pure, synchronous) and
/// carries the plan out with the remediator. The CLI, and every runtime built on remedy, use this
/// one path, so a finding gets the same decision and the same guards wherever it arrives.
///
/// Cheap to clone: clones share the policies and the remediator.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use remedy::testing::InMemory;
/// use remedy::{Engine, Finding, PolicySet, Status};
///
/// let policies = PolicySet::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"))?;
/// let aws = InMemory::new();
/// let engine = Engine::new(policies, aws.remediator().build())?;
/// let finding = Finding::from_json_str(include_str!("../examples/findings/02-recon-iamuser.json"))?;
/// let report = engine.handle(&finding).await;
/// assert_eq!(report.count(Status::Skipped), 1); // a dry run: the notification is not sent
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    policies: Policies,
    remediator: Remediator,
}

impl Engine {
    /// An engine deciding with `policies` and acting through `remediator`, once every action
    /// kind the policies can choose ([`PolicySet::action_kinds`]) has an executor
    /// ([`Executor::handles`](crate::Executor::handles)). Otherwise the error lists the kinds
    /// without one; [`Unroutable::acknowledge`] builds the engine anyway, and those actions fail
    /// `unsupported`, in a dry run as in a real one.
    pub fn new(policies: impl Into<Policies>, remediator: Remediator) -> Result<Self, Unroutable> {
        let engine = Self {
            policies: policies.into(),
            remediator,
        };
        let kinds = engine.unroutable();
        if kinds.is_empty() {
            Ok(engine)
        } else {
            Err(Unroutable {
                kinds,
                engine: Box::new(engine),
            })
        }
    }

    /// The action kinds the current policies can choose that no executor carries out.
    pub fn unroutable(&self) -> Vec<ActionKind> {
        self.policy_set()
            .action_kinds()
            .filter(|kind| !self.remediator.handles(kind))
            .cloned()
            .collect()
    }

    /// The remediator.
    pub fn remediator(&self) -> &Remediator {
        &self.remediator
    }

    /// The current policy set.
    pub fn policy_set(&self) -> Arc<PolicySet> {
        match &self.policies {
            Policies::Set(set) => Arc::clone(set),
            Policies::Store(store) => store.current(),
        }
    }

    /// The plan for `finding` (pure and synchronous: nothing is carried out).
    pub fn evaluate(&self, finding: &Finding) -> Plan {
        match &self.policies {
            Policies::Set(set) => set.evaluate(finding),
            Policies::Store(store) => store.evaluate(finding),
        }
    }

    /// Decides on `finding` and carries the plan out.
    pub async fn handle(&self, finding: &Finding) -> Report {
        self.remediator.run(&self.evaluate(finding)).await
    }

    /// Carries out a plan made earlier (a queued, approved or replayed plan).
    pub async fn handle_plan(&self, plan: &Plan) -> Report {
        self.remediator.run(plan).await
    }

    /// Decides on many findings and carries the plans out, at most
    /// [`Remediator::concurrency`] at once, calling `on_report` with each finding's index and its
    /// report as it completes. One finding's failure never stops the others.
    pub async fn handle_each<I, F>(&self, findings: I, on_report: F)
    where
        I: IntoIterator<Item = Finding>,
        F: FnMut(usize, Report),
    {
        let plans = findings.into_iter().map(|f| self.evaluate(&f));
        self.remediator.run_each(plans, on_report).await;
    }

    /// Decides on many findings and returns the reports in input order.
    pub async fn handle_all<I>(&self, findings: I) -> Vec<Report>
    where
        I: IntoIterator<Item = Finding>,
    {
        let plans: Vec<Plan> = findings.into_iter().map(|f| self.evaluate(&f)).collect();
        self.remediator.run_all(plans).await
    }
}

/// Action kinds the policies can choose that the remediator's executor does not carry out
/// (returned by [`Engine::new`]).
pub struct Unroutable {
    kinds: Vec<ActionKind>,
    engine: Box<Engine>,
}

impl Unroutable {
    /// The kinds without an executor.
    pub fn kinds(&self) -> &[ActionKind] {
        &self.kinds
    }

    /// The engine, knowing that actions of [`Unroutable::kinds`] fail `unsupported`.
    pub fn acknowledge(self) -> Engine {
        *self.engine
    }
}

impl std::fmt::Debug for Unroutable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unroutable")
            .field("kinds", &self.kinds)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for Unroutable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<&str> = self.kinds.iter().map(ActionKind::as_str).collect();
        write!(
            f,
            "no executor carries out action kind(s) the policies can choose: {} (route them, or \
             acknowledge that they fail `unsupported`)",
            kinds.join(", ")
        )
    }
}

impl std::error::Error for Unroutable {}
