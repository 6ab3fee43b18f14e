//! [`DynamoLedger`]: the idempotency ledger in the state table.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use sha2::{Digest, Sha256};

use super::{CLAIMS_INDEX, CLAIMS_PK, Item, StateTable, TTL, get_n, get_s, n, s, write_id};
use crate::aws::error::{CallError, ServiceError};
use crate::clock::now_rfc3339;
use crate::store::ledger::decide;
use crate::store::ledger::{
    Claim, ClaimRequest, EntryState, Ledger, LedgerEntry, LedgerError, LedgerKey, Owner, now_secs,
};

const ENTRY: &str = "entry";
const CLAIMED: &str = "claimed";
const DONE: &str = "done";
/// Rounds of read, decide and conditional write before a claim gives up (each round is lost
/// only to another writer of the same key).
const ROUNDS: usize = 8;

/// The idempotency ledger in a DynamoDB table, shared by every worker that uses the table: the
/// lease semantics of [`Ledger`] on conditional writes.
///
/// A claim is a `PutItem` on `attribute_not_exists(pk)`; a lost race reports the holder (from
/// `ReturnValuesOnConditionCheckFailure`, or a consistent read where the endpoint does not return
/// it). Taking over an expired claim is a `PutItem` conditioned on the old claim's state, owner
/// run and lease expiry, so of several takers exactly one wins. `complete` is one `UpdateItem`
/// (the entry leaves the `claims` index), `release` a `DeleteItem` on the owner's run. Every
/// entry expires `retain_days` after its last write (time to live). Leases compare this host's
/// clock with the writer's: keep the clocks in sync (NTP).
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    table: StateTable,
}

impl DynamoLedger {
    /// The ledger in `table`.
    pub fn new(table: StateTable) -> Self {
        Self { table }
    }

    /// The table.
    pub fn table(&self) -> &StateTable {
        &self.table
    }

    fn error<E: ServiceError>(&self, call: &str, err: &CallError<E>) -> LedgerError {
        let e = self.table.error(call, err);
        LedgerError::new(self.table.name(), e.message()).with_kind(e.kind())
    }

    fn json<T: serde::Serialize>(&self, value: &T) -> Result<String, LedgerError> {
        serde_json::to_string(value).map_err(|e| self.invalid(&e))
    }

    fn invalid(&self, e: &dyn std::fmt::Display) -> LedgerError {
        LedgerError::new(self.table.name(), format!("cannot encode the entry: {e}"))
            .with_kind(crate::store::state::StateErrorKind::Invalid)
    }

    /// A consistent read of the entry at `pk`.
    async fn read(&self, pk: &str) -> Result<Option<Item>, LedgerError> {
        let out = self
            .table
            .client()
            .get_item()
            .table_name(self.table.name())
            .key("pk", s(pk))
            .key("sk", s(ENTRY))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", &e))?;
        Ok(out.item)
    }

    /// The item of a claim `entry` made by write `id`.
    fn claimed_item(&self, pk: &str, entry: &LedgerEntry, id: &str) -> Result<Item, LedgerError> {
        let expires = entry.expires.unwrap_or(0);
        let mut item = Item::from([
            ("pk".to_owned(), s(pk)),
            ("sk".to_owned(), s(ENTRY)),
            ("state".to_owned(), s(CLAIMED)),
            ("claim_id".to_owned(), s(id)),
            ("lease_expires".to_owned(), n(expires)),
            ("at".to_owned(), s(&entry.at)),
            ("key".to_owned(), s(self.json(&entry.key)?)),
            (CLAIMS_PK.to_owned(), s("claims")),
            (
                TTL.to_owned(),
                n(self.table.retain_until(expires.max(now_secs()))),
            ),
        ]);
        if let Some(owner) = &entry.owner {
            item.insert("owner_run".into(), s(&owner.run));
            item.insert("owner".into(), s(self.json(owner)?));
        }
        if let Some(finding) = &entry.finding {
            item.insert("finding".into(), s(self.json(finding)?));
        }
        if let Some(action) = &entry.action {
            item.insert("action".into(), s(self.json(action)?));
        }
        Ok(item)
    }
}

/// The partition key of `key`: its account (`-` when none, `x` when it is not a plain name) and
/// the SHA-256 of the whole key.
pub(crate) fn pk(key: &LedgerKey) -> String {
    let account = match key.account.as_str() {
        "" => "-",
        a if a.len() <= 64
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            a
        }
        _ => "x",
    };
    let digest: String = Sha256::digest(key.joined().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("ledger#{account}#{digest}")
}

/// The entry an item holds; `key` when the item's own cannot be read. An item whose parts
/// cannot be read is a claim of nobody: it counts as expired and is taken over.
fn entry_of(item: &Item, key: Option<&LedgerKey>) -> Option<LedgerEntry> {
    fn parse<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> Option<T> {
        serde_json::from_str(get_s(item, name)?).ok()
    }
    let key = parse::<LedgerKey>(item, "key").or_else(|| key.cloned())?;
    let state = match get_s(item, "state") {
        Some(DONE) => EntryState::Done,
        _ => EntryState::Claimed,
    };
    Some(LedgerEntry {
        key,
        state,
        at: get_s(item, "at").unwrap_or_default().to_owned(),
        details: get_s(item, "details").map(str::to_owned),
        owner: parse(item, "owner"),
        expires: get_n(item, "lease_expires"),
        finding: parse(item, "finding"),
        action: parse(item, "action"),
    })
}

