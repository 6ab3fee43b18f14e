//! In-memory enrichers: [`MemoryEnricher`] (principals and activity added by hand, answering like
//! the AWS ones) and [`StaticEnricher`] (one fixed context for every finding).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{
    ActivitySummary, Context, ContextError, ContextErrorKind, Enricher, PrincipalDetails,
    PrincipalKind,
};
use crate::finding::Finding;

/// The principal of a finding as an enricher sees it: what to look up, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup<'a> {
    /// Nothing to look up: the finding names no principal.
    Nothing,
    /// The account's root user (administrator by definition; nothing to look up).
    Root,
    /// An IAM user or role of this name.
    Named(PrincipalKind, &'a str),
    /// A principal IAM cannot describe (a federated user, a service), or no name.
    Unsupported(String),
}

impl<'a> Lookup<'a> {
    /// What to look up for `finding`'s principal.
    pub(crate) fn of(finding: &'a Finding) -> Self {
        let user_type = finding.user_type().unwrap_or_default();
        match (user_type, finding.user_name()) {
            ("Root", _) => Self::Root,
            ("IAMUser" | "", Some(name)) => Self::Named(PrincipalKind::User, name),
            ("AssumedRole", Some(name)) => Self::Named(PrincipalKind::Role, name),
            (_, None) if finding.access_key_id().is_none() => Self::Nothing,
            ("IAMUser" | "AssumedRole" | "", None) => {
                Self::Unsupported("the finding names no user or role".to_owned())
            }
            (other, _) => Self::Unsupported(format!(
                "a principal of type `{other}` has no IAM policies to read"
            )),
        }
    }
}

/// The root user: an administrator, by definition.
pub(crate) fn root() -> PrincipalDetails {
    PrincipalDetails {
        kind: PrincipalKind::Root,
        name: "root".into(),
        is_admin: true,
        admin_via: vec!["root user".into()],
        ..PrincipalDetails::default()
    }
}

#[derive(Debug, Default)]
struct Store {
    principals: HashMap<(PrincipalKind, String), PrincipalDetails>,
    activity: HashMap<String, ActivitySummary>,
    calls: usize,
}

/// An enricher answering from principals and activity added by hand, the way the AWS enrichers
/// answer: a user or role it does not know is a `not_found` error entry, root is an
/// administrator, a finding naming no principal gets an empty context. Clones share the data.
///
/// The first-class twin of the IAM and CloudTrail enrichers for tests, demos and embedders.
#[derive(Debug, Clone, Default)]
pub struct MemoryEnricher {
    store: Arc<Mutex<Store>>,
}

impl MemoryEnricher {
    /// An enricher that knows nobody yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a user or role, found by its kind and name.
    pub fn add_principal(&self, principal: PrincipalDetails) -> &Self {
        if let Ok(mut store) = self.store.lock() {
            let key = (principal.kind, principal.name.clone());
            store.principals.insert(key, principal);
        }
        self
    }

    /// Adds (or replaces) the activity of an access key.
    pub fn add_activity(&self, access_key_id: &str, activity: ActivitySummary) -> &Self {
        if let Ok(mut store) = self.store.lock() {
            store.activity.insert(access_key_id.to_owned(), activity);
        }
        self
    }

    /// How many findings it was asked about.
    pub fn calls(&self) -> usize {
        self.store.lock().map_or(0, |s| s.calls)
    }
}

#[async_trait]
impl Enricher for MemoryEnricher {
    async fn enrich(&self, finding: &Finding) -> Context {
        let Ok(mut store) = self.store.lock() else {
            return Context::failed(ContextError::new(
                "memory",
                ContextErrorKind::Failed,
                "the in-memory store is poisoned",
            ));
        };
        store.calls += 1;
        let mut context = Context::default();
        match Lookup::of(finding) {
            Lookup::Nothing => {}
            Lookup::Root => context.principal = Some(root()),
            Lookup::Named(kind, name) => match store.principals.get(&(kind, name.to_owned())) {
                Some(p) => context.principal = Some(p.clone()),
                None => context.errors.push(ContextError::new(
                    "memory",
                    ContextErrorKind::NotFound,
                    format!("no IAM {} named `{name}`", kind.as_str()),
                )),
            },
            Lookup::Unsupported(why) => context.errors.push(ContextError::new(
                "memory",
                ContextErrorKind::Unsupported,
                why,
            )),
        }
        if let Some(key) = finding.access_key_id() {
            context.activity = store.activity.get(key).cloned();
        }
        context
    }

    fn name(&self) -> &str {
        "memory"
    }
}

/// One fixed context for every finding: replaying a decision with the context it recorded,
/// trying a policy with a hand-written context.
#[derive(Debug, Clone, Default)]
pub struct StaticEnricher {
    context: Context,
}

impl StaticEnricher {
    /// An enricher answering `context` for every finding.
    pub fn new(context: Context) -> Self {
        Self { context }
    }
}

#[async_trait]
impl Enricher for StaticEnricher {
    async fn enrich(&self, _finding: &Finding) -> Context {
        self.context.clone()
    }

    fn name(&self) -> &str {
        "static"
    }

    fn cache_key(&self, _finding: &Finding) -> Option<String> {
        None
    }
}
