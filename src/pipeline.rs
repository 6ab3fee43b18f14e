//! The pipeline's front door: enrichers answer, policies decide, the remediator acts; and
//! [`Assembly`], which builds a [`Pipeline`] from a configuration.

use std::sync::Arc;

use tokio::task::JoinSet;

use crate::enrich::Enrichers;
use crate::finding::Finding;
use crate::plan::{ActionKind, Plan};
use crate::policy::{PolicySet, PolicyStore};
use crate::remediate::{Remediator, Report};

mod assemble;
mod channels;
mod delivery;

pub use assemble::{Assembly, AssemblyError};
pub use delivery::{Delivery, Disposition};

/// Where an [`Pipeline`]'s policies come from: a fixed set, or a store that can be reloaded while
/// the pipeline runs.
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

/// Findings in, reports out: enriches each finding (when enrichers are set, see
/// [`Pipeline::with_enrichers`]), evaluates it against the policies (pure, synchronous) and carries
/// the plan out with the remediator. The CLI, and every runtime built on remedy, use this
/// one path, so a finding gets the same decision and the same guards wherever it arrives.
///
/// Cheap to clone: clones share the policies and the remediator.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use remedy::testing::InMemory;
/// use remedy::{Pipeline, Finding, PolicySet, Status};
///
/// let policies = PolicySet::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"))?;
/// let aws = InMemory::new();
/// let pipeline = Pipeline::new(policies, aws.remediator().build())?;
/// let finding = Finding::from_json_str(include_str!("../examples/findings/02-recon-iamuser.json"))?;
/// let report = pipeline.handle(&finding).await;
/// assert_eq!(report.count(Status::Skipped), 1); // a dry run: the notification is not sent
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Pipeline {
    policies: Policies,
    remediator: Remediator,
    enrichers: Option<Arc<Enrichers>>,
}

impl Pipeline {
    /// A pipeline deciding with `policies` and acting through `remediator`, once every action
    /// kind the policies can choose ([`PolicySet::action_kinds`]) has an executor
    /// ([`Executor::handles`](crate::Executor::handles)). Otherwise the error lists the kinds
    /// without one; [`Unroutable::acknowledge`] builds the pipeline anyway, and those actions fail
    /// `unsupported`, in a dry run as in a real one.
    pub fn new(policies: impl Into<Policies>, remediator: Remediator) -> Result<Self, Unroutable> {
        let pipeline = Self {
            policies: policies.into(),
            remediator,
            enrichers: None,
        };
        let kinds = pipeline.unroutable();
        let channels = pipeline.unrouted_channels();
        if kinds.is_empty() && channels.is_empty() {
            Ok(pipeline)
        } else {
            Err(Unroutable {
                kinds,
                channels,
                pipeline: Box::new(pipeline),
            })
        }
    }

    /// The notify channels the current policies name that no notifier takes (no route for the
    /// channel and no fallback).
    pub fn unrouted_channels(&self) -> Vec<String> {
        if !self.remediator.handles(&ActionKind::NOTIFY) {
            return Vec::new(); // reported as an unroutable kind
        }
        self.policy_set()
            .notify_channels()
            .into_iter()
            .filter(|channel| !self.remediator.handles_channel(channel))
            .collect()
    }

    /// The action kinds the current policies can choose that no executor carries out.
    pub fn unroutable(&self) -> Vec<ActionKind> {
        self.policy_set()
            .action_kinds()
            .filter(|kind| !self.remediator.handles(kind))
            .cloned()
            .collect()
    }

    /// Enriches every finding with `enrichers` before the policies decide (none: findings are
    /// decided on as they are). The context is frozen into the finding the policies see and
    /// recorded in the plan (`enrichment`).
    pub fn with_enrichers(mut self, enrichers: Enrichers) -> Self {
        self.enrichers = (!enrichers.is_empty()).then(|| Arc::new(enrichers));
        self
    }

    /// The enrichers, if any.
    pub fn enrichers(&self) -> Option<&Enrichers> {
        self.enrichers.as_deref()
    }

    /// `finding` with what the enrichers found frozen into it. A finding that already carries a
    /// context (a replay, a decision test) keeps it; without enrichers the finding is returned as
    /// it is.
    pub async fn enrich(&self, finding: &Finding) -> Finding {
        match &self.enrichers {
            Some(enrichers) if finding.context().is_none() => enrichers.enrich(finding).await,
            _ => finding.clone(),
        }
    }

