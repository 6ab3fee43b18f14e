//! [`DynamoApprovals`]: approval requests in the state table.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::{CLAIMS_INDEX, CLAIMS_PK, Item, StateTable, TTL, get_s, n, s, write_id};
use crate::aws::error::{CallError, ServiceError};
use crate::id::ApprovalId;
use crate::store::approval::{ApprovalError, ApprovalRequest, ApprovalStore};
use crate::store::approval::{Decision, Requested};

const REQUEST: &str = "request";
/// The `claims` index partition of the requests nobody has decided on.
const PENDING: &str = "approvals";

/// Approval requests in the state table, shared by every worker and by `remedy approve`.
///
/// A request is one item (`pk` = `approval#<id>`, `sk` = `request`), written by a `PutItem` on
/// `attribute_not_exists(pk)`, so of two workers asking at once one creates it. Until its
/// action's result is recorded, the item is in the table's `claims` index (partition
/// `approvals`), which is how [`ApprovalStore::unfinished`] finds it without a scan. A decision is
/// an `UpdateItem` on `attribute_not_exists(decision)`: the first decision wins, every later one
/// is refused; the result takes the item out of the index. The item expires `retain_days` after the request
/// does (time to live).
#[derive(Debug, Clone)]
pub struct DynamoApprovals {
    table: StateTable,
}

impl DynamoApprovals {
    /// The requests in `table`.
    pub fn new(table: StateTable) -> Self {
        Self { table }
    }

    fn pk(id: &ApprovalId) -> String {
        format!("approval#{id}")
    }

    fn error<E: ServiceError>(&self, call: &str, err: &CallError<E>) -> ApprovalError {
        ApprovalError::Unavailable {
            store: self.table.name().to_owned(),
            message: self.table.error(call, err).message().to_owned(),
        }
    }

    fn invalid(&self, e: &dyn std::fmt::Display) -> ApprovalError {
        ApprovalError::Invalid {
            store: self.table.name().to_owned(),
            message: e.to_string(),
        }
    }

    fn json<T: serde::Serialize>(&self, value: &T) -> Result<String, ApprovalError> {
        serde_json::to_string(value).map_err(|e| self.invalid(&e))
    }

    /// The request an item holds, with its decision and result.
    fn request_of(&self, item: &Item) -> Result<ApprovalRequest, ApprovalError> {
        let text =
            get_s(item, REQUEST).ok_or_else(|| self.invalid(&"an item without a request"))?;
        let mut request: ApprovalRequest =
            serde_json::from_str(text).map_err(|e| self.invalid(&e))?;
        request.decision = match get_s(item, "decision") {
            Some(d) => Some(serde_json::from_str(d).map_err(|e| self.invalid(&e))?),
            None => None,
        };
        request.result = get_s(item, "result").map(str::to_owned);
        Ok(request)
    }

    async fn read(&self, id: &ApprovalId) -> Result<Option<Item>, ApprovalError> {
        let out = self
            .table
            .client()
            .get_item()
            .table_name(self.table.name())
            .key("pk", s(Self::pk(id)))
            .key("sk", s(REQUEST))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", &e))?;
        Ok(out.item)
    }
}

#[async_trait]
impl ApprovalStore for DynamoApprovals {
    async fn request(&self, request: &ApprovalRequest) -> Result<Requested, ApprovalError> {
        let mut bare = request.clone();
        bare.decision = None;
        bare.result = None;
        let write = write_id();
        let item = Item::from([
            ("pk".to_owned(), s(Self::pk(&request.id))),
            ("sk".to_owned(), s(REQUEST)),
            (REQUEST.to_owned(), s(self.json(&bare)?)),
            ("write_id".to_owned(), s(&write)),
            (CLAIMS_PK.to_owned(), s(PENDING)),
            (
                TTL.to_owned(),
                n(self.table.retain_until(request.expires_at)),
            ),
        ]);
        let put = self
            .table
            .client()
            .put_item()
            .table_name(self.table.name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match put {
            Ok(_) => Ok(Requested::Created),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let returned = e.as_service_error().and_then(|e| match e {
                    PutItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                    _ => None,
                });
                let existing = match returned {
                    Some(item) => item,
                    None => self
                        .read(&request.id)
                        .await?
                        .ok_or_else(|| self.invalid(&"the request vanished"))?,
                };
                // The SDK retried our own write after it had succeeded.
                if get_s(&existing, "write_id") == Some(write.as_str()) {
                    return Ok(Requested::Created);
                }
                Ok(Requested::Exists(Box::new(self.request_of(&existing)?)))
            }
            Err(e) => Err(self.error("PutItem", &e)),
        }
    }

