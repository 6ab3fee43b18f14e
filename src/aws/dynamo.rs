//! The shared state in one DynamoDB table: [`DynamoLedger`] (the idempotency ledger) and
//! [`DynamoState`] (rate windows, the circuit breaker, the shared kill switch), both on a
//! [`StateTable`].
//!
//! # The table
//!
//! One table, on-demand, in the account and region remedy runs in. Keys: `pk` (string, partition)
//! and `sk` (string, sort); `ttl` (number, seconds since the Unix epoch) is its time-to-live
//! attribute; a sparse global secondary index `claims` (partition `claims_pk`, sort `pk`, keys
//! only) holds the unfinished claims and the unfinished approval requests (partition `approvals`).
//!
//! | item | `pk` | `sk` | attributes |
//! | --- | --- | --- | --- |
//! | ledger entry | `ledger#<account>#<sha-256 of the key>` | `entry` | `state` (`claimed`/`done`), `owner_run`, `claim_id`, `lease_expires` (claimed), `at`, `details` (done), `key`, `owner`, `finding`, `action` (JSON), `claims_pk` = `claims` (claimed), `ttl` |
//! | rate window | `rate#<kind>` or `rate#<kind>#<account>` | `<per_secs>#<window start>` | `count`, `ttl` (the window's end plus a day) |
//! | circuit breaker | `breaker` | `global` | `open_until`, `cause`, `at`, `by`, `trip_id`, `ttl` |
//! | kill switch | `stop` | `global` | `by`, `at`, `reason` |
//! | approval request | `approval#<id>` | `request` | `request` (JSON), `decision` (JSON, once decided), `result`, `write_id`, `decision_write_id`, `claims_pk` = `approvals` (until the result is recorded), `ttl` |
//!
//! Ledger entries are keyed by the finding's account (`-` when it names none), so the table of
//! an organization-wide deployment needs no new design. Every ledger entry expires `retain_days`
//! after its last write.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
    TimeToLiveStatus,
};

use super::error::{CallError, ServiceError, map_sdk_error};
use super::{AwsClients, AwsSettings};
use crate::action::ErrorKind;
use crate::config::Config;
use crate::store::state::{StateError, StateErrorKind};

mod approval;
mod ledger;
mod state;
mod thread;

pub use approval::DynamoApprovals;
pub use ledger::DynamoLedger;
pub use state::DynamoState;
pub use thread::DynamoThreads;

/// The time-to-live attribute.
pub(crate) const TTL: &str = "ttl";
/// The sparse index of unfinished claims.
pub(crate) const CLAIMS_INDEX: &str = "claims";
/// The partition of the claims index.
pub(crate) const CLAIMS_PK: &str = "claims_pk";

const DAY: u64 = 86_400;

/// An item: attribute name to value.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// The state table: a client, the table's name and how long finished entries are kept. Cheap to
/// clone; [`StateTable::ledger`] and [`StateTable::state`] share its client.
#[derive(Debug, Clone)]
pub struct StateTable {
    client: Client,
    name: String,
    retain_secs: u64,
}

/// What [`StateTable::init`] found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableInit {
    /// The table was created (with its time-to-live attribute enabled).
    Created,
    /// The table was there already (its time-to-live attribute is enabled now).
    Existed,
}

impl StateTable {
    /// The table `name`, with a client made from `settings` and the AWS environment (the SDK
    /// honours `AWS_ENDPOINT_URL_DYNAMODB` as well as `AWS_ENDPOINT_URL`); finished ledger
    /// entries are kept `retain_days`.
    pub async fn new(settings: &AwsSettings, name: impl Into<String>, retain_days: u64) -> Self {
        Self::from_clients(&settings.load().await, name, retain_days)
    }

    /// The table of `config`'s `[state]`, or `None` when it names none.
    pub async fn from_config(config: &Config, settings: &AwsSettings) -> Option<Self> {
        let name = config.state.dynamodb_table.as_ref()?;
        Some(Self::new(settings, name.clone(), config.state.retain_days).await)
    }

    pub(crate) fn from_clients(clients: &AwsClients, name: impl Into<String>, days: u64) -> Self {
        Self::from_client(Client::new(&clients.sdk), name, days)
    }

