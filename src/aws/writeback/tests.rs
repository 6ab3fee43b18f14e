//! Tests of the write-back executor.