    async fn get(&self, id: &ApprovalId) -> Result<Option<ApprovalRequest>, ApprovalError> {
        match self.read(id).await? {
            Some(item) => Ok(Some(self.request_of(&item)?)),
            None => Ok(None),
        }
    }

    async fn unfinished(&self) -> Result<Vec<ApprovalRequest>, ApprovalError> {
        let mut ids = Vec::new();
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
                .expression_attribute_values(":c", s(PENDING))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.error("Query", &e))?;
            ids.extend(page.items().iter().filter_map(|i| {
                get_s(i, "pk")
                    .and_then(|pk| pk.strip_prefix("approval#"))
                    .and_then(|id| ApprovalId::new(id).ok())
            }));
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        // The index is eventually consistent: each request is read again, consistently.
        let mut pending = Vec::new();
        for id in ids {
            if let Some(request) = self.get(&id).await?
                && request.result.is_none()
            {
                pending.push(request);
            }
        }
        crate::store::approval::oldest_first(&mut pending);
        Ok(pending)
    }

    async fn decide(
        &self,
        id: &ApprovalId,
        decision: &Decision,
    ) -> Result<ApprovalRequest, ApprovalError> {
        let write = write_id();
        let updated = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .key("pk", s(Self::pk(id)))
            .key("sk", s(REQUEST))
            .update_expression("SET #d = :d, #w = :w")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#d)")
            .expression_attribute_names("#d", "decision")
            .expression_attribute_names("#w", "decision_write_id")
            .expression_attribute_values(":d", s(self.json(decision)?))
            .expression_attribute_values(":w", s(&write))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match updated {
            Ok(out) => match out.attributes {
                Some(item) => self.request_of(&item),
                None => self
                    .get(id)
                    .await?
                    .ok_or_else(|| ApprovalError::NotFound(id.clone())),
            },
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let returned = e.as_service_error().and_then(|e| match e {
                    UpdateItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                    _ => None,
                });
                let item = match returned {
                    Some(item) => Some(item),
                    None => self.read(id).await?,
                };
                let Some(item) = item else {
                    return Err(ApprovalError::NotFound(id.clone()));
                };
                let request = self.request_of(&item)?;
                // The SDK retried our own decision after it had succeeded.
                if get_s(&item, "decision_write_id") == Some(write.as_str()) {
                    return Ok(request);
                }
                match request.decision {
                    Some(earlier) => Err(ApprovalError::AlreadyDecided {
                        id: id.clone(),
                        decision: Box::new(earlier),
                    }),
                    None => Err(self.invalid(&"the decision was refused but none is recorded")),
                }
            }
            Err(e) => Err(self.error("UpdateItem", &e)),
        }
    }

    async fn finish(&self, id: &ApprovalId, result: &str) -> Result<(), ApprovalError> {
        let updated = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .key("pk", s(Self::pk(id)))
            .key("sk", s(REQUEST))
            .update_expression("SET #r = :r REMOVE #c")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#r", "result")
            .expression_attribute_names("#c", CLAIMS_PK)
            .expression_attribute_values(":r", s(result))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(ApprovalError::NotFound(id.clone()))
            }
            Err(e) => Err(self.error("UpdateItem", &e)),
        }
    }
}
