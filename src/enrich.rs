//! Enrichment: answering the analyst's questions before the policies decide. Who is the principal,
//! what may it do, and what did its key do recently?
//!
//! An [`Enricher`] is a small dyn-compatible trait with one required method: given a finding, it
//! returns the parts of a [`Context`] it knows (the principal's permissions, the key's recent
//! activity), and an error entry for what it could not find or fetch. [`Enrichers`] runs several
//! of them at once, each with a timeout, and keeps each answer for the principal for the run.
//! [`MemoryEnricher`] (principals and activity added by hand) and [`StaticEnricher`] (one fixed
//! context: replay, tests) are first-class backends; `remedy::aws` has the IAM and CloudTrail
//! ones.
//!
//! Evaluation stays pure: enrichment runs before it ([`crate::Pipeline::enrich`]), and the context
//! is frozen into the finding the policies see ([`Finding::with_context`]) and recorded in the
//! plan (`enrichment`), so decision tests and replays use it without AWS.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use remedy::enrich::{Enrichers, MemoryEnricher, PrincipalDetails};
//! use remedy::Finding;
//!
//! let iam = MemoryEnricher::new();
//! iam.add_principal(PrincipalDetails {
//!     name: "GuardDuty-Example-Compromised-Simulated".into(),
//!     policies: vec!["AdministratorAccess".into()],
//!     is_admin: true,
//!     ..PrincipalDetails::default()
//! });
//! let enrichers = Enrichers::new().with(Arc::new(iam));
//! let finding = Finding::from_json_str(include_str!("../examples/findings/01-iam-malicious-ip-custom.json"))?;
//! let enriched = enrichers.enrich(&finding).await;
//! assert!(enriched.context().unwrap().principal.as_ref().unwrap().is_admin);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::OnceCell;
use tokio::task::JoinSet;

use crate::finding::Finding;

mod memory;

// The context is defined next to the finding that holds it (`finding/enrichment.rs`), so the
// finding never reaches up into enrichment; this is its public name.
pub use crate::finding::enrichment::{
    ActivityEvent, ActivitySummary, Context, ContextError, ContextErrorKind, KeyDetails,
    PrincipalDetails, PrincipalKind, is_write,
};
#[cfg(feature = "aws")]
pub(crate) use memory::{Lookup, root};
pub use memory::{MemoryEnricher, StaticEnricher};

/// Finds out about a finding's principal before the policies decide.
///
/// Implementations never panic on bad input and never fail as a whole: what they cannot find or
/// fetch is an entry in [`Context::errors`], and the parts they know are returned. A finding they
/// have nothing to say about (no principal) gets an empty context.
#[async_trait]
pub trait Enricher: Send + Sync + fmt::Debug + 'static {
    /// The parts of the context this enricher knows about `finding`.
    async fn enrich(&self, finding: &Finding) -> Context;

    /// The enricher's name in error entries, e.g. `iam` or `cloudtrail`.
    fn name(&self) -> &str {
        "enricher"
    }

    /// What the answer depends on: findings with the same key get the same answer for the run
    /// ([`Enrichers`] caches by it); `None`: never cached. The default is the principal (account,
    /// region, user type and name, access key id), `None` for a finding that names none.
    fn cache_key(&self, finding: &Finding) -> Option<String> {
        principal_key(finding, true)
    }
}

/// The principal a finding names, as a cache key; `None` when it names none.
pub(crate) fn principal_key(finding: &Finding, with_region: bool) -> Option<String> {
    if finding.user_name().is_none() && finding.access_key_id().is_none() {
        return None;
    }
    let region = if with_region { finding.region() } else { "" };
    Some(format!(
        "{}\u{1f}{region}\u{1f}{}\u{1f}{}\u{1f}{}",
        finding.account_id(),
        finding.user_type().unwrap_or_default(),
        finding.user_name().unwrap_or_default(),
        finding.access_key_id().unwrap_or_default(),
    ))
}

#[async_trait]
impl<E: Enricher + ?Sized> Enricher for Box<E> {
    async fn enrich(&self, finding: &Finding) -> Context {
        (**self).enrich(finding).await
    }

    fn name(&self) -> &str {
        (**self).name()
    }

    fn cache_key(&self, finding: &Finding) -> Option<String> {
        (**self).cache_key(finding)
    }
}

#[async_trait]
impl<E: Enricher + ?Sized> Enricher for Arc<E> {
    async fn enrich(&self, finding: &Finding) -> Context {
        (**self).enrich(finding).await
    }

    fn name(&self) -> &str {
        (**self).name()
    }

    fn cache_key(&self, finding: &Finding) -> Option<String> {
        (**self).cache_key(finding)
    }
}

/// The default time one enricher may take on one finding.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The default time an answer stays cached.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// How many answers the cache holds before it starts over.
const CACHE_SIZE: usize = 10_000;

type Cell = Arc<OnceCell<Context>>;

/// The cached answers: by enricher index and cache key, with when each was made.
type Cache = HashMap<(usize, String), (Instant, Cell)>;

