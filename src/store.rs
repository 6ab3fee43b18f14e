//! Where remedy keeps what must outlive one call: the idempotency [`Ledger`], the [`AuditSink`],
//! the [`ApprovalStore`] and the [`StateStore`] (rate windows, circuit breaker, shared kill
//! switch).
//!
//! Each is a small dyn-compatible trait with an in-memory backend and, where one process on one
//! machine is enough, a file backend; the DynamoDB backends are in [`crate::aws`] (feature `aws`).
//! One conformance suite per trait, in [`crate::testing::conformance`], runs against every
//! backend, and can run against yours.
//!
//! | trait | in memory | files | DynamoDB |
//! | --- | --- | --- | --- |
//! | [`Ledger`] | [`MemoryLedger`] | [`FileLedger`] | `aws::DynamoLedger` |
//! | [`AuditSink`] | [`MemoryAudit`] | [`JsonLinesAudit`] | (the JSON Lines file, or the log) |
//! | [`ApprovalStore`] | [`MemoryApprovals`] | [`FileApprovals`] | `aws::DynamoApprovals` |
//! | [`StateStore`] | [`MemoryState`] | | `aws::DynamoState` |
//! | [`ThreadStore`] | [`MemoryThreads`] | [`FileThreads`] | `aws::DynamoThreads` |

pub mod approval;
pub mod audit;
pub mod ledger;
pub mod state;
pub mod thread;

pub use approval::{ApprovalError, ApprovalRequest, ApprovalStore, FileApprovals, MemoryApprovals};
pub use audit::{
    ActionRecord, AuditError, AuditRecord, AuditSink, JsonLinesAudit, MemoryAudit, TracingAudit,
    UnavailableAudit,
};
pub use ledger::{FileLedger, Ledger, LedgerError, LedgerKey, MemoryLedger};
pub use state::{MemoryState, StateError, StateStore};
pub use thread::{FileThreads, MemoryThreads, ThreadKey, ThreadStore};
