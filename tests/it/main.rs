//! The integration tests that need no moto of their own (some run their AWS cases against moto
//! when `AWS_ENDPOINT_URL` is set), one module per former test file, in one test binary. Run one
//! module with `cargo test --test it policy_sandbox::`.
//!
//! All modules run in one process: no test sets an environment variable, changes the current
//! directory or installs a global subscriber; the `remedy` binary runs as a child process with its
//! environment and directory set on the command.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod approval;
mod approval_conformance;
mod approval_told;
mod audit_conformance;
mod audit_view;
mod author_guide;
#[cfg(feature = "aws")]
mod aws_faults;
mod bundled_policies;
mod channels;
mod chat_double;
mod cli_parse;
mod cli_policy;
mod cli_stream;
mod corpus;
mod crash_safety;
mod deploy_lint;
mod embedder;
mod enrich;
mod enricher_conformance;
mod executor_conformance;
mod finding_props;
mod findings;
mod findings_edge;
mod golden;
#[cfg(feature = "lambda")]
mod lambda_handler;
#[cfg(feature = "lambda")]
mod lambda_url;
mod lane;
mod layering;
mod ledger_conformance;
mod plan_roundtrip;
mod policy;
mod policy_compose;
mod policy_containment;
mod policy_fallback;
mod policy_hints;
mod policy_sandbox;
mod policy_script;
mod readme;
mod remediate;
mod replay;
mod runbooks;
mod sources;
mod state_conformance;
mod thread_conformance;
mod trust;
mod try_worker;
mod undo;
mod writeback_switch;