/// Several enrichers run at once on each finding, each under a timeout, their answers merged
/// (the first enricher that gives a part wins; every error is kept) and cached by each enricher's
/// [`Enricher::cache_key`]: findings about the same principal in one run cost one lookup.
///
/// Findings about the same principal that arrive together wait for one lookup. Sample findings
/// are not enriched (no call is made; the context says so). A timeout, or an enricher that
/// panics, is an error entry of that enricher; the others' answers stand.
#[derive(Debug, Clone)]
pub struct Enrichers {
    enrichers: Vec<Arc<dyn Enricher>>,
    timeout: Duration,
    ttl: Duration,
    cache: Arc<Mutex<Cache>>,
}

impl Default for Enrichers {
    fn default() -> Self {
        Self::new()
    }
}

impl Enrichers {
    /// No enricher yet; timeout [`DEFAULT_TIMEOUT`], answers cached for [`DEFAULT_CACHE_TTL`].
    pub fn new() -> Self {
        Self {
            enrichers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            ttl: DEFAULT_CACHE_TTL,
            cache: Arc::default(),
        }
    }

    /// Adds an enricher (earlier ones win when two give the same part).
    pub fn with(mut self, enricher: Arc<dyn Enricher>) -> Self {
        self.enrichers.push(enricher);
        self
    }

    /// Sets how long one enricher may take on one finding.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how long an answer is kept (zero: never cached).
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The time one enricher may take on one finding.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many enrichers there are.
    pub fn len(&self) -> usize {
        self.enrichers.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.enrichers.is_empty()
    }

    /// Forgets every cached answer (a long-running host starting a new run).
    pub fn clear_cache(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }

    /// The finding with the context the enrichers found frozen into it.
    pub async fn enrich(&self, finding: &Finding) -> Finding {
        finding.with_context(Arc::new(self.context(finding).await))
    }

    /// What the enrichers found about `finding`.
    pub async fn context(&self, finding: &Finding) -> Context {
        if finding.is_sample() {
            return Context::failed(ContextError::new(
                "enrich",
                ContextErrorKind::Unsupported,
                "sample finding: not enriched",
            ));
        }
        let mut tasks = JoinSet::new();
        let mut started = HashMap::new();
        for (index, enricher) in self.enrichers.iter().enumerate() {
            let (enricher, finding) = (Arc::clone(enricher), finding.clone());
            let cell = enricher
                .cache_key(&finding)
                .filter(|_| !self.ttl.is_zero())
                .map(|key| self.cell(index, key));
            let timeout = self.timeout;
            let handle = tasks.spawn(async move {
                match cell {
                    Some(cell) => {
                        let run = || timed(&*enricher, &finding, timeout);
                        cell.get_or_init(run).await.clone()
                    }
                    None => timed(&*enricher, &finding, timeout).await,
                }
            });
            started.insert(handle.id(), index);
        }
        let mut answers: Vec<(usize, Context)> = Vec::with_capacity(self.enrichers.len());
        while let Some(joined) = tasks.join_next_with_id().await {
            match joined {
                Ok((id, answer)) => {
                    answers.push((started.get(&id).copied().unwrap_or(usize::MAX), answer));
                }
                Err(e) => {
                    let index = started.get(&e.id()).copied().unwrap_or(usize::MAX);
                    let name = self.enrichers.get(index).map_or("enricher", |e| e.name());
                    answers.push((
                        index,
                        Context::failed(ContextError::new(
                            name,
                            ContextErrorKind::Failed,
                            format!("the enricher failed: {e}"),
                        )),
                    ));
                }
            }
        }
        answers.sort_by_key(|(index, _)| *index);
        let mut context = Context::default();
        for (_, answer) in answers {
            context.merge(answer);
        }
        context
    }

    /// The cache cell of `(index, key)`, a new one when absent or expired.
    fn cell(&self, index: usize, key: String) -> Cell {
        let Ok(mut cache) = self.cache.lock() else {
            return Cell::default();
        };
        let now = Instant::now();
        if let Some((at, cell)) = cache.get(&(index, key.clone()))
            && now.duration_since(*at) < self.ttl
        {
            return Arc::clone(cell);
        }
        if cache.len() >= CACHE_SIZE {
            cache.clear();
        }
        let cell = Cell::default();
        cache.insert((index, key), (now, Arc::clone(&cell)));
        cell
    }
}

/// `enricher` on `finding` under `timeout`: a timeout is an error entry.
async fn timed(enricher: &dyn Enricher, finding: &Finding, timeout: Duration) -> Context {
    match tokio::time::timeout(timeout, enricher.enrich(finding)).await {
        Ok(context) => context,
        Err(_) => Context::failed(ContextError::new(
            enricher.name(),
            ContextErrorKind::Timeout,
            format!("no answer within {} ms", timeout.as_millis()),
        )),
    }
}

#[async_trait]
impl Enricher for Enrichers {
    async fn enrich(&self, finding: &Finding) -> Context {
        self.context(finding).await
    }

    fn name(&self) -> &str {
        "enrichers"
    }

    /// Never cached again: each inner enricher caches its own answers.
    fn cache_key(&self, _finding: &Finding) -> Option<String> {
        None
    }
}
