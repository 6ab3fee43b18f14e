//! Hot reload: a store that swaps the whole policy set atomically.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{PolicyError, PolicySet, PolicySetBuilder};
use crate::finding::Finding;
use crate::plan::Plan;

/// The current policy set of a directory, reloadable while other threads evaluate.
///
/// Readers get the set that was current when they asked and keep it for as long as they hold it;
/// [`PolicyStore::reload`] compiles the directory again and swaps the whole set at once. A reload
/// that fails keeps the last good set and returns the errors.
#[derive(Debug)]
pub struct PolicyStore {
    dir: PathBuf,
    builder: PolicySetBuilder,
    current: ArcSwap<PolicySet>,
}

impl PolicyStore {
    /// Loads `dir` with the default configuration.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, PolicyError> {
        Self::open_with(PolicySetBuilder::new(), dir.into())
    }

    pub(crate) fn open_with(builder: PolicySetBuilder, dir: PathBuf) -> Result<Self, PolicyError> {
        let builder = builder.add_dir(dir.clone());
        let set = builder.build()?;
        Ok(Self {
            dir,
            builder,
            current: ArcSwap::from_pointee(set),
        })
    }

    /// The directory the store loads from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current set.
    pub fn current(&self) -> Arc<PolicySet> {
        self.current.load_full()
    }

    /// Loads the directory again; on success the new set replaces the current one and is returned,
    /// on failure the current set stays and the errors are returned.
    pub fn reload(&self) -> Result<Arc<PolicySet>, PolicyError> {
        let set = Arc::new(self.builder.build()?);
        let previous = self.current.swap(Arc::clone(&set));
        if previous.version() != set.version() {
            tracing::info!(
                dir = %self.dir.display(),
                from = previous.version(),
                to = set.version(),
                policies = set.len(),
                "policies reloaded"
            );
        }
        Ok(set)
    }

    /// Evaluates `finding` against the current set.
    pub fn evaluate(&self, finding: &Finding) -> Plan {
        self.current.load().evaluate(finding)
    }
}
