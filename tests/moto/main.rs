//! The end-to-end tests against moto, one module per area, in one test binary. Each needs
//! `AWS_ENDPOINT_URL` (`scripts/test.sh` starts moto and sets it); without it every test says it
//! did not run and passes. Run one area with `cargo test --test moto accounts::`.
//!
//! The tests of all areas run in one process and at the same time: they name every IAM user,
//! role, table and queue with `common::unique`, and run `remedy` as a child process with its
//! environment set on the command, never on this process.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
#![cfg(feature = "aws")]

#[cfg(feature = "chat")]
#[path = "../it/chat_double.rs"]
#[allow(dead_code)]
mod chat_double;
mod common;
#[cfg(all(feature = "cli", feature = "sqs"))]
#[path = "../it/readme/transcript.rs"]
mod transcript;

#[cfg(feature = "cli")]
mod accounts;
#[cfg(feature = "cli")]
mod approval;
#[cfg(feature = "cli")]
mod aws;
#[cfg(feature = "cli")]
mod channels;
#[cfg(feature = "cli")]
mod containment;
#[cfg(feature = "cli")]
mod crash;
mod enrich;
#[cfg(all(feature = "cli", feature = "sqs"))]
mod readme;
mod runbooks;
#[cfg(all(feature = "cli", feature = "chat"))]
mod slack_approval;
#[cfg(feature = "cli")]
mod state;
#[cfg(feature = "sqs")]
mod worker;
#[cfg(all(feature = "sqs", feature = "cli"))]
mod worker_fleet;
#[cfg(feature = "cli")]
mod writeback;