    /// Enriches `finding` and evaluates it: the plan, nothing carried out.
    pub async fn decide(&self, finding: &Finding) -> Plan {
        self.evaluate(&self.enrich(finding).await)
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

    /// The plan for `finding` as it is (pure and synchronous: nothing is enriched, nothing is
    /// carried out).
    pub fn evaluate(&self, finding: &Finding) -> Plan {
        match &self.policies {
            Policies::Set(set) => set.evaluate(finding),
            Policies::Store(store) => store.evaluate(finding),
        }
    }

    /// Enriches `finding`, decides on it and carries the plan out.
    pub async fn handle(&self, finding: &Finding) -> Report {
        self.remediator.run(&self.decide(finding).await).await
    }

    /// Carries out a plan made earlier (a queued, approved or replayed plan).
    pub async fn handle_plan(&self, plan: &Plan) -> Report {
        self.remediator.run(plan).await
    }

    /// Decides on many findings and carries the plans out, at most
    /// [`Remediator::concurrency`] at once, calling `on_report` with each finding's index and its
    /// report as it completes. One finding's failure never stops the others.
    ///
    /// With enrichers, every finding is enriched first (the same number at once), then the plans
    /// are carried out.
    pub async fn handle_each<I, F>(&self, findings: I, on_report: F)
    where
        I: IntoIterator<Item = Finding>,
        F: FnMut(usize, Report),
    {
        match &self.enrichers {
            None => {
                let plans = findings.into_iter().map(|f| self.evaluate(&f));
                self.remediator.run_each(plans, on_report).await;
            }
            Some(_) => {
                let enriched = self.enrich_all(findings).await;
                let plans = enriched.iter().map(|f| self.evaluate(f));
                self.remediator.run_each(plans, on_report).await;
            }
        }
    }

    /// Decides on many findings and returns the reports in input order.
    pub async fn handle_all<I>(&self, findings: I) -> Vec<Report>
    where
        I: IntoIterator<Item = Finding>,
    {
        let mut reports = Vec::new();
        self.handle_each(findings, |index, report| reports.push((index, report)))
            .await;
        reports.sort_by_key(|(index, _)| *index);
        reports.into_iter().map(|(_, r)| r).collect()
    }

    /// Every finding enriched, at most [`Remediator::concurrency`] at once, in input order.
    async fn enrich_all(&self, findings: impl IntoIterator<Item = Finding>) -> Vec<Finding> {
        let input: Vec<Finding> = findings.into_iter().collect();
        let mut done = input.clone();
        let mut tasks = JoinSet::new();
        let limit = self.remediator.concurrency().max(1);
        let mut pending = input.into_iter().enumerate();
        loop {
            while tasks.len() < limit {
                let Some((index, finding)) = pending.next() else {
                    break;
                };
                let pipeline = self.clone();
                tasks.spawn(async move { (index, pipeline.enrich(&finding).await) });
            }
            // A task that fails (it cannot: enrichers catch their own failures) leaves its
            // finding as it was.
            match tasks.join_next().await {
                Some(Ok((index, finding))) => {
                    if let Some(slot) = done.get_mut(index) {
                        *slot = finding;
                    }
                }
                Some(Err(e)) => tracing::error!("enrichment task failed: {e}"),
                None => return done,
            }
        }
    }
}

/// Action kinds the policies can choose that the remediator's executor does not carry out
/// (returned by [`Pipeline::new`]).
pub struct Unroutable {
    kinds: Vec<ActionKind>,
    channels: Vec<String>,
    pipeline: Box<Pipeline>,
}

impl Unroutable {
    /// The kinds without an executor.
    pub fn kinds(&self) -> &[ActionKind] {
        &self.kinds
    }

    /// The notify channels the policies name that no notifier takes.
    pub fn channels(&self) -> &[String] {
        &self.channels
    }

    /// The same kinds, with `f` applied to the pipeline inside.
    pub fn map(self, f: impl FnOnce(Pipeline) -> Pipeline) -> Self {
        Self {
            kinds: self.kinds,
            channels: self.channels,
            pipeline: Box::new(f(*self.pipeline)),
        }
    }

    /// The pipeline, knowing that actions of [`Unroutable::kinds`] fail `unsupported`.
    pub fn acknowledge(self) -> Pipeline {
        *self.pipeline
    }
}

impl std::fmt::Debug for Unroutable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unroutable")
            .field("kinds", &self.kinds)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for Unroutable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<&str> = self.kinds.iter().map(ActionKind::as_str).collect();
        let mut parts = Vec::new();
        if !kinds.is_empty() {
            parts.push(format!(
                "no executor carries out action kind(s) the policies can choose: {}",
                kinds.join(", ")
            ));
        }
        if !self.channels.is_empty() {
            parts.push(format!(
                "no notifier takes channel(s) the policies notify: {}",
                self.channels.join(", ")
            ));
        }
        write!(
            f,
            "{} (route them, or acknowledge that they fail `unsupported`)",
            parts.join("; ")
        )
    }
}

impl std::error::Error for Unroutable {}
