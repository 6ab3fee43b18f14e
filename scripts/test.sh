#!/usr/bin/env bash
# Runs every test, the AWS executor tests included, against moto on loopback.
# Starts moto (scripts/moto.sh), exports the AWS environment pointing at it, runs
# `cargo test --all-targets` and the doctests (README examples), and stops moto on exit. A headless
# Chromium for the HTML report's test is installed when missing (scripts/browser.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/browser.sh
trap 'scripts/moto.sh stop' EXIT
# An assignment keeps moto.sh's exit status (an `eval "$(…)"` would not): a port taken by another
# server stops the run here, with moto.sh's message, not at the first use of AWS_ENDPOINT_URL.
MOTO_ENV="$(scripts/moto.sh start)"
eval "$MOTO_ENV"
echo "moto answers at $AWS_ENDPOINT_URL" >&2

# Four test threads on any machine: most moto tests wait (visibility timeouts, leases, child
# processes) rather than compute; measured on 2 cores, `--test moto` 93 s -> 68 s and `--test it`
# 26 s -> 16 s. RUST_TEST_THREADS set by the caller wins.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"

cargo test --all-targets --all-features "$@"
cargo test --doc --all-features "$@"
