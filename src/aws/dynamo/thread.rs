//! The parents of notification threads in the `[state]` table.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;

use super::{StateTable, TTL, get_s, n, s};
use crate::store::state::StateError;
use crate::store::thread::{ThreadKey, ThreadStore};

const THREAD: &str = "thread";
/// How long a thread's parent is kept: a finding updated after 90 days starts a new thread.
const KEEP_SECS: u64 = 90 * 86_400;

/// Thread parents in a DynamoDB table (`pk = "thread"`, `sk` = the key's digest), shared by every
/// worker: the first parent is written with `attribute_not_exists`, so of two workers posting the
/// first message at once one parent is kept, and both reply to it afterwards.
#[derive(Debug, Clone)]
pub struct DynamoThreads {
    table: StateTable,
}

impl DynamoThreads {
    /// The threads in `table`.
    pub fn new(table: StateTable) -> Self {
        Self { table }
    }

    async fn read(&self, key: &ThreadKey) -> Result<Option<String>, StateError> {
        let out = self
            .table
            .client()
            .get_item()
            .table_name(self.table.name())
            .key("pk", s(THREAD))
            .key("sk", s(key.digest()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.table.error("GetItem", &e))?;
        Ok(out
            .item
            .as_ref()
            .and_then(|item| get_s(item, "parent"))
            .map(str::to_owned))
    }
}

#[async_trait]
impl ThreadStore for DynamoThreads {
    async fn parent(&self, key: &ThreadKey) -> Result<Option<String>, StateError> {
        self.read(key).await
    }

    async fn set_parent(&self, key: &ThreadKey, parent: &str) -> Result<String, StateError> {
        let expires = crate::clock::now_secs().saturating_add(KEEP_SECS);
        let written = self
            .table
            .client()
            .put_item()
            .table_name(self.table.name())
            .item("pk", s(THREAD))
            .item("sk", s(key.digest()))
            .item("parent", s(parent))
            .item(TTL, n(expires))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match written {
            Ok(_) => Ok(parent.to_owned()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(PutItemError::is_conditional_check_failed_exception) =>
            {
                Ok(self.read(key).await?.unwrap_or_else(|| parent.to_owned()))
            }
            Err(e) => Err(self.table.error("PutItem", &e)),
        }
    }
}
