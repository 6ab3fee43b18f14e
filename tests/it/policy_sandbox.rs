//! Hostile and buggy policies: each is stopped with a typed error well under a second, and the
//! other policies of the same set still decide.
//!
//! Every case runs twice: with `decide` run in place (the default) and through rhai's `call_fn`.

use remedy::PolicySet;
use remedy::policy::{CallMode, PolicySetBuilder};

mod in_place {
    use super::*;

    fn builder() -> PolicySetBuilder {
        PolicySet::builder()
    }

    include!("policy_sandbox/cases.rs");
}

mod call_fn {
    use super::*;

    fn builder() -> PolicySetBuilder {
        PolicySet::builder().with_call_mode(CallMode::CallFn)
    }

    include!("policy_sandbox/cases.rs");
}
