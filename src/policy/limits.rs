//! The sandbox limits every policy runs under.

use std::time::Duration;

/// The limits a policy runs under; every rhai limit is set explicitly from these values, so debug
/// and release builds behave the same (rhai's own defaults differ between them).
///
/// The defaults suit remediation policies, which read a finding and return a few actions: a policy
/// that needs more is almost certainly broken or hostile.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Wall-clock time one policy may take to decide on one finding (checked while it runs).
    pub deadline: Duration,
    /// Operations one policy may run per finding.
    pub max_operations: u64,
    /// Depth of nested function calls.
    pub max_call_levels: usize,
    /// Nesting depth of expressions at the top level of a script (never 0: 0 means unlimited).
    pub max_expr_depth: usize,
    /// Nesting depth of expressions inside functions (never 0: 0 means unlimited).
    pub max_function_expr_depth: usize,
    /// Length of a string, in bytes.
    pub max_string_size: usize,
    /// Length of an array.
    pub max_array_size: usize,
    /// Number of properties in an object map.
    pub max_map_size: usize,
    /// Variables alive at once.
    pub max_variables: usize,
    /// Functions a script may define.
    pub max_functions: usize,
    /// Modules a script may import.
    pub max_modules: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_millis(100),
            max_operations: 250_000,
            max_call_levels: 24,
            max_expr_depth: 48,
            max_function_expr_depth: 32,
            max_string_size: 64 * 1024,
            max_array_size: 10_000,
            max_map_size: 10_000,
            max_variables: 1_000,
            max_functions: 256,
            max_modules: 32,
        }
    }
}

impl Limits {
    /// Sets [`Limits::deadline`].
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets [`Limits::max_operations`].
    pub fn with_max_operations(mut self, operations: u64) -> Self {
        self.max_operations = operations;
        self
    }

    /// Sets [`Limits::max_call_levels`].
    pub fn with_max_call_levels(mut self, levels: usize) -> Self {
        self.max_call_levels = levels;
        self
    }

    /// Sets [`Limits::max_expr_depth`] and [`Limits::max_function_expr_depth`] (each at least 1).
    pub fn with_max_expr_depths(mut self, top_level: usize, in_functions: usize) -> Self {
        self.max_expr_depth = top_level.max(1);
        self.max_function_expr_depth = in_functions.max(1);
        self
    }

    /// Sets [`Limits::max_string_size`], [`Limits::max_array_size`] and [`Limits::max_map_size`].
    pub fn with_max_sizes(mut self, string: usize, array: usize, map: usize) -> Self {
        self.max_string_size = string.max(1);
        self.max_array_size = array.max(1);
        self.max_map_size = map.max(1);
        self
    }

    /// Sets [`Limits::max_variables`], [`Limits::max_functions`] and [`Limits::max_modules`].
    pub fn with_max_counts(mut self, variables: usize, functions: usize, modules: usize) -> Self {
        self.max_variables = variables;
        self.max_functions = functions;
        self.max_modules = modules;
        self
    }
}