/// Conditions `put` on the item still being exactly the `old` claim: same state, owner run and
/// lease expiry (an attribute it lacked must still be absent).
fn unchanged(put: PutItemFluentBuilder, old: &Item) -> PutItemFluentBuilder {
    let mut parts = Vec::new();
    let mut put = put;
    for (i, attribute) in ["state", "owner_run", "lease_expires"].iter().enumerate() {
        let name = format!("#a{i}");
        match old.get(*attribute) {
            Some(value) => {
                let placeholder = format!(":a{i}");
                parts.push(format!("{name} = {placeholder}"));
                put = put.expression_attribute_values(placeholder, value.clone());
            }
            None => parts.push(format!("attribute_not_exists({name})")),
        }
        put = put.expression_attribute_names(name, *attribute);
    }
    put.condition_expression(parts.join(" AND "))
}

#[async_trait]
impl Ledger for DynamoLedger {
    async fn claim(&self, request: &ClaimRequest<'_>) -> Result<Claim, LedgerError> {
        let pk = pk(request.key);
        let id = write_id();
        // Optimistic: most keys are new, so the first write assumes there is no entry.
        let mut current: Option<Item> = None;
        for _ in 0..ROUNDS {
            let entry = current
                .as_ref()
                .and_then(|i| entry_of(i, Some(request.key)));
            let (claim, write) = decide(entry, request, now_secs());
            let Some(new) = write else {
                return Ok(claim);
            };
            let mut put = self
                .table
                .client()
                .put_item()
                .table_name(self.table.name())
                .set_item(Some(self.claimed_item(&pk, &new, &id)?))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            put = match &current {
                None => put.condition_expression("attribute_not_exists(pk)"),
                Some(old) => unchanged(put, old),
            };
            match put.send().await {
                Ok(_) => return Ok(claim),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    let returned = e.as_service_error().and_then(|e| match e {
                        PutItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                        _ => None,
                    });
                    let holder = match returned {
                        Some(item) => Some(item),
                        None => self.read(&pk).await?,
                    };
                    // The SDK retried our own write after it had succeeded.
                    if holder
                        .as_ref()
                        .is_some_and(|h| get_s(h, "claim_id") == Some(id.as_str()))
                    {
                        return Ok(claim);
                    }
                    current = holder;
                }
                Err(e) => return Err(self.error("PutItem", &e)),
            }
        }
        Err(LedgerError::new(
            self.table.name(),
            format!("the claim lost {ROUNDS} races in a row; try again"),
        ))
    }

    async fn complete(
        &self,
        key: &LedgerKey,
        owner: &Owner,
        details: &str,
    ) -> Result<(), LedgerError> {
        let key_json = self.json(key)?;
        let owner_json = self.json(owner)?;
        self.table
            .client()
            .update_item()
            .table_name(self.table.name())
            .key("pk", s(pk(key)))
            .key("sk", s(ENTRY))
            .update_expression(
                "SET #st = :done, #at = :at, #d = :d, #o = :o, #r = :r, #k = :k, #t = :t \
                 REMOVE #e, #c",
            )
            .expression_attribute_names("#st", "state")
            .expression_attribute_names("#at", "at")
            .expression_attribute_names("#d", "details")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_names("#r", "owner_run")
            .expression_attribute_names("#k", "key")
            .expression_attribute_names("#t", TTL)
            .expression_attribute_names("#e", "lease_expires")
            .expression_attribute_names("#c", CLAIMS_PK)
            .expression_attribute_values(":done", s(DONE))
            .expression_attribute_values(":at", s(now_rfc3339()))
            .expression_attribute_values(":d", s(details))
            .expression_attribute_values(":o", s(owner_json))
            .expression_attribute_values(":r", s(&owner.run))
            .expression_attribute_values(":k", s(key_json))
            .expression_attribute_values(":t", n(self.table.retain_until(now_secs())))
            .send()
            .await
            .map_err(|e| self.error("UpdateItem", &e))?;
        Ok(())
    }

    async fn release(&self, key: &LedgerKey, owner: &Owner) -> Result<(), LedgerError> {
        let deleted = self
            .table
            .client()
            .delete_item()
            .table_name(self.table.name())
            .key("pk", s(pk(key)))
            .key("sk", s(ENTRY))
            .condition_expression("#st = :claimed AND #r = :r")
            .expression_attribute_names("#st", "state")
            .expression_attribute_names("#r", "owner_run")
            .expression_attribute_values(":claimed", s(CLAIMED))
            .expression_attribute_values(":r", s(&owner.run))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            // Not ours (taken over, or finished): left alone.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(self.error("DeleteItem", &e)),
        }
    }

    async fn get(&self, key: &LedgerKey) -> Result<Option<LedgerEntry>, LedgerError> {
        Ok(self
            .read(&pk(key))
            .await?
            .and_then(|item| entry_of(&item, Some(key))))
    }

    async fn claims(&self) -> Result<Vec<LedgerEntry>, LedgerError> {
        let mut pks = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .table
                .client()
                .query()
                .table_name(self.table.name())
                .index_name(CLAIMS_INDEX)
                .key_condition_expression("#c = :c")
                .expression_attribute_names("#c", CLAIMS_PK)
                .expression_attribute_values(":c", s("claims"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.error("Query", &e))?;
            pks.extend(
                page.items()
                    .iter()
                    .filter_map(|i| get_s(i, "pk").map(str::to_owned)),
            );
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        // The index is eventually consistent: each entry is read again, consistently.
        let mut claims = Vec::new();
        for pk in pks {
            if let Some(entry) = self.read(&pk).await?.and_then(|i| entry_of(&i, None))
                && entry.state == EntryState::Claimed
            {
                claims.push(entry);
            }
        }
        claims.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(claims)
    }
}
