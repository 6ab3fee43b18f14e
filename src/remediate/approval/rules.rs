//! `[approval]`, compiled: which destructive actions wait for a person.

use std::collections::BTreeMap;

use crate::config::{ApprovalConfig, TagRule};
use crate::glob::glob_match;
use crate::plan::{Action, ActionKind, FindingContext, PlannedAction};

/// `[approval]`, compiled: which actions wait for a person, and how long.
#[derive(Debug, Clone, Default)]
pub(crate) struct ApprovalRules {
    pub(crate) config: ApprovalConfig,
}

impl ApprovalRules {
    /// Whether `planned` (a destructive action) must wait for a person on `finding`: a policy
    /// asked (`.ask_first()`), or `[approval]` says so.
    pub(crate) fn requires(&self, planned: &PlannedAction, finding: &FindingContext) -> bool {
        let config = &self.config;
        let action = &planned.action;
        if !action.is_destructive() {
            return false;
        }
        // The policy asked for a person: `[approval]`'s accounts and tags do not narrow it. A
        // suppression always waits, whatever its plan says.
        if planned.ask_first || matches!(action, Action::SuppressSimilar(_)) {
            return true;
        }
        let kind = action.kind();
        let chosen = config.kinds.iter().any(|k| k == kind.as_str())
            || planned
                .sources
                .iter()
                .any(|s| config.policies.iter().any(|p| **p == *s.policy));
        if !chosen {
            return false;
        }
        let account = finding.account_id.as_str();
        if !config.accounts.is_empty() && !config.accounts.iter().any(|g| glob_match(g, account)) {
            return false;
        }
        config.tags.is_empty() || config.tags.iter().any(|rule| tagged(rule, action, finding))
    }
}

/// Whether what `action` touches carries a tag `rule` matches: an instance the finding's
/// instance tags, a user or role the tags enrichment found for the finding's principal.
fn tagged(rule: &TagRule, action: &Action, finding: &FindingContext) -> bool {
    let matches = |tags: &BTreeMap<String, String>| {
        tags.get(&rule.key)
            .is_some_and(|value| rule.value.as_deref().is_none_or(|g| glob_match(g, value)))
    };
    let on_instance = matches!(action.kind(), k if k == ActionKind::RUN_COMMAND || k == ActionKind::ISOLATE_INSTANCE)
        || action.target().starts_with("i-");
    if on_instance && matches(&finding.instance_tags) {
        return true;
    }
    finding
        .enrichment
        .as_ref()
        .and_then(|c| c.principal.as_ref())
        .is_some_and(|p| matches(&p.tags))
}
