//! The ledger of a simulation: which actions were done, kept as 16-byte digests of their keys,
//! so that replaying a long history keeps its repeat rule in bounded, small memory (the
//! in-memory ledger keeps each entry's finding and action, about 4 KB each).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::store::ledger::{
    Claim, ClaimRequest, EntryState, Ledger, LedgerEntry, LedgerError, LedgerKey, Owner,
};

/// Digests of the keys claimed or done, with their state.
#[derive(Debug, Default)]
pub(super) struct CompactLedger {
    entries: Mutex<HashMap<u128, EntryState>>,
}

fn digest(key: &LedgerKey) -> u128 {
    let hash = Sha256::digest(key.joined().as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(hash.get(..16).unwrap_or(&[0; 16]));
    u128::from_le_bytes(bytes)
}

fn entry(key: &LedgerKey, state: EntryState) -> LedgerEntry {
    LedgerEntry {
        key: key.clone(),
        state,
        at: String::new(),
        details: None,
        owner: None,
        expires: None,
        finding: None,
        action: None,
    }
}

#[async_trait]
impl Ledger for CompactLedger {
    async fn claim(&self, request: &ClaimRequest<'_>) -> Result<Claim, LedgerError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let id = digest(request.key);
        Ok(match entries.get(&id) {
            Some(EntryState::Done) => Claim::Done(entry(request.key, EntryState::Done)),
            Some(EntryState::Claimed) => Claim::InProgress(entry(request.key, EntryState::Claimed)),
            None => {
                entries.insert(id, EntryState::Claimed);
                Claim::Acquired
            }
        })
    }

    async fn complete(
        &self,
        key: &LedgerKey,
        _owner: &Owner,
        _details: &str,
    ) -> Result<(), LedgerError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.insert(digest(key), EntryState::Done);
        Ok(())
    }

    async fn release(&self, key: &LedgerKey, _owner: &Owner) -> Result<(), LedgerError> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let id = digest(key);
        if entries.get(&id) == Some(&EntryState::Claimed) {
            entries.remove(&id);
        }
        Ok(())
    }

    async fn get(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>, LedgerError> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(entries.get(&digest(key)).map(|state| entry(key, *state)))
    }

    async fn claims(&self) -> Result<Vec<LedgerEntry>, LedgerError> {
        // A simulation runs one action at a time to its end: nothing is left claimed.
        Ok(Vec::new())
    }
}
