//! How a ledger entry met while carrying out an action is described: who claimed it, who did it.

use crate::store::ledger::{LedgerEntry, Owner};

/// Who holds the entry's claim, and since when.
pub(super) fn claim_details(entry: &LedgerEntry) -> String {
    let by = entry
        .owner
        .as_ref()
        .map_or_else(|| "an unknown run".to_owned(), ToString::to_string);
    format!("claimed by {by} at {}", entry.at)
}

/// Whether this run (this process) holds or held the entry's claim.
pub(super) fn is_own(entry: &LedgerEntry, own: &Owner) -> bool {
    entry.owner.as_ref().is_some_and(|o| o.run == own.run)
}

/// Who did it: this run (a duplicate within one run) or an earlier one.
pub(super) fn done_by(entry: &LedgerEntry, own: &Owner) -> &'static str {
    if is_own(entry, own) {
        "done earlier in this run"
    } else {
        "done by an earlier run"
    }
}

/// Who did it and when, with what they recorded.
pub(super) fn done_details(entry: &LedgerEntry, own: &Owner) -> String {
    let by = done_by(entry, own);
    match &entry.details {
        Some(d) => format!("{by} at {}: {d}", entry.at),
        None => format!("{by} at {}", entry.at),
    }
}
