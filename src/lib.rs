#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! The crate root holds the names most programs write; the details live in the modules, in the
//! order the data flows:
//!
//! | module | what it is for |
//! | --- | --- |
//! | [`finding`] | the typed [`Finding`], read from every shape GuardDuty findings arrive in |
//! | [`enrich`] | what is known about the finding's principal before deciding: [`Enricher`]s and their [`enrich::Context`] |
//! | [`plan`] | the self-contained, serializable plan: the finding's context, typed actions, and the one table of built-in kinds ([`plan::kinds`]) |
//! | [`config`] | the configuration file, one module per section, each checking itself |
//! | [`policy`] | rhai policies: load, validate, sandbox and evaluate them into a [`Plan`] |
//! | [`action`] | executors: the [`Executor`] trait, outcomes, routers, in-memory twins, wrappers |
//! | [`store`] | what outlives a call: ledger, audit trail, approvals, shared state, with their memory and file backends |
//! | [`remediate`] | carrying a plan out: guards, carry, limits, the [`Remediator`] |
//! | [`aws`] | (feature `aws`) executors and enrichers on the official AWS SDK, the stores on DynamoDB |
//! | [`pipeline`] | the front door ([`Pipeline`]) and its one assembly from a configuration ([`pipeline::Assembly`]) |
//! | [`lambda`] | (feature `lambda`) the AWS Lambda entry point: SQS batches and EventBridge events |
//! | [`testing`] | decision tests and fixtures for policy authors and embedders |
//! | [`id`] | identifier newtypes validated at the boundary |
//!
//! # Layering
//!
//! Each module uses only modules below it, in this order from the bottom: `id`, `glob` and the
//! clock; `finding`; `plan` and `enrich`; `config`; `policy` and `action`; `store`; `remediate`;
//! `testing` and `aws`; `pipeline`; `lambda`. Modules of one layer know nothing of each other:
//! `policy` decides and never acts, executors know no guards, `remediate` knows no backend. No
//! module imports the crate root's re-exports. A test (`tests/it/layering.rs`) reads every
//! `crate::` path of the library and keeps these rules true.
//!
//! # Features
//!
//! - `aws` (default): the SDK executors and the DynamoDB state backends under [`aws`].
//! - `cli` (default): the `remedy` binary and its dependencies.
//! - `sqs`: `remedy worker`, which long-polls an SQS queue (brings `aws`).
//! - `lambda`: [`lambda`] and the `remedy-lambda` binary (brings `aws`).

pub mod action;
#[cfg(feature = "aws")]
pub mod aws;
mod clock;
pub mod config;
pub mod enrich;
pub mod finding;
mod glob;
pub mod id;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod notify;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod remediate;
pub mod replay;
#[cfg(feature = "chat")]
pub mod serve;
pub mod store;
pub mod testing;

pub use action::{
    ActionError, ActionRequest, ErrorKind, Executor, ExecutorExt, Outcome, Router, Status,
};
pub use async_trait::async_trait;
pub use config::{Config, ConfigError};
pub use enrich::{Enricher, Enrichers};
pub use finding::{Finding, FindingError, FindingType, Severity, parse_documents};
pub use pipeline::{Delivery, Disposition, Pipeline, Policies, Unroutable};
pub use plan::{Action, ActionKind, Plan, PlannedAction};
pub use policy::{HostActionKind, PolicyError, PolicySet, PolicyStore};
pub use remediate::{Remediator, Report};