    pub(crate) fn from_client(client: Client, name: impl Into<String>, days: u64) -> Self {
        Self {
            client,
            name: name.into(),
            retain_secs: days.saturating_mul(DAY),
        }
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ledger in this table.
    pub fn ledger(&self) -> DynamoLedger {
        DynamoLedger::new(self.clone())
    }

    /// The approval requests in this table.
    pub fn approvals(&self) -> DynamoApprovals {
        DynamoApprovals::new(self.clone())
    }

    /// The rate windows, breaker and kill switch in this table.
    pub fn state(&self) -> DynamoState {
        DynamoState::new(self.clone())
    }

    /// The parents of notification threads in this table.
    pub fn threads(&self) -> DynamoThreads {
        DynamoThreads::new(self.clone())
    }

    /// Creates the table (on-demand billing, the `claims` index, time-to-live on `ttl`), waits
    /// until it is active and enables its time-to-live. A table that exists is fine: only its
    /// time-to-live is enabled if it is not.
    pub async fn init(&self) -> Result<TableInit, StateError> {
        let created = self.create().await?;
        self.wait_active().await?;
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(&self.name)
            .send()
            .await
            .map_err(|e| self.error("DescribeTimeToLive", &e))?;
        let status = ttl
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        if !matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            let spec = TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL)
                .build()
                .map_err(|e| invalid(&e))?;
            self.client
                .update_time_to_live()
                .table_name(&self.name)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|e| self.error("UpdateTimeToLive", &e))?;
        }
        Ok(created)
    }

    /// Creates the table; an existing table is [`TableInit::Existed`].
    async fn create(&self) -> Result<TableInit, StateError> {
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| invalid(&e))
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| invalid(&e))
        };
        let index = GlobalSecondaryIndex::builder()
            .index_name(CLAIMS_INDEX)
            .key_schema(key(CLAIMS_PK, KeyType::Hash)?)
            .key_schema(key("pk", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::KeysOnly)
                    .build(),
            )
            .build()
            .map_err(|e| invalid(&e))?;
        let created = self
            .client
            .create_table()
            .table_name(&self.name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute("pk")?)
            .attribute_definitions(attribute("sk")?)
            .attribute_definitions(attribute(CLAIMS_PK)?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(index)
            .send()
            .await;
        match created {
            Ok(_) => Ok(TableInit::Created),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                Ok(TableInit::Existed)
            }
            Err(e) => Err(self.error("CreateTable", &e)),
        }
    }

    /// Waits up to 5 minutes for the table to be active.
    async fn wait_active(&self) -> Result<(), StateError> {
        use aws_sdk_dynamodb::types::TableStatus;
        for _ in 0..300 {
            let described = self
                .client
                .describe_table()
                .table_name(&self.name)
                .send()
                .await
                .map_err(|e| self.error("DescribeTable", &e))?;
            if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        Err(StateError::new(
            StateErrorKind::Unavailable,
            format!("table `{}` is not active after 5 minutes", self.name),
        ))
    }

    /// When an item written now expires.
    pub(crate) fn retain_until(&self, now: u64) -> u64 {
        now.saturating_add(self.retain_secs)
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// An SDK error of `call` on this table, as a [`StateError`].
    pub(crate) fn error<E: ServiceError>(&self, call: &str, err: &CallError<E>) -> StateError {
        let mapped = map_sdk_error(call, err);
        let kind = match mapped.kind() {
            ErrorKind::Throttled => StateErrorKind::Throttled,
            ErrorKind::PermissionDenied => StateErrorKind::Denied,
            ErrorKind::InvalidInput => StateErrorKind::Invalid,
            _ => StateErrorKind::Unavailable,
        };
        let hint = if mapped.kind() == ErrorKind::NotFound {
            " (`remedy state init` creates the table)"
        } else {
            ""
        };
        StateError::new(
            kind,
            format!("table `{}`: {}{hint}", self.name, mapped.message()),
        )
    }
}

/// An item that cannot be encoded or read.
pub(crate) fn invalid(e: &dyn std::fmt::Display) -> StateError {
    StateError::new(StateErrorKind::Invalid, e.to_string())
}

/// A string attribute.
pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub(crate) fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The string attribute `name` of `item`.
pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

/// The number attribute `name` of `item`.
pub(crate) fn get_n(item: &Item, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// 16 hex digits unique to one write (the time, the process, a counter): tells a write of ours
/// that the SDK retried after it had succeeded from another's.
pub(crate) fn write_id() -> String {
    use sha2::{Digest, Sha256};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!(
        "{nanos}/{}/{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    Sha256::digest(seed.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests;
