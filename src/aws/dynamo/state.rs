//! [`DynamoState`]: rate windows, the circuit breaker and the shared kill switch in the state
//! table.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::{Item, StateTable, TTL, get_n, get_s, n, s, write_id};
use crate::config::RateLimit;
use crate::store::state::{Breaker, ChainHead, RateKey, StateError, StateStore, Stop};

const GLOBAL: &str = "global";
const BREAKER: &str = "breaker";
const STOP: &str = "stop";
const HEAD: &str = "audit-head";
const DAY: u64 = 86_400;

/// Rate windows, the circuit breaker and the shared kill switch in a DynamoDB table, shared by
/// every worker that uses the table.
///
/// A window is counted with one `UpdateItem` (`ADD count :one` on the condition
/// `attribute_not_exists(count) OR count < :max`), so concurrent workers never admit more than
/// the limit together; a retry of the SDK after a lost response may count one action twice
/// (fewer actions, never more). The breaker is one item with `open_until`, opened by a
/// conditional `PutItem`; reads are consistent, so every worker sees a trip or a stop at its next
/// action.
#[derive(Debug, Clone)]
pub struct DynamoState {
    table: StateTable,
}

impl DynamoState {
    /// The state in `table`.
    pub fn new(table: StateTable) -> Self {
        Self { table }
    }

    /// The table.
    pub fn table(&self) -> &StateTable {
        &self.table
    }

    /// A consistent read of the item at `pk`/`sk`.
    async fn read(&self, pk: &str, sk: &str) -> Result<Option<Item>, StateError> {
        let out = self
            .table
            .client()
            .get_item()
            .table_name(self.table.name())
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.table.error("GetItem", &e))?;
        Ok(out.item)
    }
}

fn breaker_of(item: &Item) -> Option<Breaker> {
    Some(Breaker {
        open_until: get_n(item, "open_until")?,
        cause: get_s(item, "cause").unwrap_or_default().to_owned(),
        at: get_s(item, "at").unwrap_or_default().to_owned(),
        by: get_s(item, "by").unwrap_or_default().to_owned(),
    })
}

#[async_trait]
impl StateStore for DynamoState {
    async fn admit(&self, key: &RateKey, limit: RateLimit, now: u64) -> Result<bool, StateError> {
        if limit.max == 0 {
            return Ok(false);
        }
        let per = limit.per_secs.max(1);
        let start = limit.window_start(now);
        let counted = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .key("pk", s(format!("rate#{}", key.joined())))
            .key("sk", s(format!("{per}#{start}")))
            .update_expression("ADD #n :one SET #t = :t")
            .condition_expression("attribute_not_exists(#n) OR #n < :max")
            .expression_attribute_names("#n", "count")
            .expression_attribute_names("#t", TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(u64::from(limit.max)))
            .expression_attribute_values(":t", n(start.saturating_add(per).saturating_add(DAY)))
            .send()
            .await;
        match counted {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.table.error("UpdateItem", &e)),
        }
    }

    async fn breaker(&self, now: u64) -> Result<Option<Breaker>, StateError> {
        Ok(self
            .read(BREAKER, GLOBAL)
            .await?
            .as_ref()
            .and_then(breaker_of)
            .filter(|b| b.is_open(now)))
    }

    async fn trip(&self, breaker: &Breaker, now: u64) -> Result<bool, StateError> {
        let id = write_id();
        let put = self
            .table
            .client()
            .put_item()
            .table_name(self.table.name())
            .item("pk", s(BREAKER))
            .item("sk", s(GLOBAL))
            .item("open_until", n(breaker.open_until))
            .item("cause", s(&breaker.cause))
            .item("at", s(&breaker.at))
            .item("by", s(&breaker.by))
            .item("trip_id", s(&id))
            .item(TTL, n(breaker.open_until.saturating_add(DAY)))
            .condition_expression("attribute_not_exists(pk) OR #u <= :now")
            .expression_attribute_names("#u", "open_until")
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(PutItemError::is_conditional_check_failed_exception) =>
            {
                let returned = match e.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(c)) => c.item().cloned(),
                    _ => None,
                };
                let holder = match returned {
                    Some(item) => Some(item),
                    None => self.read(BREAKER, GLOBAL).await?,
                };
                // Open already; ours only if the SDK retried our own write after it succeeded.
                Ok(holder.is_some_and(|h| get_s(&h, "trip_id") == Some(id.as_str())))
            }
            Err(e) => Err(self.table.error("PutItem", &e)),
        }
    }

    async fn stop(&self) -> Result<Option<Stop>, StateError> {
        Ok(self.read(STOP, GLOBAL).await?.map(|item| Stop {
            by: get_s(&item, "by").unwrap_or_default().to_owned(),
            at: get_s(&item, "at").unwrap_or_default().to_owned(),
            reason: get_s(&item, "reason").unwrap_or_default().to_owned(),
        }))
    }

    async fn set_stop(&self, stop: Option<&Stop>) -> Result<(), StateError> {
        let client = self.table.client();
        match stop {
            Some(stop) => client
                .put_item()
                .table_name(self.table.name())
                .item("pk", s(STOP))
                .item("sk", s(GLOBAL))
                .item("by", s(&stop.by))
                .item("at", s(&stop.at))
                .item("reason", s(&stop.reason))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.table.error("PutItem", &e)),
            None => client
                .delete_item()
                .table_name(self.table.name())
                .key("pk", s(STOP))
                .key("sk", s(GLOBAL))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.table.error("DeleteItem", &e)),
        }
    }

    async fn chain_head(&self, trail: &str) -> Result<Option<ChainHead>, StateError> {
        Ok(self.read(HEAD, trail).await?.and_then(|item| {
            Some(ChainHead {
                bytes: get_n(&item, "bytes")?,
                hash: get_s(&item, "hash")?.to_owned(),
            })
        }))
    }

    async fn set_chain_head(&self, trail: &str, head: &ChainHead) -> Result<(), StateError> {
        let written = self
            .table
            .client()
            .put_item()
            .table_name(self.table.name())
            .item("pk", s(HEAD))
            .item("sk", s(trail))
            .item("bytes", n(head.bytes))
            .item("hash", s(&head.hash))
            .condition_expression("attribute_not_exists(#b) OR #b <= :bytes")
            .expression_attribute_names("#b", "bytes")
            .expression_attribute_values(":bytes", n(head.bytes))
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            // A longer head is recorded already: a later line of another writer.
            Err(e)
                if e.as_service_error()
                    .is_some_and(PutItemError::is_conditional_check_failed_exception) =>
            {
                Ok(())
            }
            Err(e) => Err(self.table.error("PutItem", &e)),
        }
    }
}
